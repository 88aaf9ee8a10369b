//! The exec KRM function behind `netpolc fn`, for kpt (`kpt fn eval --exec "netpolc fn"`)
//! and any other orchestrator that speaks the KRM function wire format.
//!
//! [`run`] is a pure function from the bytes of a `config.kubernetes.io/v1` `ResourceList`
//! to the bytes of another one, human-readable diagnostics and an exit code. It reads no
//! file, no clock and no environment variable, and its output depends only on its input.
//!
//! - **Options** come from `functionConfig`: a `ConfigMap` (`data:` with the keys
//!   `target`, `policies`, `namespace`, `golden`, `calico-namespaced`, `cilium-sctp` and
//!   `allow-empty`, as `kpt fn eval ... -- target=cilium` writes it) or a
//!   `netpolc.dev/v1alpha1` `NetpolcConfig` (the same options under `spec:`, in camelCase).
//!   Unknown keys are errors.
//! - **Intents** are the items with `apiVersion: netpolc.dev/v1alpha1` (except a
//!   `NetpolcConfig`) whose file, from the `internal.config.kubernetes.io/path` or
//!   `config.kubernetes.io/path` annotation, matches `policies` (every file by default).
//!   Documents are grouped by file and ordered by their `config.kubernetes.io/index`, and
//!   compiled as `netpolc build` compiles the files, orchestration annotations removed.
//! - **Output** items: every input item except the objects netpolc generated earlier for
//!   the same target (under `<golden>/<target>/`, labelled
//!   `app.kubernetes.io/managed-by: netpolc` or starting with the generated-file header),
//!   passed through as the text it arrived as (comments included); then the files
//!   [`golden::files`] maps the rendered objects to, at `<golden>/<target>/...` with the
//!   same header comment, so that kpt writes exactly what `netpolc build` would write.
//!   An item's verbatim text is used only when it reads back alone as the same item;
//!   otherwise that item is re-serialised (its comments are then lost, its content never
//!   is). The whole output is read back once more and compared, item by item, with a
//!   digest of every expected item; should that ever fail, the run fails (NP7006)
//!   instead of writing something else.
//! - **Memory** stays a small multiple of the input: the `ResourceList` is read as a
//!   stream ([`yaml::load_streamed`]), one item at a time, and only intent documents are
//!   kept whole; every other item is kept as its text (a range of the input when it is
//!   already at column 0) and a digest. `benches/fn-memory.sh` measures it.
//! - **Diagnostics** become `results` (`severity`, `message` starting with the code,
//!   `resourceRef`, `file: {path, index}`, `field: {path}` where the diagnostic points
//!   into a document, `tags: {code}`), and are also returned for stderr.
//! - **Exit code**: 0 success, 1 the rendered objects fail translation validation, 2 bad
//!   input (an unreadable `ResourceList`, a bad option, intents with errors, nothing to
//!   render, a generated path held by an item netpolc did not generate). On failure the
//!   items are passed through unchanged, without generated objects.
//!
//! Codes of this module: [`codes`].

use crate::{emit, golden, load, verify, Options, Target};
use netpolc_intent::yaml::{self, Limits, Node};
use netpolc_source::{Diagnostic, FileId, Severity, Span};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Largest `ResourceList` accepted, in bytes.
pub const MAX_INPUT_BYTES: usize = 32 << 20;

/// Exit code for success.
pub const SUCCESS: u8 = 0;
/// Exit code when the rendered objects do not mean what the intents say.
pub const FINDINGS: u8 = 1;
/// Exit code for bad input.
pub const BAD_INPUT: u8 = 2;

/// The diagnostic codes of the KRM function.
pub mod codes {
    /// The summary of a successful run (severity `info`).
    pub const SUMMARY: &str = "NP7000";
    /// The input is not a readable `ResourceList`.
    pub const BAD_RESOURCE_LIST: &str = "NP7001";
    /// The `functionConfig` is not a ConfigMap or NetpolcConfig, or holds a bad option.
    pub const BAD_FUNCTION_CONFIG: &str = "NP7002";
    /// A generated file's path holds an item that netpolc did not generate.
    pub const FOREIGN_ITEM: &str = "NP7003";
    /// The intents render no object (and `allow-empty` is not set).
    pub const NOTHING_RENDERED: &str = "NP7004";
    /// Translation validation found a flow on which the output and the intents disagree.
    pub const DISAGREEMENT: &str = "NP7005";
    /// Translation validation could not run (an internal error).
    pub const VALIDATION_FAILED: &str = "NP7006";
}

