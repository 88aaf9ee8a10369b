//! Output is deterministic to the byte: rendering twice, or with the input files read in
//! another order (and under other names), gives identical bytes.

use crate::util::{compile, render, root, stream};
use netpolc_driver::Target;
use std::path::PathBuf;

fn render_all(paths: &[PathBuf]) -> String {
    let (sources, program, diags) = compile(paths);
    let program = program.unwrap_or_else(|| panic!("{diags}"));
    Target::ALL
        .iter()
        .map(|t| stream(&render(&sources, &program, *t).unwrap()))
        .collect()
}

#[test]
fn twice_gives_identical_bytes() {
    let a = render_all(&[PathBuf::from("policies")]);
    let b = render_all(&[PathBuf::from("policies")]);
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn file_order_does_not_matter() {
    // The same documents, split over files whose names sort the other way round, and
    // with the documents of each file reversed.
    let files = [
        "production.yaml",
        "monitoring.yaml",
        "production-tests.yaml",
        "cluster-profile.yaml",
    ];
    let forward = render_all(
        &files
            .iter()
            .map(|f| PathBuf::from("policies").join(f))
            .collect::<Vec<_>>(),
    );
    let dir = std::env::temp_dir().join(format!("netpolc-order-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(root().join("policies").join(f)).unwrap();
        std::fs::write(dir.join(format!("{}-{f}", 9 - i)), text).unwrap();
    }
    let mut reversed: Vec<PathBuf> = files
        .iter()
        .enumerate()
        .map(|(i, f)| dir.join(format!("{}-{f}", 9 - i)))
        .collect();
    reversed.reverse();
    let backward = render_all(&reversed);
    // Provenance annotations name the files, so compare with the names mapped back.
    let mut mapped = backward.clone();
    for (i, f) in files.iter().enumerate() {
        // Files given outside the project are named from their own folder.
        mapped = mapped.replace(&format!("\"{}-{f}\"", 9 - i), &format!("policies/{f}"));
    }
    assert_eq!(forward, mapped);
    let _ = std::fs::remove_dir_all(&dir);
}
