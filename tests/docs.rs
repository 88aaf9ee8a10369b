//! docs/diagnostics.md: every example renders exactly as documented.
//!
//! An example is a ```` ```yaml ```` block whose first line is `# example` (the front end
//! alone) or `# example: TARGET` (the front end, then that back end's check), followed by
//! a ```` ```text ```` block with the human rendering of its diagnostics (as
//! `netpolc render --target TARGET` prints them, without the summary line). The file is
//! named `policies/example.yaml`. `NETPOLC_BLESS_DOCS=1` rewrites the text blocks from
//! what netpolc prints (review the diff before committing it).

use netpolc_driver::{Options, Target};
use netpolc_source::SourceMap;
use std::collections::BTreeSet;

fn render(input: &str, target: Option<Target>) -> String {
    let mut sources = SourceMap::default();
    let id = sources.add("policies/example.yaml", input.to_string());
    let out = netpolc_intent::compile(
        &sources,
        &[netpolc_intent::InputFile {
            id,
            name: "policies/example.yaml",
            bytes: input.as_bytes(),
        }],
    );
    let mut diags = out.diagnostics;
    if let (Some(program), Some(t)) = (out.program, target) {
        let more = match netpolc_driver::render(&program, t, &Options::default()) {
            Ok(r) => r.diagnostics,
            Err(d) => d,
        };
        diags.extend(more.into_iter().map(|d| d.with_target(t.name())));
    }
    netpolc_source::render_human(&sources, &diags)
}

/// (code of the section, input, target, documented output, byte range of the output).
type Example = (
    String,
    String,
    Option<Target>,
    String,
    std::ops::Range<usize>,
);

fn examples(doc: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut code = String::new();
    let mut rest = 0;
    while let Some(start) = doc[rest..].find("```yaml\n# example") {
        let start = rest + start;
        if let Some(h) = doc[..start].rfind("\n### NP") {
            code = doc[h + 5..h + 11].to_string();
        }
        let body_start = start + "```yaml\n".len();
        let body_end = body_start + doc[body_start..].find("```\n").expect("closed yaml block");
        let body = &doc[body_start..body_end];
        let first = body.lines().next().unwrap_or("");
        let target = first.strip_prefix("# example:").map(|t| {
            Target::from_name(t.trim()).unwrap_or_else(|| panic!("bad target in {first}"))
        });
        let after = body_end + 4;
        let text_start = after
            + doc[after..]
                .find("```text\n")
                .unwrap_or_else(|| panic!("{code}: no text block after the example"))
            + "```text\n".len();
        let text_end = text_start + doc[text_start..].find("```\n").expect("closed text block");
        out.push((
            code.clone(),
            body.to_string(),
            target,
            doc[text_start..text_end].to_string(),
            text_start..text_end,
        ));
        rest = text_end;
    }
    out
}

#[test]
fn documented_examples_render_as_documented() {
    let path = crate::util::root().join("docs/diagnostics.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let all = examples(&doc);
    assert!(all.len() >= 30, "only {} examples", all.len());
    let bless = std::env::var_os("NETPOLC_BLESS_DOCS").is_some();
    let mut fixed = doc.clone();
    let mut failures = Vec::new();
    for (code, input, target, documented, range) in all.iter().rev() {
        let actual = render(input, *target);
        assert!(
            actual.contains(&format!("[{code}]")),
            "the example of {code} does not produce {code}:\n{actual}"
        );
        if &actual != documented {
            failures.push(format!(
                "{code}:\n--- documented\n{documented}\n--- actual\n{actual}"
            ));
            fixed.replace_range(range.clone(), &actual);
        }
    }
    if bless {
        std::fs::write(&path, fixed).unwrap();
        return;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_code_has_an_example_or_a_test() {
    let doc = std::fs::read_to_string(crate::util::root().join("docs/diagnostics.md")).unwrap();
    let with_example: BTreeSet<String> = examples(&doc).into_iter().map(|e| e.0).collect();
    let listed: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| NP"))
        .map(|l| format!("NP{}", &l[..4]))
        .collect();
    // Codes that need a file system, a golden folder, a test run or a ResourceList: their
    // examples are in the section "Shown by the test suite", each naming its test.
    let elsewhere: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("- `NP"))
        .map(|l| format!("NP{}", &l[..4]))
        .collect();
    let missing: Vec<_> = listed
        .iter()
        .filter(|c| !with_example.contains(*c) && !elsewhere.contains(*c))
        .collect();
    assert!(missing.is_empty(), "codes without an example: {missing:?}");
}
