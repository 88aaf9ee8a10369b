//! Cilium identity labels: the well-known keys, source-prefixed selector keys, and the
//! default identity label filter (semantics.md §1.3).
//!
//! A pod's security identity carries only the labels the filter keeps. A selector on a
//! label the filter drops can never match, so the capability check refuses such
//! selectors and the evaluator applies the same filter when it builds identities.

/// The identity label holding a pod's namespace name (source `k8s`).
pub(crate) const NAMESPACE_KEY: &str = "io.kubernetes.pod.namespace";
/// The prefix under which namespace labels appear in pod identities (source `k8s`).
pub(crate) const NAMESPACE_LABELS_PREFIX: &str = "io.cilium.k8s.namespace.labels.";
/// The identity label holding the cluster name (source `k8s`).
pub(crate) const CLUSTER_KEY: &str = "io.cilium.k8s.policy.cluster";
/// The cluster name Cilium uses unless configured otherwise.
pub(crate) const DEFAULT_CLUSTER_NAME: &str = "default";

/// Label source of Kubernetes labels.
pub(crate) const SOURCE_K8S: &str = "k8s";
/// Label source of reserved identities (`world`, `host`, …).
pub(crate) const SOURCE_RESERVED: &str = "reserved";
/// Selector pseudo-source matching a key from any source.
pub(crate) const SOURCE_ANY: &str = "any";

/// Inclusive patterns of the default filter: plain prefixes.
const INCLUDE_PREFIXES: &[&str] = &[
    "io.kubernetes.pod.namespace",
    "io.cilium.k8s.namespace.labels",
    "app.kubernetes.io",
    "io.cilium.k8s.policy.cluster",
    "io.cilium.k8s.policy.serviceaccount",
];

/// Exclusive patterns of the default filter that are plain prefixes.
const EXCLUDE_PREFIXES: &[&str] = &[
    "io.kubernetes",
    "kubernetes.io",
    "k8s.io",
    "topology.kubernetes.io",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "batch.kubernetes.io/job-completion-index",
    "batch.kubernetes.io/controller-uid",
    "pod-template-hash",
    "pod-template-generation",
    "controller-revision-hash",
    "controller-uid",
    "etcd_node",
];

/// Whether Cilium's default identity label filter keeps a label key (written without a
/// source prefix, e.g. `app` or `io.cilium.k8s.namespace.labels.team`).
///
/// The filter's patterns are regular expressions anchored at the start of the key. A key
/// is kept when no exclusive pattern matches it, or when the longest matching inclusive
/// pattern covers more of the key than the shortest matching exclusive one (so
/// `io.kubernetes.pod.namespace` survives `!io.kubernetes`).
///
/// ```
/// use netpolc_cilium::identity_label_kept;
/// assert!(identity_label_kept("app"));
/// assert!(identity_label_kept("app.kubernetes.io/name"));
/// assert!(!identity_label_kept("pod-template-hash"));
/// assert!(!identity_label_kept("statefulset.kubernetes.io/pod-name"));
/// assert!(!identity_label_kept("node.beta.kubernetes.io/instance-type"));
/// ```
pub fn identity_label_kept(key: &str) -> bool {
    let included = INCLUDE_PREFIXES
        .iter()
        .filter(|p| key.starts_with(**p))
        .map(|p| p.len())
        .max()
        .unwrap_or(0);
    let mut ignored: Option<usize> = None;
    let mut ignore = |len: usize| {
        ignored = Some(ignored.map_or(len, |i| i.min(len)));
    };
    for p in EXCLUDE_PREFIXES {
        if key.starts_with(p) {
            ignore(p.len());
        }
    }
    // `!annotation.*`: the greedy `.*` matches the whole key.
    if key.starts_with("annotation") {
        ignore(key.len());
    }
    // `!.*beta\.kubernetes\.io`: the greedy `.*` matches up to the last occurrence.
    // (The last occurrence found window by window: keys are short, and `rfind` prepares
    // a substring search for every key.)
    const BETA: &[u8] = b"beta.kubernetes.io";
    if let Some(i) = key.as_bytes().windows(BETA.len()).rposition(|w| w == BETA) {
        ignore(i + BETA.len());
    }
    match ignored {
        None => true,
        Some(ignored) => included > ignored,
    }
}

