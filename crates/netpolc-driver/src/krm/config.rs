//! The function's options, from a ConfigMap or a `NetpolcConfig`, and the path globs
//! that select the intent files (globset's syntax, as in ripgrep: `*` and `?` within one
//! path segment, `**` across segments, `[abc]`, `[!a-c]`, `{a,b}`).

use super::*;
use globset::{GlobBuilder, GlobMatcher};

/// The function's options.
#[derive(Clone, Debug)]
pub(super) struct Config {
    pub(super) target: Target,
    /// Path prefixes or globs selecting intent files; empty selects every file.
    pub(super) policies: Vec<PathPattern>,
    pub(super) namespace: Option<String>,
    pub(super) golden: String,
    pub(super) calico_namespaced: bool,
    pub(super) cilium_sctp: bool,
    pub(super) allow_empty: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Opt {
    Target,
    Policies,
    Namespace,
    Golden,
    CalicoNamespaced,
    CiliumSctp,
    AllowEmpty,
}

/// Option keys: ConfigMap spelling, NetpolcConfig spelling.
pub(super) const OPTIONS: [(&str, &str, Opt); 7] = [
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
    pub(super) fn parse(fc: Option<&Value>) -> Result<Config, Vec<Finding>> {
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

    pub(super) fn set(&mut self, opt: Opt, value: &Value, camel: bool) -> Result<(), String> {
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
                    Value::String(s) if !camel => split_patterns(s),
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
                    if let Some(p) = PathPattern::new(&p)? {
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
    pub(super) fn selects(&self, path: Option<&str>) -> bool {
        if self.policies.is_empty() {
            return true;
        }
        let Some(path) = path else {
            return false;
        };
        let path = path.strip_prefix("./").unwrap_or(path);
        self.policies.iter().any(|p| p.matches(path))
    }
}

/// One `policies` entry: a folder or file inside the package (selecting it and everything
/// under it), or a glob matched against the whole path.
#[derive(Clone, Debug)]
pub(super) struct PathPattern {
    /// As cleaned by [`clean_pattern`].
    pub(super) text: String,
    glob: Option<GlobMatcher>,
}

impl PathPattern {
    /// A cleaned pattern; `None` for an empty one (the whole package).
    pub(super) fn new(p: &str) -> Result<Option<PathPattern>, String> {
        let Some(text) = clean_pattern(p)? else {
            return Ok(None);
        };
        let glob = if has_glob(&text) {
            let glob = GlobBuilder::new(&text)
                // `*` and `?` stay within one segment; only `**` crosses `/`.
                .literal_separator(true)
                // clean_pattern refuses `\`; nothing to escape.
                .backslash_escape(false)
                .build()
                .map_err(|e| format!("`{text}` is not a valid glob: {}", e.kind()))?;
            Some(glob.compile_matcher())
        } else {
            None
        };
        Ok(Some(PathPattern { text, glob }))
    }

    /// Whether the `/`-separated path (without `./`) is selected.
    pub(super) fn matches(&self, path: &str) -> bool {
        match &self.glob {
            Some(g) => g.is_match(path),
            None => path == self.text || path.starts_with(&format!("{}/", self.text)),
        }
    }
}

impl std::fmt::Display for PathPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Splits a ConfigMap's comma-separated `policies` at the commas outside `{...}`, so that
/// `intents/{a,b}/*.yaml` stays one glob.
pub(super) fn split_patterns(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            ',' if depth == 0 => out.push(String::new()),
            _ => {
                if c == '{' {
                    depth += 1;
                } else if c == '}' {
                    depth = depth.saturating_sub(1);
                }
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

pub(super) fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A relative path or glob inside the package, without `./` and trailing `/`; `None` for
/// an empty one (or `.`, the whole package).
pub(super) fn clean_pattern(p: &str) -> Result<Option<String>, String> {
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

pub(super) fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '[', '{'])
}