/// The apiVersion of intent documents.
pub const INTENT_API_VERSION: &str = "netpolc.dev/v1alpha1";
/// The kind of the typed function configuration.
pub const CONFIG_KIND: &str = "NetpolcConfig";
/// The annotation naming an item's file (kpt also reads the internal one).
pub const PATH_ANNOTATION: &str = "config.kubernetes.io/path";
/// The annotation naming an item's file, as kpt v1 writes it.
pub const INTERNAL_PATH_ANNOTATION: &str = "internal.config.kubernetes.io/path";
/// The annotation giving an item's document index in its file.
pub const INDEX_ANNOTATION: &str = "config.kubernetes.io/index";
/// The annotation giving an item's document index in its file, as kpt v1 writes it.
pub const INTERNAL_INDEX_ANNOTATION: &str = "internal.config.kubernetes.io/index";
/// The label every object netpolc generates carries, with the value `netpolc`.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// Annotation prefixes owned by the orchestrator; removed before compiling an intent.
const ORCHESTRATION_PREFIXES: [&str; 3] = [
    "config.kubernetes.io/",
    "internal.config.kubernetes.io/",
    "config.k8s.io/",
];

/// What `netpolc fn` prints and returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnOutput {
    /// The output `ResourceList` (there is one also on failure, carrying the results).
    pub stdout: String,
    /// Human-readable diagnostics, for stderr.
    pub stderr: String,
    /// [`SUCCESS`], [`FINDINGS`] or [`BAD_INPUT`].
    pub exit_code: u8,
}

/// Runs the function on the bytes of a `ResourceList`.
pub fn run(input: &[u8]) -> FnOutput {
    if input.len() > MAX_INPUT_BYTES {
        return unreadable(format!(
            "the ResourceList is larger than {} MiB",
            MAX_INPUT_BYTES >> 20
        ));
    }
    let text = match std::str::from_utf8(input) {
        Ok(t) => t,
        Err(e) => return unreadable(format!("the ResourceList is not UTF-8: {e}")),
    };
    let list = match ResourceList::parse(text) {
        Ok(l) => l,
        Err(message) => return unreadable(message),
    };
    let config = match Config::parse(list.function_config.as_ref()) {
        Ok(c) => c,
        Err(findings) => return list.fail(findings, BAD_INPUT),
    };
    list.generate(&config)
}

// ---------------------------------------------------------------------------------------
// Results

/// One entry of `results`, and the matching lines on stderr.
#[derive(Clone, Debug)]
struct Finding {
    severity: Severity,
    code: &'static str,
    message: String,
    notes: Vec<String>,
    help: Option<String>,
    resource: Option<Value>,
    file: Option<(String, Option<u64>)>,
    field: Option<String>,
}

