//! The `ResourceList`: read as a stream, one item at a time; items kept as their text
//! and a digest; the output assembled and read back item by item.

use super::*;

/// One input item. Only intent documents are kept whole; every other item is kept as its
/// text and a digest of its content, so that memory stays a small multiple of the input.
#[derive(Clone, Debug)]
pub(super) struct Item {
    /// The item as a sequence entry at column 0 (`- ...`): cut out of the input (comments
    /// included) when that reads back alone as the same item, re-serialised otherwise.
    pub(super) text: Text,
    /// Whether a generated-file header comment precedes the item.
    pub(super) header: bool,
    /// A digest of the item's content (its JSON form), for the read-back check.
    pub(super) digest: u64,
    /// The item's file in the package (from the path annotations).
    pub(super) path: Option<String>,
    /// Whether the item carries `app.kubernetes.io/managed-by: netpolc`.
    pub(super) managed: bool,
    /// A digest of the item's identity as `kubectl apply` sees it ([`verify::identity`]),
    /// to find items that share one with a generated object without reading them again.
    pub(super) identity: u64,
    /// The targets (bits in [`Target::ALL`]'s order) whose back end enforces the item as
    /// a network policy (a kind named `…NetworkPolicy` that it reads).
    pub(super) policy_for: u8,
    /// The whole item, for intent documents (`netpolc.dev/v1alpha1`, not the config).
    pub(super) value: Option<Value>,
}

/// Where an item's text is.
#[derive(Clone, Debug)]
pub(super) enum Text {
    /// A byte range of the input that is already an entry at column 0.
    Input(usize, usize),
    /// Text of its own (dedented or re-serialised).
    Owned(String),
}

impl Item {
    /// Whether netpolc generated the item (for some target and folder): it has the
    /// generated-file header or the managed-by label.
    pub(super) fn generated(&self) -> bool {
        self.header || self.managed
    }

    /// The item for a message: its file, kind, namespace and name
    /// (`` `extra/np.yaml`: NetworkPolicy `shop/web` ``), from its content `value`.
    pub(super) fn named(&self, value: &Value) -> String {
        let (_, kind, namespace, name) = verify::identity_ref(value);
        let file = self
            .path
            .as_deref()
            .map(|p| format!("`{p}`: "))
            .unwrap_or_default();
        if namespace.is_empty() {
            format!("{file}{kind} `{name}`")
        } else {
            format!("{file}{kind} `{namespace}/{name}`")
        }
    }

    pub(super) fn text<'t>(&'t self, input: &'t str) -> &'t str {
        match &self.text {
            Text::Input(a, b) => input.get(*a..*b).unwrap_or(""),
            Text::Owned(s) => s,
        }
    }

    /// The item's content, read back from its text (exact: the text was checked to read
    /// back as the item when the input was read).
    pub(super) fn value_in(&self, input: &str) -> Value {
        if let Some(v) = &self.value {
            return v.clone();
        }
        read_entry(self.text(input)).unwrap_or(Value::Null)
    }
}

pub(super) struct ResourceList<'a> {
    pub(super) input: &'a str,
    pub(super) api_version: String,
    pub(super) items: Vec<Item>,
    pub(super) function_config: Option<Value>,
}

/// The loader's limits for a whole package: larger files and more nodes than one intent
/// file, and scalars up to the size of a ConfigMap (1 MiB), which bounds the parser's
/// read-ahead at 2 MiB. The intents themselves are compiled with the default limits.
pub(super) fn input_limits() -> Limits {
    Limits {
        max_file_size: MAX_INPUT_BYTES,
        max_nodes: 4_000_000,
        max_scalar_len: 1 << 20,
        max_lookahead: 2 << 20,
        ..Limits::default()
    }
}

/// A digest of a value's content: equal values have equal digests (the JSON text is
/// canonical: object keys are sorted).
pub(super) fn digest(value: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.to_string().hash(&mut h);
    h.finish()
}

/// A digest of the identity of `value` ([`verify::identity`]).
pub(super) fn identity_digest(value: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    verify::identity_ref(value).hash(&mut h);
    h.finish()
}

