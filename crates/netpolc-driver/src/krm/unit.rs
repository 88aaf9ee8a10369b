//! The intent items as the compiler reads them (one source file per package file), and
//! compiler diagnostics mapped back to items and field paths.

use super::*;

/// The intent documents as the compiler reads them: one source file per package file.
pub(super) struct Unit {
    pub(super) loaded: load::Loaded,
    /// Per source file: the documents' trees (for field paths) and their items.
    pub(super) files: BTreeMap<FileId, (Vec<Node>, Vec<usize>)>,
    /// The intent items, by index (for resourceRef and file); the others are not copied.
    pub(super) items: BTreeMap<usize, Value>,
}

impl Unit {
    pub(super) fn new(items: &[Item], intents: &[usize]) -> Unit {
        let mut by_file: BTreeMap<String, Vec<(u64, usize)>> = BTreeMap::new();
        let null = Value::Null;
        let value = |i: usize| items[i].value.as_ref().unwrap_or(&null);
        for &i in intents {
            let v = value(i);
            let name = item_path(v).unwrap_or_else(|| format!("items[{i}]"));
            let index = item_index(v).unwrap_or(u64::MAX);
            by_file.entry(name).or_default().push((index, i));
        }
        let mut loaded = load::Loaded::default();
        let mut files = BTreeMap::new();
        for (name, mut docs) in by_file {
            docs.sort();
            let mut text = String::new();
            for &(_, i) in &docs {
                text.push_str("---\n");
                text.push_str(&emit::to_yaml(&strip_orchestration(value(i))));
            }
            let id = loaded.sources.add(name.clone(), text.clone());
            let trees = yaml::load(id, text.as_bytes(), &Limits::default()).unwrap_or_default();
            files.insert(id, (trees, docs.iter().map(|&(_, i)| i).collect()));
            loaded.files.push(load::File {
                id,
                name,
                bytes: text.into_bytes(),
            });
        }
        Unit {
            loaded,
            files,
            items: intents.iter().map(|&i| (i, value(i).clone())).collect(),
        }
    }

    /// A compiler or back-end diagnostic as a result: the item it points into, and the
    /// field path inside it.
    pub(super) fn finding(&self, d: &Diagnostic) -> Finding {
        let mut f = Finding {
            severity: d.severity,
            code: d.code,
            message: d.message.clone(),
            notes: d.notes.clone(),
            help: d.help.clone(),
            resource: None,
            file: d.file.clone().map(|p| (p, None)),
            field: None,
        };
        if let Some(span) = d.primary_span() {
            if let Some((trees, docs)) = self.files.get(&span.file) {
                let found = trees
                    .iter()
                    .zip(docs)
                    .find(|(t, _)| contains(t.span, span.start));
                if let Some((tree, &i)) = found {
                    if let Some(item) = self.items.get(&i) {
                        f = f.at(item);
                    }
                    if f.file.is_none() {
                        f.file = Some((format!("items[{i}]"), None));
                    }
                    let mut path = String::new();
                    field_path(tree, span.start, &mut path);
                    f.field = (!path.is_empty()).then_some(path);
                } else {
                    f.file = Some((self.loaded.sources.get(span.file).name().to_string(), None));
                }
            }
        }
        f
    }
}

pub(super) fn contains(span: Span, offset: u32) -> bool {
    span.start <= offset && (offset < span.end || offset == span.start)
}

/// Appends the path (`spec.intents[0].to`) of the innermost node at `offset`.
pub(super) fn field_path(node: &Node, offset: u32, path: &mut String) {
    if let Some(entries) = node.as_map() {
        for (k, v) in entries {
            let key_hit = contains(k.span, offset);
            if key_hit || contains(v.span, offset) {
                let key = k.as_str().unwrap_or("");
                if key.contains(['.', '[', ']']) || key.is_empty() {
                    let _ = write!(path, "[{}]", serde_json::to_string(key).unwrap_or_default());
                } else {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                if !key_hit {
                    field_path(v, offset, path);
                }
                return;
            }
        }
    } else if let Some(items) = node.as_seq() {
        for (i, it) in items.iter().enumerate() {
            if contains(it.span, offset) {
                let _ = write!(path, "[{i}]");
                field_path(it, offset, path);
                return;
            }
        }
    }
}
