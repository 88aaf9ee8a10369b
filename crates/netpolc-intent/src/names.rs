//! Syntax checks for names and labels, with the Kubernetes rules (semantics.md §8.1), so
//! that bad input is rejected at its source position rather than by an API server.

/// Why a name is not a DNS-1123 label (lower-case alphanumerics and `-`, at most 63,
/// starting and ending alphanumeric); `None` if it is one.
pub(crate) fn dns_label_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("must not be empty".into());
    }
    if s.len() > 63 {
        return Some(format!("is {} characters long; at most 63", s.len()));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Some("may contain only lower-case letters, digits and `-`".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Some("must start and end with a letter or digit".into());
    }
    None
}

fn name_part_ok(s: &str) -> bool {
    s.len() <= 63 && netpolc_ir::names::is_qualified_name_part(s)
}

fn dns_subdomain_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(|p| dns_label_problem(p).is_none())
}

/// Why a label key is not a qualified name (`[prefix/]name`); `None` if it is one.
pub(crate) fn label_key_problem(s: &str) -> Option<String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix {
        if !dns_subdomain_ok(p) {
            return Some(format!("prefix `{p}` must be a DNS subdomain"));
        }
    }
    if !name_part_ok(name) {
        return Some(
            "name part must be 1–63 characters of letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit"
                .into(),
        );
    }
    None
}

/// Why a label key is one a CNI sets on endpoints itself, so that a selector on it means
/// different things on different back ends (semantics.md §2.2); `None` if it is not.
pub(crate) fn cni_label_problem(key: &str) -> Option<&'static str> {
    const PREFIXES: [(&str, &str); 5] = [
        (
            "projectcalico.org/",
            "Calico sets `projectcalico.org/` labels on its endpoints",
        ),
        (
            "io.cilium.k8s.",
            "Cilium derives `io.cilium.k8s.` labels for its identities",
        ),
        ("io.cilium/", "Cilium reserves `io.cilium/` labels"),
        (
            "pcns.",
            "Calico prefixes namespace labels with `pcns.` on its endpoints",
        ),
        (
            "pcsa.",
            "Calico prefixes service-account labels with `pcsa.` on its endpoints",
        ),
    ];
    if key == "io.kubernetes.pod.namespace" {
        return Some("Cilium sets `io.kubernetes.pod.namespace` on every identity");
    }
    PREFIXES
        .iter()
        .find(|(p, _)| key.starts_with(p))
        .map(|(_, why)| *why)
}

/// Why a label value is invalid (at most 63, may be empty); `None` if valid.
pub(crate) fn label_value_problem(s: &str) -> Option<String> {
    if s.is_empty() || name_part_ok(s) {
        None
    } else {
        Some("must be at most 63 characters of letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(dns_label_problem("production").is_none());
        assert!(dns_label_problem("Prod").is_some());
        assert!(dns_label_problem("-a").is_some());
        assert!(label_key_problem("app.kubernetes.io/name").is_none());
        assert!(label_key_problem("app").is_none());
        assert!(label_key_problem("bad key").is_some());
        assert!(label_key_problem("Bad_Prefix/x").is_some());
        assert!(cni_label_problem("io.kubernetes.pod.namespace").is_some());
        assert!(cni_label_problem("projectcalico.org/name").is_some());
        assert!(cni_label_problem("io.cilium.k8s.policy.serviceaccount").is_some());
        assert!(cni_label_problem("app.kubernetes.io/name").is_none());
        assert!(label_value_problem("").is_none());
        assert!(label_value_problem("v1.2").is_none());
        assert!(label_value_problem("-x").is_some());
    }
}