impl Finding {
    fn error(code: &'static str, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Error,
            code,
            message: message.into(),
            notes: Vec::new(),
            help: None,
            resource: None,
            file: None,
            field: None,
        }
    }

    fn info(code: &'static str, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Note,
            ..Finding::error(code, message)
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Points at an item: its resourceRef and file.
    fn at(mut self, item: &Value) -> Self {
        self.resource = resource_ref(item);
        self.file = item_path(item).map(|p| (p, item_index(item)));
        self
    }

    fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    fn severity_word(&self) -> &'static str {
        match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "info",
        }
    }

    fn to_json(&self) -> Value {
        let mut message = format!("[{}] {}", self.code, self.message);
        for n in &self.notes {
            let _ = write!(message, "; note: {n}");
        }
        if let Some(h) = &self.help {
            let _ = write!(message, " (help: {h})");
        }
        let mut m = Map::new();
        m.insert("message".into(), message.into());
        m.insert("severity".into(), self.severity_word().into());
        if let Some(r) = &self.resource {
            m.insert("resourceRef".into(), r.clone());
        }
        if let Some(f) = &self.field {
            m.insert("field".into(), json!({ "path": f }));
        }
        if let Some((path, index)) = &self.file {
            let mut f = Map::new();
            f.insert("path".into(), path.clone().into());
            if let Some(i) = index {
                f.insert("index".into(), (*i).into());
            }
            m.insert("file".into(), Value::Object(f));
        }
        m.insert("tags".into(), json!({ "code": self.code }));
        Value::Object(m)
    }

    fn to_human(&self, out: &mut String) {
        let word = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        let _ = writeln!(out, "{word}[{}]: {}", self.code, self.message);
        let mut place = Vec::new();
        if let Some((path, index)) = &self.file {
            place.push(path.clone());
            if let Some(i) = index {
                place.push(format!("document {i}"));
            }
        }
        if let Some(f) = &self.field {
            place.push(format!("field {f}"));
        }
        if !place.is_empty() {
            let _ = writeln!(out, "  --> {}", place.join(", "));
        }
        for n in &self.notes {
            let _ = writeln!(out, "   = note: {n}");
        }
        if let Some(h) = &self.help {
            let _ = writeln!(out, "   = help: {h}");
        }
    }
}

fn human(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings.iter().filter(|f| f.code != codes::SUMMARY) {
        f.to_human(&mut out);
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    if errors > 0 {
        let _ = writeln!(
            out,
            "error: {errors} error{} found; the package is left unchanged",
            if errors == 1 { "" } else { "s" }
        );
    }
    out
}

/// The output for input that could not be read as a `ResourceList`: no items.
fn unreadable(message: String) -> FnOutput {
    let findings = vec![Finding::error(codes::BAD_RESOURCE_LIST, message)
        .help("pipe a config.kubernetes.io/v1 ResourceList, as `kpt fn eval --exec` does")];
    FnOutput {
        stdout: assemble("config.kubernetes.io/v1", &[], None, &findings),
        stderr: human(&findings),
        exit_code: BAD_INPUT,
    }
}

// ---------------------------------------------------------------------------------------
// Item metadata

fn annotation(item: &Value, key: &str) -> Option<String> {
    item["metadata"]["annotations"][key]
        .as_str()
        .map(str::to_string)
}

/// The item's file in the package.
fn item_path(item: &Value) -> Option<String> {
    annotation(item, INTERNAL_PATH_ANNOTATION)
        .or_else(|| annotation(item, PATH_ANNOTATION))
        .filter(|p| !p.is_empty())
}

/// The item's document index in its file.
fn item_index(item: &Value) -> Option<u64> {
    annotation(item, INTERNAL_INDEX_ANNOTATION)
        .or_else(|| annotation(item, INDEX_ANNOTATION))
        .and_then(|i| i.trim().parse().ok())
}

fn resource_ref(item: &Value) -> Option<Value> {
    let mut m = Map::new();
    for (from, to) in [
        (&item["apiVersion"], "apiVersion"),
        (&item["kind"], "kind"),
        (&item["metadata"]["name"], "name"),
        (&item["metadata"]["namespace"], "namespace"),
    ] {
        if let Some(s) = from.as_str() {
            m.insert(to.into(), s.into());
        }
    }
    (m.contains_key("kind") || m.contains_key("name")).then_some(Value::Object(m))
}

fn describe(item: &Value) -> String {
    match (item["kind"].as_str(), item["metadata"]["name"].as_str()) {
        (Some(k), Some(n)) => format!("{k} `{n}`"),
        (Some(k), None) => format!("a {k}"),
        _ => "an item".to_string(),
    }
}

/// The item without the orchestrator's annotations (and without `annotations` when
/// nothing else is left in it).
fn strip_orchestration(item: &Value) -> Value {
    let mut v = item.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        let mut empty = false;
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.retain(|k, _| !ORCHESTRATION_PREFIXES.iter().any(|p| k.starts_with(p)));
            empty = a.is_empty();
        }
        if empty {
            meta.remove("annotations");
        }
    }
    v
}

