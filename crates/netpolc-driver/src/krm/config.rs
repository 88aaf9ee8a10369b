//! The function's options, from a ConfigMap or a `NetpolcConfig`, and the kpt path
//! globs that select the intent files.

use super::*;

/// The function's options.
#[derive(Clone, Debug)]
pub(super) struct Config {
    pub(super) target: Target,
    /// Path prefixes or globs selecting intent files; empty selects every file.
    pub(super) policies: Vec<String>,
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
    pub(super) fn selects(&self, path: Option<&str>) -> bool {
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
    p.contains(['*', '?'])
}

/// Matches a `/`-separated path against a glob: `*` and `?` within one segment, `**` as
/// a whole segment for any number of segments.
pub(super) fn glob_match(pattern: &str, path: &str) -> bool {
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
pub(super) fn segment_match(pattern: &str, text: &str) -> bool {
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