/// Whether the filter keeps the label a namespace label `key` becomes in a pod's
/// identity ([`NAMESPACE_LABELS_PREFIX`] before it): [`identity_label_kept`] of that key,
/// written into a buffer kept by the thread instead of a new string for each key.
pub(crate) fn namespace_label_kept(key: &str) -> bool {
    thread_local! {
        static FULL: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    FULL.with(|full| match full.try_borrow_mut() {
        Ok(mut full) => {
            full.clear();
            full.push_str(NAMESPACE_LABELS_PREFIX);
            full.push_str(key);
            identity_label_kept(&full)
        }
        Err(_) => identity_label_kept(&format!("{NAMESPACE_LABELS_PREFIX}{key}")),
    })
}

/// Splits a selector key into its source and label key the way Cilium does: `$x` is
/// `reserved:x`; `src:key` splits at the first `:`; `reserved.x` is `reserved:x`; a bare
/// key has the pseudo-source `any`.
pub(crate) fn parse_selector_key(s: &str) -> (String, String) {
    let (source, key) = split_selector_key(s);
    (source.to_string(), key.to_string())
}

/// [`parse_selector_key`], borrowed.
pub(crate) fn split_selector_key(s: &str) -> (&str, &str) {
    if let Some(rest) = s.strip_prefix('$') {
        return (SOURCE_RESERVED, rest);
    }
    match s.split_once(':') {
        Some((src, key)) => {
            let src = if src.is_empty() { SOURCE_ANY } else { src };
            (src, key)
        }
        None => match s.strip_prefix("reserved.") {
            Some(rest) => (SOURCE_RESERVED, rest),
            None => (SOURCE_ANY, s),
        },
    }
}

/// `k8s:<prefix><key>`: how netpolc writes every Kubernetes label key in a selector
/// (`prefix` is empty for a pod's label, [`NAMESPACE_LABELS_PREFIX`] for its
/// namespace's). Built at its length: every selector of every rule has a few.
pub(crate) fn k8s_key(prefix: &str, key: &str) -> String {
    let mut out = String::with_capacity(SOURCE_K8S.len() + 1 + prefix.len() + key.len());
    out.push_str(SOURCE_K8S);
    out.push(':');
    out.push_str(prefix);
    out.push_str(key);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_keeps_user_and_namespace_labels() {
        assert!(identity_label_kept("app"));
        assert!(identity_label_kept("team.example.com/owner"));
        assert!(identity_label_kept(NAMESPACE_KEY));
        assert!(identity_label_kept(
            "io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name"
        ));
        assert!(identity_label_kept(CLUSTER_KEY));
    }

    #[test]
    fn filter_drops_kubernetes_managed_labels() {
        for key in [
            "kubernetes.io/hostname",
            "io.kubernetes.container.name",
            "k8s.io/foo",
            "topology.kubernetes.io/zone",
            "beta.kubernetes.io/arch",
            "node.beta.kubernetes.io/x",
            "statefulset.kubernetes.io/pod-name",
            "apps.kubernetes.io/pod-index",
            "batch.kubernetes.io/job-completion-index",
            "batch.kubernetes.io/controller-uid",
            "pod-template-hash",
            "pod-template-generation",
            "controller-revision-hash",
            "controller-uid",
            "annotation.foo",
            "etcd_node",
            // A longer ignore match beats the namespace-labels include.
            "io.cilium.k8s.namespace.labels.beta.kubernetes.io/x",
        ] {
            assert!(!identity_label_kept(key), "{key}");
        }
    }

    #[test]
    fn a_namespace_label_is_kept_as_its_prefixed_key() {
        for key in [
            "team",
            "kubernetes.io/metadata.name",
            "beta.kubernetes.io/x",
            "node.beta.kubernetes.io/x",
            "annotation.x",
            "io.kubernetes.x",
            "",
        ] {
            assert_eq!(
                namespace_label_kept(key),
                identity_label_kept(&format!("{NAMESPACE_LABELS_PREFIX}{key}")),
                "{key}"
            );
        }
        assert!(namespace_label_kept("team"));
        assert!(!namespace_label_kept("beta.kubernetes.io/x"));
    }

    #[test]
    fn selector_keys_parse_like_cilium() {
        let p = |s: &str| {
            let (a, b) = parse_selector_key(s);
            format!("{a}|{b}")
        };
        assert_eq!(p("k8s:app"), "k8s|app");
        assert_eq!(p("app"), "any|app");
        assert_eq!(p("any:app"), "any|app");
        assert_eq!(p("$host"), "reserved|host");
        assert_eq!(p("reserved:world"), "reserved|world");
        assert_eq!(p("reserved.world"), "reserved|world");
        assert_eq!(p("k8s:example.com/team"), "k8s|example.com/team");
    }
}