// ---------------------------------------------------------------------------------------
// Options

/// The function's options.
#[derive(Clone, Debug)]
struct Config {
    target: Target,
    /// Path prefixes or globs selecting intent files; empty selects every file.
    policies: Vec<String>,
    namespace: Option<String>,
    golden: String,
    calico_namespaced: bool,
    cilium_sctp: bool,
    allow_empty: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opt {
    Target,
    Policies,
    Namespace,
    Golden,
    CalicoNamespaced,
    CiliumSctp,
    AllowEmpty,
}

/// Option keys: ConfigMap spelling, NetpolcConfig spelling.
const OPTIONS: [(&str, &str, Opt); 7] = [
    ("allow-empty", "allowEmpty", Opt::AllowEmpty),
    (
        "calico-namespaced",
        "calicoNamespaced",
        Opt::CalicoNamespaced,
    ),
    ("cilium-sctp", "ciliumSctp", Opt::CiliumSctp),
    ("golden", "golden", Opt::Golden),
    ("namespace", "namespace", Opt::Namespace),
    ("policies", "policies", Opt::Policies),
    ("target", "target", Opt::Target),
];

impl Default for Config {
    fn default() -> Self {
        Config {
            target: Target::Kubernetes,
            policies: Vec::new(),
            namespace: None,
            golden: "golden".to_string(),
            calico_namespaced: false,
            cilium_sctp: false,
            allow_empty: false,
        }
    }
}

impl Config {
    fn parse(fc: Option<&Value>) -> Result<Config, Vec<Finding>> {
        let mut config = Config::default();
        let Some(fc) = fc else {
            return Ok(config);
        };
        let api = fc["apiVersion"].as_str().unwrap_or("");
        let kind = fc["kind"].as_str().unwrap_or("");
        let (section, camel) = match (api, kind) {
            ("v1", "ConfigMap") => ("data", false),
            (INTENT_API_VERSION, CONFIG_KIND) => ("spec", true),
            _ => {
                return Err(vec![Finding::error(
                    codes::BAD_FUNCTION_CONFIG,
                    format!("the functionConfig is `{api}` `{kind}`, not a ConfigMap or a NetpolcConfig"),
                )
                .at(fc)
                .help(format!("pass `-- target=cilium` to kpt, or a `v1` ConfigMap, or an `{INTENT_API_VERSION}` `{CONFIG_KIND}` with the options under `spec`"))]);
            }
        };
        let entries = match &fc[section] {
            Value::Null => return Ok(config),
            Value::Object(m) => m,
            _ => {
                return Err(vec![Finding::error(
                    codes::BAD_FUNCTION_CONFIG,
                    format!("`{section}` of the functionConfig is not a mapping"),
                )
                .at(fc)
                .field(section)])
            }
        };
        let names: Vec<&str> = OPTIONS
            .iter()
            .map(|(kebab, camel_name, _)| if camel { *camel_name } else { *kebab })
            .collect();
        let mut findings = Vec::new();
        for (key, value) in entries {
            let field = format!("{section}.{key}");
            let bad = |message: String| {
                Finding::error(codes::BAD_FUNCTION_CONFIG, message)
                    .at(fc)
                    .field(field.clone())
            };
            let Some(opt) = OPTIONS
                .iter()
                .find(|(kebab, camel_name, _)| key == if camel { camel_name } else { kebab })
                .map(|(_, _, o)| *o)
            else {
                let mut f = bad(format!("unknown option `{key}`")).help(format!(
                    "the options are {}",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                if let Some(s) = yaml::suggest(key, &names) {
                    f = f.help(format!("did you mean `{s}`?"));
                }
                findings.push(f);
                continue;
            };
            if let Err(message) = config.set(opt, value, camel) {
                findings.push(bad(message));
            }
        }
        if findings.is_empty() {
            Ok(config)
        } else {
            Err(findings)
        }
    }

    fn set(&mut self, opt: Opt, value: &Value, camel: bool) -> Result<(), String> {
        let string = || {
            value
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("`{}` is not a string", compact(value)))
        };
        let boolean = || match value {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s == "true" => Ok(true),
            Value::String(s) if s == "false" => Ok(false),
            _ => Err(format!("`{}` is not `true` or `false`", compact(value))),
        };
        match opt {
            Opt::Target => {
                let s = string()?;
                self.target = Target::from_name(&s).ok_or_else(|| {
                    let names = Target::ALL.map(Target::name);
                    let mut m = format!("`{s}` is not a target (kubernetes, calico, cilium)");
                    if let Some(t) = yaml::suggest(&s, &names) {
                        let _ = write!(m, "; did you mean `{t}`?");
                    }
                    m
                })?;
            }
            Opt::Policies => {
                let patterns: Vec<String> = match value {
                    Value::String(s) if !camel => s.split(',').map(str::to_string).collect(),
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) if camel => a
                        .iter()
                        .map(|v| v.as_str().map(str::to_string))
                        .collect::<Option<_>>()
                        .ok_or("`policies` must be a list of strings")?,
                    _ => return Err(format!("`{}` is not a path or glob", compact(value))),
                };
                self.policies.clear();
                for p in patterns {
                    if let Some(p) = clean_pattern(&p)? {
                        self.policies.push(p);
                    }
                }
            }
            Opt::Namespace => {
                let s = string()?;
                self.namespace = (!s.is_empty()).then_some(s);
            }
            Opt::Golden => {
                let s = string()?;
                self.golden = clean_pattern(&s)?
                    .filter(|g| !has_glob(g))
                    .ok_or_else(|| format!("`{s}` is not a folder inside the package"))?;
            }
            Opt::CalicoNamespaced => self.calico_namespaced = boolean()?,
            Opt::CiliumSctp => self.cilium_sctp = boolean()?,
            Opt::AllowEmpty => self.allow_empty = boolean()?,
        }
        Ok(())
    }

