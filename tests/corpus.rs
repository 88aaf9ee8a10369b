//! The case corpus: every valid case snapshotted through the IR and each back end (or the
//! back end's refusal), every invalid case as its rendered diagnostics.

use crate::util::{cases, compile, render, stem, stream};
use netpolc_driver::Target;

#[test]
fn valid_cases() {
    let all = cases("valid");
    assert!(all.len() >= 25, "the valid corpus has {} cases", all.len());
    for case in all {
        let name = stem(&case);
        let (sources, program, diags) = compile(std::slice::from_ref(&case));
        let program = program.unwrap_or_else(|| panic!("{name} must compile:\n{diags}"));
        assert!(!diags.contains("error["), "{name}: {diags}");
        let mut ir = netpolc_ir::explain::program(&program);
        if !diags.is_empty() {
            ir.push_str("diagnostics:\n");
            ir.push_str(&diags);
        }
        insta::assert_snapshot!(format!("{name}@ir"), ir);
        for t in Target::ALL {
            let text = match render(&sources, &program, t) {
                Ok(objects) => stream(&objects),
                Err(d) => format!("# refused by the {t} backend\n{d}"),
            };
            insta::assert_snapshot!(format!("{name}@{t}"), text);
        }
    }
}

#[test]
fn invalid_cases() {
    let all = cases("invalid");
    assert!(
        all.len() >= 15,
        "the invalid corpus has {} cases",
        all.len()
    );
    for case in all {
        let name = stem(&case);
        let (_, program, diags) = compile(std::slice::from_ref(&case));
        assert!(program.is_none(), "{name} must be rejected");
        assert!(diags.contains("error["), "{name}: {diags}");
        insta::assert_snapshot!(format!("{name}@diagnostics"), diags);
    }
}

#[test]
fn every_diagnostic_code_is_documented() {
    let docs = std::fs::read_to_string(crate::util::root().join("docs/diagnostics.md")).unwrap();
    let mut found = std::collections::BTreeSet::new();
    let mut stack = vec![
        crate::util::root().join("crates"),
        crate::util::root().join("src"),
    ];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                let b = text.as_bytes();
                for i in 0..b.len().saturating_sub(6) {
                    if b[i] == b'"'
                        && &b[i + 1..i + 3] == b"NP"
                        && b[i + 3..i + 7].iter().all(u8::is_ascii_digit)
                        && b.get(i + 7) == Some(&b'"')
                    {
                        found.insert(text[i + 1..i + 7].to_string());
                    }
                }
            }
        }
    }
    assert!(found.len() > 40, "{found:?}");
    let missing: Vec<_> = found
        .iter()
        .filter(|c| !docs.contains(&format!("| {c} |")))
        .collect();
    assert!(missing.is_empty(), "undocumented codes: {missing:?}");
}

#[test]
fn no_snapshot_is_orphaned() {
    // What `cargo insta test --unreferenced reject` would check: every stored snapshot
    // belongs to a case that still exists.
    let mut expected = std::collections::BTreeSet::new();
    for case in cases("valid") {
        let name = stem(&case);
        expected.insert(format!("tests__corpus__{name}@ir.snap"));
        for t in Target::ALL {
            expected.insert(format!("tests__corpus__{name}@{t}.snap"));
        }
    }
    for case in cases("invalid") {
        expected.insert(format!("tests__corpus__{}@diagnostics.snap", stem(&case)));
    }
    // Snapshots of other modules.
    expected.insert("tests__golden__seed-golden.snap".to_string());
    let dir = crate::util::root().join("tests/snapshots");
    let stored: std::collections::BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".snap"))
        .collect();
    let orphans: Vec<_> = stored.difference(&expected).collect();
    assert!(orphans.is_empty(), "orphaned snapshots: {orphans:?}");
}

/// Set `a` intent `b-c` and set `a-b` intent `c` (one namespace) gave one object name on
/// every back end (NP6011 since it was caught; before that the later object silently
/// replaced the earlier). The naming scheme now tells them apart by construction: the
/// whole pipeline (render, identities, proof) accepts them on every back end, with two
/// distinct names.
#[test]
fn hyphenated_set_and_intent_names_render_distinct_names_on_every_back_end() {
    let case = crate::util::root().join("tests/cases/valid/set-and-intent-names-with-hyphens.yaml");
    let (_, program, diags) = compile(std::slice::from_ref(&case));
    let program = program.unwrap_or_else(|| panic!("{diags}"));
    let built = netpolc_driver::pipeline::build(&program, &Target::ALL, &Default::default())
        .unwrap_or_else(|f| panic!("{:?}", f.diagnostics));
    for (t, objects) in &built.rendered {
        let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).collect();
        // Objects are named `<set>-<subject>-<direction>`, the set's hyphens doubled.
        for want in ["a-app-db-ingress", "a--b-app-db-ingress"] {
            assert_eq!(
                names.iter().filter(|n| **n == want).count(),
                1,
                "{t}: {want} in {names:?}"
            );
        }
    }
}

/// Capabilities are data that decide: each back end refuses a valid case using one
/// construct exactly when its declared `capabilities()` lack it (the one check,
/// `Capabilities::unsupported`, worded by each back end's own table of codes).
#[test]
fn back_ends_refuse_exactly_what_their_capabilities_lack() {
    use netpolc_ir::backend::Capabilities;
    type Has = fn(&Capabilities) -> bool;
    let constructs: [(&str, Has); 4] = [
        ("host-entity", |c| c.host),
        ("fqdn-egress", |c| c.fqdn),
        ("http-l7", |c| c.http),
        ("icmp", |c| c.icmp),
    ];
    let mut refusals = 0;
    for (case, has) in constructs {
        let path = std::path::PathBuf::from(format!("tests/cases/valid/{case}.yaml"));
        let (sources, program, diags) = compile(&[path]);
        let program = program.unwrap_or_else(|| panic!("{case}: {diags}"));
        for t in Target::ALL {
            let capable = has(&t.backend().capabilities());
            let result = render(&sources, &program, t);
            assert_eq!(result.is_ok(), capable, "{case} on {t}: {:?}", result.err());
            refusals += usize::from(!capable);
        }
    }
    assert!(refusals >= 4, "some back end lacks each construct");
}