/// The targets (bits in [`Target::ALL`]'s order) whose back end enforces `value` as a
/// network policy.
pub(super) fn policy_targets(value: &Value) -> u8 {
    if !value["kind"]
        .as_str()
        .is_some_and(|k| k.ends_with("NetworkPolicy"))
    {
        return 0;
    }
    Target::ALL
        .iter()
        .enumerate()
        .filter(|(_, t)| t.backend().enforces(value))
        .fold(0, |bits, (i, _)| bits | 1 << i)
}

/// The one item of an entry's text (`- ...` at column 0), read as a sequence.
pub(super) fn read_entry(entry: &str) -> Option<Value> {
    let text = format!("items:\n{entry}");
    let docs = yaml::load(FileId(0), text.as_bytes(), &input_limits()).ok()?;
    let [root] = docs.as_slice() else {
        return None;
    };
    match root.get("items").and_then(Node::as_seq) {
        Some([item]) => Some(item.to_json()),
        _ => None,
    }
}

/// Reads the items of the `ResourceList` one at a time as the loader hands them over.
/// An item's extent is known when the next one starts, so one item waits.
pub(super) struct Reader<'a> {
    pub(super) input: &'a str,
    pub(super) items: Vec<Item>,
    /// The previous item, with its dash (line start and column), waiting for its end.
    pub(super) pending: Option<(Node, Option<(usize, usize)>)>,
    /// The column of the first dash: every entry must have it.
    pub(super) column: Option<usize>,
    /// Whether an item was not a mapping (reported after loading).
    pub(super) not_object: Option<usize>,
}

impl<'a> Reader<'a> {
    pub(super) fn push(&mut self, node: Node) {
        if node.as_map().is_none() && self.not_object.is_none() {
            self.not_object = Some(self.items.len() + usize::from(self.pending.is_some()));
        }
        let mut dash = dash_before(self.input, node.span.start as usize);
        if let (Some((line, col)), Some(first)) = (dash, self.column) {
            let after_previous = self
                .pending
                .as_ref()
                .and_then(|(_, d)| *d)
                .is_none_or(|(prev, _)| line > prev);
            if col != first || !after_previous {
                dash = None;
            }
        }
        if self.column.is_none() {
            self.column = dash.map(|(_, c)| c);
        }
        let next_line = dash.map(|(line, _)| line);
        if let Some((prev, prev_dash)) = self.pending.take() {
            let end = next_line.or_else(|| end_of_entry(self.input, prev.span.end as usize));
            self.finish(prev, prev_dash, end);
        }
        self.pending = Some((node, dash));
    }

    pub(super) fn close(&mut self) {
        if let Some((prev, dash)) = self.pending.take() {
            let end = end_of_entry(self.input, prev.span.end as usize);
            self.finish(prev, dash, end);
        }
    }

    /// Files one item: its text (verbatim when that reads back as the item), digest and
    /// metadata.
    pub(super) fn finish(&mut self, node: Node, dash: Option<(usize, usize)>, end: Option<usize>) {
        let value = node.to_json();
        let mut header = false;
        let mut text = None;
        if let (Some((start, column)), Some(end)) = (dash, end) {
            let at = start + column;
            header = self
                .input
                .get(at + 1..node.span.start as usize)
                .is_some_and(|t| t.trim_start().starts_with(golden::HEADER_PREFIX));
            if let Some(region) = self.input.get(start..end) {
                let cut = if column == 0 && region.ends_with('\n') {
                    Some(Text::Input(start, end))
                } else {
                    dedent(region, column).map(Text::Owned)
                };
                // An entry already at column 0 without aliases reads alone exactly as in
                // the input (the parser is in the same state at its dash); any other text
                // is read back first. The whole output is checked again at the end.
                text = cut.filter(|t| match t {
                    Text::Input(a, b) if !self.input[*a..*b].contains('*') => true,
                    Text::Input(a, b) => read_entry(&self.input[*a..*b]).as_ref() == Some(&value),
                    Text::Owned(s) => read_entry(s).as_ref() == Some(&value),
                });
            }
        }
        if text.is_none() {
            header = false;
        }
        let text = text.unwrap_or_else(|| Text::Owned(entry(&value, &[])));
        let intent = value["apiVersion"].as_str() == Some(INTENT_API_VERSION)
            && value["kind"].as_str() != Some(CONFIG_KIND);
        self.items.push(Item {
            text,
            header,
            digest: digest(&value),
            path: item_path(&value),
            managed: value["metadata"]["labels"][MANAGED_BY_LABEL].as_str() == Some("netpolc"),
            identity: identity_digest(&value),
            policy_for: policy_targets(&value),
            value: intent.then_some(value),
        });
    }
}

