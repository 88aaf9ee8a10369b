//! `netpolc discover`: the discovery command of the Argo CD plugin
//! (`discover.find.command` in deploy/argocd/plugin.yaml).
//!
//! Argo CD runs it in the Application's source folder, with the Application's plugin env
//! (`ARGOCD_ENV_*`) and parameters (`PARAM_*`), and uses the plugin when it exits 0 with
//! something on stdout. It must therefore match every folder `netpolc render` would render:
//! the intents folder (the same one `render` reads), recursively, `.yaml` and `.yml`, and
//! only files holding a `netpolc.dev/` document, so that a `policies/` folder of another
//! tool does not claim the Application. A file with YAML errors still matches when it
//! names the apiVersion: `render` then reports the errors instead of Argo CD saying that no
//! plugin supports the repository.

use crate::cli::DiscoverArgs;
use netpolc_driver::load;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) fn run(args: &DiscoverArgs) -> ExitCode {
    let policies = match &args.policies {
        Some(p) => p.clone(),
        None => match crate::env_policies() {
            Ok(p) => p.unwrap_or_else(|| PathBuf::from("policies")),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(crate::BAD_INPUT);
            }
        },
    };
    if !args.root.join(&policies).exists() {
        return ExitCode::SUCCESS;
    }
    let loaded = match load::policies_from(&args.root, &[policies]) {
        Ok(l) => l,
        Err(d) => {
            eprintln!("error: {}", d.message);
            return ExitCode::from(crate::BAD_INPUT);
        }
    };
    let mut out = String::new();
    for f in &loaded.files {
        if names_netpolc_api(&String::from_utf8_lossy(&f.bytes)) {
            out.push_str(&f.name);
            out.push('\n');
        }
    }
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .is_err()
    {
        return ExitCode::from(crate::BAD_INPUT);
    }
    ExitCode::SUCCESS
}

/// Whether a YAML text has an `apiVersion: netpolc.dev/...` entry (block or flow style,
/// quoted or not).
fn names_netpolc_api(text: &str) -> bool {
    text.match_indices("apiVersion").any(|(i, m)| {
        let rest = text[i + m.len()..].trim_start_matches(['"', '\'']);
        let Some(rest) = rest.trim_start_matches([' ', '\t']).strip_prefix(':') else {
            return false;
        };
        rest.trim_start_matches([' ', '\t', '"', '\''])
            .starts_with("netpolc.dev/")
    })
}

#[cfg(test)]
mod tests {
    use super::names_netpolc_api;

    #[test]
    fn recognises_the_api_version_in_every_spelling() {
        for yes in [
            "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\n",
            "---\n# c\napiVersion:   \"netpolc.dev/v1alpha1\"\n",
            "{apiVersion: 'netpolc.dev/v1alpha1', kind: IntentSet}",
            "\"apiVersion\": \"netpolc.dev/v1alpha1\"",
        ] {
            assert!(names_netpolc_api(yes), "{yes}");
        }
        for no in [
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\n",
            "description: netpolc.dev/v1alpha1\n",
            "apiVersion: v1\nkind: ConfigMap\ndata: {x: netpolc.dev/v1alpha1}\n",
            "",
        ] {
            assert!(!names_netpolc_api(no), "{no}");
        }
    }
}
