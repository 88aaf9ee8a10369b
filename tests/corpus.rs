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
    assert!(all.len() >= 15, "the invalid corpus has {} cases", all.len());
    for case in all {
        let name = stem(&case);
        let (_, program, diags) = compile(std::slice::from_ref(&case));
        assert!(program.is_none(), "{name} must be rejected");
        assert!(diags.contains("error["), "{name}: {diags}");
        insta::assert_snapshot!(format!("{name}@diagnostics"), diags);
    }
}