impl<'a> ResourceList<'a> {
    pub(super) fn parse(text: &'a str) -> Result<ResourceList<'a>, String> {
        let mut sources = netpolc_source::SourceMap::default();
        let id = sources.add("<ResourceList>", String::new());
        let mut reader = Reader {
            input: text,
            items: Vec::new(),
            pending: None,
            column: None,
            not_object: None,
        };
        // One line, not a rendered diagnostic: the finding is itself rendered.
        let loaded = yaml::load_streamed(id, text.as_bytes(), &input_limits(), "items", &mut |n| {
            reader.push(n)
        });
        reader.close();
        let docs = loaded.map_err(|d| {
            let at = d
                .primary_span()
                .map(|s| {
                    let (l, c) = line_col(text, s.start as usize);
                    format!(" at line {l}, column {c}")
                })
                .unwrap_or_default();
            format!("{} ({}){at}", d.message, d.code)
        })?;
        let [root] = docs.as_slice() else {
            return Err(format!(
                "expected one YAML document (a ResourceList), found {}",
                docs.len()
            ));
        };
        let kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
        let api_version = root.get("apiVersion").and_then(Node::as_str).unwrap_or("");
        if root.as_map().is_none() || kind != "ResourceList" {
            return Err(format!(
                "expected a ResourceList, found {}",
                describe(&root.to_json())
            ));
        }
        if !api_version.starts_with("config.kubernetes.io/") {
            return Err(format!(
                "`{api_version}` is not a ResourceList apiVersion (config.kubernetes.io/v1)"
            ));
        }
        match root.get("items") {
            None => {}
            Some(n) if n.is_null() || n.as_seq().is_some() => {}
            Some(_) => return Err("`items` of the ResourceList is not a list".into()),
        }
        if let Some(i) = reader.not_object {
            return Err(format!("items[{i}] of the ResourceList is not an object"));
        }
        let function_config = root
            .get("functionConfig")
            .filter(|n| !n.is_null())
            .map(Node::to_json);
        Ok(ResourceList {
            input: text,
            api_version: api_version.to_string(),
            items: reader.items,
            function_config,
        })
    }

    /// Passes every item through unchanged and reports the findings.
    pub(super) fn fail(&self, findings: Vec<Finding>, exit_code: u8) -> FnOutput {
        let texts: Vec<&str> = self.items.iter().map(|i| i.text(self.input)).collect();
        let digests: Vec<u64> = self.items.iter().map(|i| i.digest).collect();
        self.finish(&texts, &digests, findings, exit_code)
    }

    /// Assembles the output and checks, item by item as it is read back, that it holds
    /// exactly the expected items.
    pub(super) fn finish(
        &self,
        items: &[&str],
        digests: &[u64],
        mut findings: Vec<Finding>,
        exit_code: u8,
    ) -> FnOutput {
        let fc = self.function_config.as_ref();
        let text = assemble(&self.api_version, items, fc, &findings);
        if reads_back(&text, digests) {
            return FnOutput {
                stdout: text,
                stderr: human(&findings),
                exit_code,
            };
        }
        findings.retain(|f| f.code != codes::SUMMARY);
        findings.push(Finding::error(
            codes::VALIDATION_FAILED,
            "internal error: the output does not read back as the expected items; nothing is changed",
        ));
        let text = assemble(&self.api_version, &[], fc, &findings);
        FnOutput {
            stdout: text,
            stderr: human(&findings),
            exit_code: BAD_INPUT,
        }
    }

    pub(super) fn generate(&self, config: &Config) -> FnOutput {
        let target = config.target;
        let prefix = format!("{}/{}/", config.golden, target.name());
        let mut findings = Vec::new();

        // Sort the items: previous output of this target (dropped), intents, the rest.
        let owned = |item: &Item| {
            item.path.as_deref().is_some_and(|p| p.starts_with(&prefix)) && item.generated()
        };
        let mut kept = Vec::new();
        let mut intents = Vec::new();
        let mut replaced = 0usize;
        for (i, item) in self.items.iter().enumerate() {
            if owned(item) {
                replaced += 1;
                continue;
            }
            kept.push(i);
            if item.value.is_some() && config.selects(item.path.as_deref()) {
                intents.push(i);
            }
        }

        // Compile and render.
        let unit = Unit::new(&self.items, &intents);
        let front = netpolc_intent::Options {
            default_namespace: config.namespace.clone(),
            namespace_source: Some("the functionConfig's `namespace`".to_string()),
        };
        let compiled = crate::compile_with(&unit.loaded, &front);
        findings.extend(compiled.diagnostics.iter().map(|d| unit.finding(d)));
        let Some(program) = compiled.program else {
            return self.fail(findings, BAD_INPUT);
        };
        if let Err(e) = crate::project::choose(&program, &[target]) {
            findings.push(
                Finding::error("NP7002", format!("invalid `functionConfig`: {e}"))
                    .help("pass `-- target=<one of the project's back ends>` to kpt"),
            );
            return self.fail(findings, BAD_INPUT);
        }
        let mut options = Options::default();
        options.calico.namespaced = config.calico_namespaced;
        options.cilium.sctp = config.cilium_sctp;
        // Render, identities and translation validation: `netpolc build`'s pipeline.
        let objects = match crate::pipeline::build(&program, &[target], &options) {
            Ok(built) => {
                findings.extend(built.diagnostics.iter().map(|d| unit.finding(d)));
                built
                    .rendered
                    .into_iter()
                    .flat_map(|(_, o)| o)
                    .collect::<Vec<_>>()
            }
            Err(failed) => {
                findings.extend(failed.diagnostics.iter().map(|d| unit.finding(d)));
                return match failed.failure {
                    crate::pipeline::Failure::Refused => self.fail(findings, BAD_INPUT),
                    crate::pipeline::Failure::Disagreed(disagreements) => {
                        for d in disagreements {
                            findings.push(
                                Finding::error(
                                    codes::DISAGREEMENT,
                                    format!(
                                        "{} does not mean what the intents say for {}",
                                        d.target, d.flow
                                    ),
                                )
                                .note(format!("intents: {}", d.intended))
                                .note(format!("{}: {}", d.target, d.emitted)),
                            );
                        }
                        self.fail(findings, FINDINGS)
                    }
                    crate::pipeline::Failure::Internal(e) => {
                        findings.push(Finding::error(
                            codes::VALIDATION_FAILED,
                            format!("translation validation could not run: {e}"),
                        ));
                        self.fail(findings, BAD_INPUT)
                    }
                };
            }
        };
        if objects.is_empty() && !config.allow_empty {
            findings.push(
                Finding::error(
                    codes::NOTHING_RENDERED,
                    format!("the intents render no {target} object"),
                )
                .note(format!(
                    "{} of the {} items are intent documents ({INTENT_API_VERSION}){}",
                    intents.len(),
                    self.items.len(),
                    if config.policies.is_empty() {
                        String::new()
                    } else {
                        {
                            let texts: Vec<&str> =
                                config.policies.iter().map(|p| p.text.as_str()).collect();
                            format!(" selected by policies={}", texts.join(","))
                        }
                    }
                ))
                .help("set `allow-empty` to `true` in the function config if that is intended"),
            );
            return self.fail(findings, BAD_INPUT);
        }

        // The generated files, exactly as `netpolc build` writes them.
        let mut generated = Vec::new();
        for (rel, text) in golden::files(target, &objects) {
            let path = format!("{}/{rel}", config.golden);
            let (header, body) = split_header(&text);
            match verify::parse_yaml(&path, body) {
                Ok(docs) if !docs.is_empty() => {
                    // A multi-document file: one item per document, the header comment
                    // on the first, as kpt writes them back.
                    for (index, mut value) in docs.into_iter().enumerate() {
                        set_path(&mut value, &path, index);
                        let h = if index == 0 { header } else { "" };
                        generated.push((path.clone(), h.to_string(), value));
                    }
                }
                Ok(_) | Err(_) => {
                    findings.push(Finding::error(
                        codes::VALIDATION_FAILED,
                        format!("internal error: `{path}` does not read back as objects"),
                    ));
                    return self.fail(findings, BAD_INPUT);
                }
            }
        }
        for &i in &kept {
            let item = &self.items[i];
            if let Some(p) = &item.path {
                if generated.iter().any(|(g, _, _)| g == p) {
                    let v = &item.value_in(self.input);
                    findings.push(
                        Finding::error(
                            codes::FOREIGN_ITEM,
                            format!("`{p}` holds {}, which netpolc did not generate", describe(v)),
                        )
                        .at(v)
                        .help(format!("move it out of `{prefix}`, or choose another folder with the `golden` option")),
                    );
                }
            }
        }
        // An item of the package that shares its identity with a generated object: applied
        // together (`kpt live apply`, a directory applied whole), one silently replaces the
        // other, and what the proof checked is not what runs. Other targets' output is an
        // alternative to this target's, not applied beside it.
        let identities: std::collections::HashMap<u64, (&str, &Value)> = generated
            .iter()
            .map(|(path, _, v)| (identity_digest(v), (path.as_str(), v)))
            .collect();
        let mut taken = std::collections::HashSet::new();
        for &i in &kept {
            let item = &self.items[i];
            if item.generated() {
                continue;
            }
            let Some((path, object)) = identities.get(&item.identity) else {
                continue;
            };
            let v = item.value_in(self.input);
            if verify::identity_ref(&v) != verify::identity_ref(object) {
                continue;
            }
            taken.insert(i);
            findings.push(
                Finding::error(
                    codes::IDENTITY_TAKEN,
                    format!(
                        "{} has the identity of an object netpolc generates in `{path}`",
                        item.named(&v)
                    ),
                )
                .note("applied together, one would silently replace the other")
                .at(&v)
                .help("rename or remove the item, or leave its namespace out of the intents"),
            );
        }
        // A hand-written policy of a kind this target enforces, where the intents manage
        // the pods: applied beside the generated objects, it changes what they allow.
        let bit = Target::ALL.iter().position(|t| *t == target).unwrap_or(0);
        for &i in &kept {
            let item = &self.items[i];
            if item.generated() || item.policy_for & (1 << bit) == 0 || taken.contains(&i) {
                continue;
            }
            let v = item.value_in(self.input);
            let namespace = v["metadata"]["namespace"].as_str().unwrap_or("");
            let place = if namespace.is_empty() {
                "is cluster-wide".to_string()
            } else if program.namespaces.contains_key(namespace) {
                format!("is in namespace `{namespace}`, which the intents manage")
            } else {
                continue;
            };
            findings.push(
                Finding::warning(
                    codes::FOREIGN_POLICY,
                    format!("{}, which netpolc did not generate, {place}", item.named(&v)),
                )
                .note(format!(
                    "applied with the generated {target} objects it changes what they allow; the proof covers only what netpolc generates"
                ))
                .at(&v)
                .help("write it as an intent, or keep it out of the package"),
            );
        }
        if findings.iter().any(|f| f.severity == Severity::Error) {
            return self.fail(findings, BAD_INPUT);
        }
        findings.push(Finding::info(
            codes::SUMMARY,
            format!(
                "rendered {} {target} object(s) from {} intent document(s) into `{prefix}` ({replaced} replaced)",
                objects.len(),
                intents.len(),
            ),
        ));

        let generated: Vec<(String, u64)> = generated
            .into_iter()
            .map(|(_, h, v)| (entry(&v, &header_lines(&h)), digest(&v)))
            .collect();
        let mut texts: Vec<&str> = kept
            .iter()
            .map(|&i| self.items[i].text(self.input))
            .collect();
        texts.extend(generated.iter().map(|(t, _)| t.as_str()));
        let mut digests: Vec<u64> = kept.iter().map(|&i| self.items[i].digest).collect();
        digests.extend(generated.iter().map(|(_, d)| *d));
        self.finish(&texts, &digests, findings, SUCCESS)
    }
}

/// Splits the leading comment lines (the generated-file header) from the YAML body.
pub(super) fn split_header(text: &str) -> (&str, &str) {
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        if !line.starts_with('#') {
            break;
        }
        end += line.len();
    }
    text.split_at(end)
}