    /// Whether the intent file `path` is selected by `policies`.
    fn selects(&self, path: Option<&str>) -> bool {
        if self.policies.is_empty() {
            return true;
        }
        let Some(path) = path else {
            return false;
        };
        let path = path.strip_prefix("./").unwrap_or(path);
        self.policies.iter().any(|p| {
            if has_glob(p) {
                glob_match(p, path)
            } else {
                path == p || path.starts_with(&format!("{p}/"))
            }
        })
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A relative path or glob inside the package, without `./` and trailing `/`; `None` for
/// an empty one (or `.`, the whole package).
fn clean_pattern(p: &str) -> Result<Option<String>, String> {
    let trimmed = p.trim();
    if trimmed.starts_with('/') || trimmed.contains('\\') {
        return Err(format!(
            "`{trimmed}` is not a relative path inside the package"
        ));
    }
    let parts: Vec<&str> = trimmed
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(format!("`{trimmed}` leaves the package"));
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

fn has_glob(p: &str) -> bool {
    p.contains(['*', '?'])
}

/// Matches a `/`-separated path against a glob: `*` and `?` within one segment, `**` as
/// a whole segment for any number of segments.
fn glob_match(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    // m[i][j]: p[i..] matches s[j..].
    let mut m = vec![vec![false; s.len() + 1]; p.len() + 1];
    m[p.len()][s.len()] = true;
    for i in (0..p.len()).rev() {
        for j in (0..=s.len()).rev() {
            m[i][j] = if p[i] == "**" {
                m[i + 1][j] || (j < s.len() && m[i][j + 1])
            } else {
                j < s.len() && segment_match(p[i], s[j]) && m[i + 1][j + 1]
            };
        }
    }
    m[0][0]
}

/// `*` and `?` wildcards within one segment.
fn segment_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

// ---------------------------------------------------------------------------------------
// The ResourceList

/// One input item. Only intent documents are kept whole; every other item is kept as its
/// text and a digest of its content, so that memory stays a small multiple of the input.
#[derive(Clone, Debug)]
struct Item {
    /// The item as a sequence entry at column 0 (`- ...`): cut out of the input (comments
    /// included) when that reads back alone as the same item, re-serialised otherwise.
    text: Text,
    /// Whether a generated-file header comment precedes the item.
    header: bool,
    /// A digest of the item's content (its JSON form), for the read-back check.
    digest: u64,
    /// The item's file in the package (from the path annotations).
    path: Option<String>,
    /// Whether the item carries `app.kubernetes.io/managed-by: netpolc`.
    managed: bool,
    /// The whole item, for intent documents (`netpolc.dev/v1alpha1`, not the config).
    value: Option<Value>,
}

/// Where an item's text is.
#[derive(Clone, Debug)]
enum Text {
    /// A byte range of the input that is already an entry at column 0.
    Input(usize, usize),
    /// Text of its own (dedented or re-serialised).
    Owned(String),
}

impl Item {
    fn text<'t>(&'t self, input: &'t str) -> &'t str {
        match &self.text {
            Text::Input(a, b) => input.get(*a..*b).unwrap_or(""),
            Text::Owned(s) => s,
        }
    }

    /// The item's content, read back from its text (exact: the text was checked to read
    /// back as the item when the input was read).
    fn value_in(&self, input: &str) -> Value {
        if let Some(v) = &self.value {
            return v.clone();
        }
        read_entry(self.text(input)).unwrap_or(Value::Null)
    }
}

struct ResourceList<'a> {
    input: &'a str,
    api_version: String,
    items: Vec<Item>,
    function_config: Option<Value>,
}

/// The loader's limits for a whole package: larger files and more nodes than one intent
/// file, and scalars up to the size of a ConfigMap (1 MiB), which bounds the parser's
/// read-ahead at 2 MiB. The intents themselves are compiled with the default limits.
fn input_limits() -> Limits {
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
fn digest(value: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.to_string().hash(&mut h);
    h.finish()
}

/// The one item of an entry's text (`- ...` at column 0), read as a sequence.
fn read_entry(entry: &str) -> Option<Value> {
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
struct Reader<'a> {
    input: &'a str,
    items: Vec<Item>,
    /// The previous item, with its dash (line start and column), waiting for its end.
    pending: Option<(Node, Option<(usize, usize)>)>,
    /// The column of the first dash: every entry must have it.
    column: Option<usize>,
    /// Whether an item was not a mapping (reported after loading).
    not_object: Option<usize>,
}

impl<'a> Reader<'a> {
    fn push(&mut self, node: Node) {
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

    fn close(&mut self) {
        if let Some((prev, dash)) = self.pending.take() {
            let end = end_of_entry(self.input, prev.span.end as usize);
            self.finish(prev, dash, end);
        }
    }

    /// Files one item: its text (verbatim when that reads back as the item), digest and
    /// metadata.
    fn finish(&mut self, node: Node, dash: Option<(usize, usize)>, end: Option<usize>) {
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
            value: intent.then_some(value),
        });
    }
}

impl<'a> ResourceList<'a> {
    fn parse(text: &'a str) -> Result<ResourceList<'a>, String> {
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
    fn fail(&self, findings: Vec<Finding>, exit_code: u8) -> FnOutput {
        let texts: Vec<&str> = self.items.iter().map(|i| i.text(self.input)).collect();
        let digests: Vec<u64> = self.items.iter().map(|i| i.digest).collect();
        self.finish(&texts, &digests, findings, exit_code)
    }

    /// Assembles the output and checks, item by item as it is read back, that it holds
    /// exactly the expected items.
    fn finish(
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

    fn generate(&self, config: &Config) -> FnOutput {
        let target = config.target;
        let prefix = format!("{}/{}/", config.golden, target.name());
        let mut findings = Vec::new();

        // Sort the items: previous output of this target (dropped), intents, the rest.
        let owned = |item: &Item| {
            item.path.as_deref().is_some_and(|p| p.starts_with(&prefix))
                && (item.header || item.managed)
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
                        format!(" selected by policies={}", config.policies.join(","))
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
fn split_header(text: &str) -> (&str, &str) {
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        if !line.starts_with('#') {
            break;
        }
        end += line.len();
    }
    text.split_at(end)
}

fn header_lines(header: &str) -> Vec<&str> {
    header.lines().collect()
}

/// Adds kpt's path and index annotations to a generated object.
fn set_path(value: &mut Value, path: &str, index: usize) {
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
fn entry(value: &Value, comments: &[&str]) -> String {
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
fn assemble(api_version: &str, items: &[&str], fc: Option<&Value>, findings: &[Finding]) -> String {
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
fn reads_back(text: &str, expected: &[u64]) -> bool {
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
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// The start of the line holding the `-` of the entry whose node starts at `start`, and
/// the dash's column.
fn dash_before(text: &str, start: usize) -> Option<(usize, usize)> {
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
fn end_of_entry(text: &str, end: usize) -> Option<usize> {
    if end > 0 && text.as_bytes().get(end - 1) == Some(&b'\n') {
        return Some(end);
    }
    let rest = text.get(end..)?;
    let line_end = rest.find('\n').map_or(text.len(), |i| end + i + 1);
    let tail = text[end..line_end].trim();
    (tail.is_empty() || tail.starts_with('#')).then_some(line_end)
}

/// Removes `column` spaces from every line; blank and comment lines may have fewer.
fn dedent(region: &str, column: usize) -> Option<String> {
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

// ---------------------------------------------------------------------------------------
// The intents as files

/// The intent documents as the compiler reads them: one source file per package file.
struct Unit {
    loaded: load::Loaded,
    /// Per source file: the documents' trees (for field paths) and their items.
    files: BTreeMap<FileId, (Vec<Node>, Vec<usize>)>,
    /// The intent items, by index (for resourceRef and file); the others are not copied.
    items: BTreeMap<usize, Value>,
}

impl Unit {
    fn new(items: &[Item], intents: &[usize]) -> Unit {
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
    fn finding(&self, d: &Diagnostic) -> Finding {
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

fn contains(span: Span, offset: u32) -> bool {
    span.start <= offset && (offset < span.end || offset == span.start)
}

/// Appends the path (`spec.intents[0].to`) of the innermost node at `offset`.
fn field_path(node: &Node, offset: u32, path: &mut String) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("policies/*.yaml", "policies/a.yaml"));
        assert!(!glob_match("policies/*.yaml", "policies/x/a.yaml"));
        assert!(glob_match("policies/**/*.yaml", "policies/a.yaml"));
        assert!(glob_match("policies/**/*.yaml", "policies/x/y/a.yaml"));
        assert!(glob_match("**", "a/b/c"));
        assert!(glob_match("p?l*/a*b.y*ml", "pol/aXXb.yml"));
        assert!(!glob_match("p?l*/a*b.y*ml", "pl/ab.yml"));
        let c = Config {
            policies: vec!["policies".into()],
            ..Config::default()
        };
        assert!(c.selects(Some("policies/a.yaml")) && c.selects(Some("./policies/x/b.yaml")));
        assert!(!c.selects(Some("policies-old/a.yaml")) && !c.selects(None));
    }

    #[test]
    fn options_are_checked() {
        let fc = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"target": "cilum", "polices": "x"}});
        let errors = Config::parse(Some(&fc)).unwrap_err();
        let text = human(&errors);
        assert!(text.contains("did you mean `cilium`?"), "{text}");
        assert!(text.contains("did you mean `policies`?"), "{text}");
        let fc = json!({"apiVersion": INTENT_API_VERSION, "kind": CONFIG_KIND, "spec": {"target": "calico", "calicoNamespaced": true, "policies": ["./intents/", "more/**/*.yaml"], "golden": "out/"}});
        let c = Config::parse(Some(&fc)).unwrap();
        assert_eq!(c.target, Target::Calico);
        assert!(c.calico_namespaced);
        assert_eq!(c.policies, ["intents", "more/**/*.yaml"]);
        assert_eq!(c.golden, "out");
        let fc = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"golden": "../x"}});
        assert!(Config::parse(Some(&fc)).is_err());
    }

    #[test]
    fn items_are_cut_verbatim() {
        let text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- # lead\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}  # trailing\n  data:\n    k: |\n      line\n\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\nfunctionConfig: {apiVersion: v1, kind: ConfigMap, data: {target: cilium}}\n";
        let list = ResourceList::parse(text).unwrap();
        assert_eq!(
            Some(list.items[0].text(text)),
            Some("- # lead\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}  # trailing\n  data:\n    k: |\n      line\n\n")
        );
        assert_eq!(
            Some(list.items[1].text(text)),
            Some("- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n")
        );
        // An indented sequence: the same entries.
        let indented = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: b\n    # trailing comment\n  -\n    # own line\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c}\n";
        let l2 = ResourceList::parse(indented).unwrap();
        assert_eq!(
            Some(l2.items[0].text(indented)),
            Some("- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n  # trailing comment\n")
        );
        assert_eq!(
            Some(l2.items[1].text(indented)),
            Some("-\n  # own line\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n")
        );
        // A flow sequence (JSON) is re-serialised.
        let flow = "{\"apiVersion\": \"config.kubernetes.io/v1\", \"kind\": \"ResourceList\", \"items\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}]}";
        let l3 = ResourceList::parse(flow).unwrap();
        assert_eq!(
            l3.items[0].text(flow),
            "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n"
        );
        // Anchors and aliases across items.
        let alias = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- &a {kind: A, data: {x: y}}\n- *a\n- {kind: C, data: *a}\n";
        let l5 = ResourceList::parse(alias).unwrap();
        let values: Vec<Value> = l5.items.iter().map(|i| i.value_in(alias)).collect();
        let a = json!({"kind": "A", "data": {"x": "y"}});
        assert_eq!(
            values,
            [a.clone(), a.clone(), json!({"kind": "C", "data": a})]
        );
    }

    /// Two objects with one identity are refused under `fn` too (NP6011), with the
    /// intents' paths, and nothing is generated.
    #[test]
    fn identity_collisions_are_refused() {
        // Names cannot collide by construction below 63 characters; two long set names
        // whose cut names share a hash (found by search) still do.
        let cluster = |name: &str, key: &str| {
            format!(
                "- apiVersion: netpolc.dev/v1alpha1\n  kind: ClusterIntentSet\n  metadata:\n    name: {name}\n    annotations: {{config.kubernetes.io/path: policies/{name}.yaml}}\n  spec:\n    groups:\n      gw: {{selector: {{{key}: x}}}}\n      mail: {{cidrs: [203.0.113.0/24]}}\n    intents:\n    - {{name: smtp, from: gw, to: mail, ports: [25/tcp], action: deny}}\n"
            )
        };
        let list = |first: &str, second: &str| {
            format!(
                "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: netpolc}}\n  data: {{target: cilium}}\nitems:\n- apiVersion: netpolc.dev/v1alpha1\n  kind: IntentSet\n  metadata:\n    name: shop\n    annotations: {{config.kubernetes.io/path: policies/shop.yaml}}\n  spec:\n    namespace: shop\n    isolate: [egress]\n    groups:\n      gw: {{selector: {{app: gw}}}}\n    intents:\n    - {{name: out, from: gw, to: world, ports: [25/tcp]}}\n{}{}",
                first,
                second
            )
        };
        let ok = run(list(&cluster("a", "app.gw"), &cluster("a-app", "gw")).as_bytes());
        assert_eq!(ok.exit_code, SUCCESS, "{}", ok.stderr);
        let (n1, n2) = (
            "relay-for-the-mail-gateway-of-the-other-datacenter-abaaxi5q",
            "relay-for-the-mail-gateway-of-the-other-datacenter-abaa4gca",
        );
        let out = run(list(&cluster(n1, "gw"), &cluster(n2, "gw")).as_bytes());
        assert_eq!(out.exit_code, BAD_INPUT, "{}", out.stderr);
        assert!(out.stdout.contains("NP6011"), "{}", out.stdout);
        assert!(
            out.stderr.contains(&format!("policies/{n2}.yaml")),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn unreadable_input_is_an_error_with_a_result() {
        for input in [&b"kind: ConfigMap\n"[..], b"\xff", b"a: [", b""] {
            let out = run(input);
            assert_eq!(out.exit_code, BAD_INPUT);
            assert!(out.stdout.contains("NP7001"), "{}", out.stdout);
            assert!(verify::parse_yaml("out", &out.stdout).is_ok());
        }
    }
}
