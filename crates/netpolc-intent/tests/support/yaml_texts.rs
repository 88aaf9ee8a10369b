//! YAML texts for the tests of the fast readers (included by
//! `crates/netpolc-intent/tests/quick_nodes.rs` and
//! `crates/netpolc-driver/tests/quick_read.rs`): the `.yaml` files under a folder, and
//! random edits of a text (characters inserted, deleted or replaced by ones that change
//! what YAML means; whole lines duplicated, deleted, swapped, indented or dedented).

use proptest::prelude::*;
use std::path::{Path, PathBuf};

/// Adds the `.yaml` files under `dir`, recursively, to `out`.
pub(crate) fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "yaml") {
            out.push(path);
        }
    }
}

/// One edit of a text.
#[derive(Clone, Debug)]
pub(crate) enum Edit {
    Insert(usize, char),
    Delete(usize),
    Replace(usize, char),
    DuplicateLine(usize),
    DeleteLine(usize),
    SwapLines(usize),
    Indent(usize, usize),
    Dedent(usize),
}

/// An edit, its characters taken from `significant`.
pub(crate) fn edit(significant: &'static [char]) -> impl Strategy<Value = Edit> {
    let at = any::<usize>();
    let c = prop::sample::select(significant);
    prop_oneof![
        3 => (at, c.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
        2 => at.prop_map(Edit::Delete),
        3 => (at, c).prop_map(|(i, c)| Edit::Replace(i, c)),
        1 => at.prop_map(Edit::DuplicateLine),
        1 => at.prop_map(Edit::DeleteLine),
        1 => at.prop_map(Edit::SwapLines),
        1 => (at, 1usize..5).prop_map(|(i, n)| Edit::Indent(i, n)),
        1 => at.prop_map(Edit::Dedent),
    ]
}

/// `text` with the edit `e` made (positions taken modulo the text's length).
pub(crate) fn apply(text: &str, e: &Edit) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let n = chars.len().max(1);
    let l = lines.len().max(1);
    match *e {
        Edit::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
        Edit::Delete(i) if !chars.is_empty() => {
            chars.remove(i % n);
        }
        Edit::Replace(i, c) if !chars.is_empty() => chars[i % n] = c,
        Edit::DuplicateLine(i) if !lines.is_empty() => {
            let line = lines[i % l].clone();
            lines.insert(i % l, line);
            return lines.concat();
        }
        Edit::DeleteLine(i) if !lines.is_empty() => {
            lines.remove(i % l);
            return lines.concat();
        }
        Edit::SwapLines(i) if lines.len() > 1 => {
            let i = i % (lines.len() - 1);
            lines.swap(i, i + 1);
            return lines.concat();
        }
        Edit::Indent(i, k) if !lines.is_empty() => {
            lines[i % l].insert_str(0, &" ".repeat(k));
            return lines.concat();
        }
        Edit::Dedent(i) if !lines.is_empty() => {
            let line = &mut lines[i % l];
            if line.starts_with(' ') {
                line.remove(0);
            }
            return lines.concat();
        }
        _ => {}
    }
    chars.into_iter().collect()
}