pub(super) fn header_lines(header: &str) -> Vec<&str> {
    header.lines().collect()
}

/// Adds kpt's path and index annotations to a generated object.
pub(super) fn set_path(value: &mut Value, path: &str, index: usize) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(a) = annotations.as_object_mut() {
        a.insert(PATH_ANNOTATION.into(), path.into());
        a.insert(INTERNAL_PATH_ANNOTATION.into(), path.into());
        a.insert(INDEX_ANNOTATION.into(), index.to_string().into());
        a.insert(INTERNAL_INDEX_ANNOTATION.into(), index.to_string().into());
    }
}

/// An item re-serialised as a sequence entry at column 0, after `comments`.
pub(super) fn entry(value: &Value, comments: &[&str]) -> String {
    let mut lines: Vec<String> = comments.iter().map(|c| c.to_string()).collect();
    lines.extend(emit::to_yaml(value).lines().map(str::to_string));
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let lead = if i == 0 { "- " } else { "  " };
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{lead}{line}");
        }
    }
    out
}

/// The whole output document.
pub(super) fn assemble(
    api_version: &str,
    items: &[&str],
    fc: Option<&Value>,
    findings: &[Finding],
) -> String {
    let mut out = format!(
        "apiVersion: {}\nkind: ResourceList\n",
        emit::to_yaml(&Value::String(api_version.to_string())).trim_end()
    );
    if items.is_empty() {
        out.push_str("items: []\n");
    } else {
        out.push_str("items:\n");
        for i in items {
            out.push_str(i);
        }
    }
    if let Some(fc) = fc {
        out.push_str("functionConfig:");
        match fc {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                for line in emit::to_yaml(fc).lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
            other => {
                let _ = writeln!(out, " {}", emit::to_yaml(other).trim_end());
            }
        }
    }
    if !findings.is_empty() {
        let results = Value::Array(findings.iter().map(Finding::to_json).collect());
        out.push_str("results:\n");
        out.push_str(&emit::to_yaml(&results));
    }
    out
}

/// Whether `text` is a ResourceList whose items have exactly the digests `expected`, read
/// back one item at a time.
pub(super) fn reads_back(text: &str, expected: &[u64]) -> bool {
    let mut seen = 0usize;
    let mut same = true;
    let loaded = yaml::load_streamed(
        FileId(0),
        text.as_bytes(),
        &input_limits(),
        "items",
        &mut |n| {
            same &= expected.get(seen) == Some(&digest(&n.to_json()));
            seen += 1;
        },
    );
    matches!(loaded.as_deref(), Ok([_])) && same && seen == expected.len()
}

/// The 1-based line and column (in characters) of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// The start of the line holding the `-` of the entry whose node starts at `start`, and
/// the dash's column.
pub(super) fn dash_before(text: &str, start: usize) -> Option<(usize, usize)> {
    let mut line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
    let prefix = &text[line_start..start];
    let spaces = prefix.len() - prefix.trim_start_matches(' ').len();
    let rest = &prefix[spaces..];
    if let Some(after) = rest.strip_prefix('-') {
        return (!after.is_empty() && after.chars().all(|c| c == ' '))
            .then_some((line_start, spaces));
    }
    if !rest.is_empty() {
        return None;
    }
    // The node starts on its own line: the dash is on an earlier line, followed only by
    // blanks and comments.
    while line_start > 0 {
        let prev_start = text[..line_start - 1].rfind('\n').map_or(0, |i| i + 1);
        let line = text[prev_start..line_start - 1].trim_end_matches('\r');
        let body = line.trim_start_matches(' ');
        line_start = prev_start;
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let after = body.strip_prefix('-')?;
        let ok = after.is_empty()
            || (after.starts_with(' ') && {
                let a = after.trim_start();
                a.is_empty() || a.starts_with('#')
            });
        return ok.then_some((prev_start, line.len() - body.len()));
    }
    None
}

/// The end of the last entry: after the line holding its last byte, which may carry only
/// a comment after it.
pub(super) fn end_of_entry(text: &str, end: usize) -> Option<usize> {
    if end > 0 && text.as_bytes().get(end - 1) == Some(&b'\n') {
        return Some(end);
    }
    let rest = text.get(end..)?;
    let line_end = rest.find('\n').map_or(text.len(), |i| end + i + 1);
    let tail = text[end..line_end].trim();
    (tail.is_empty() || tail.starts_with('#')).then_some(line_end)
}

/// Removes `column` spaces from every line; blank and comment lines may have fewer.
pub(super) fn dedent(region: &str, column: usize) -> Option<String> {
    let mut out = String::with_capacity(region.len());
    for line in region.split_inclusive('\n') {
        let spaces = line.len() - line.trim_start_matches(' ').len();
        if spaces >= column {
            out.push_str(&line[column..]);
        } else {
            let body = &line[spaces..];
            if body.trim().is_empty() || body.starts_with('#') {
                out.push_str(body);
            } else {
                return None;
            }
        }
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Some(out)
}
