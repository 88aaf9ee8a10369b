//! The one registry of back ends. [`Target`] is a small copyable handle on one entry;
//! everything that differs between back ends goes through its [`Backend`].
//!
//! Adding a back end: implement [`Backend`] in its own crate and add one line to
//! [`BACKENDS`] (see ARCHITECTURE.md, "How to add a back end").

use netpolc_ir::backend::Backend;
use std::fmt;

/// Every back end, in output order (the order of `golden/`, of reports and of `--help`).
pub static BACKENDS: [&'static dyn Backend; 3] = [
    &netpolc_k8s::Kubernetes,
    &netpolc_calico::Calico,
    &netpolc_cilium::Cilium,
];

/// A back end: an index into [`BACKENDS`]. Ordered as the registry.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target(u8);

#[allow(non_upper_case_globals)]
impl Target {
    /// `networking.k8s.io/v1` NetworkPolicy.
    pub const Kubernetes: Target = Target(0);
    /// `projectcalico.org/v3` GlobalNetworkPolicy (and Tier).
    pub const Calico: Target = Target(1);
    /// `cilium.io/v2` CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy.
    pub const Cilium: Target = Target(2);
}

impl Target {
    /// Every target, in output order.
    pub const ALL: [Target; BACKENDS.len()] = {
        let mut all = [Target(0); BACKENDS.len()];
        let mut i = 0;
        while i < all.len() {
            all[i] = Target(i as u8);
            i += 1;
        }
        all
    };

    /// The back end.
    pub fn backend(self) -> &'static dyn Backend {
        BACKENDS[usize::from(self.0)]
    }

    /// The name used on the command line and as the folder under `golden/`.
    pub fn name(self) -> &'static str {
        self.backend().name()
    }

    /// Parses a target name.
    pub fn from_name(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == s)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_names_are_distinct_dns_labels_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for t in Target::ALL {
            let n = t.name();
            assert!(seen.insert(n), "{n} twice");
            assert!(!n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
            assert_eq!(Target::from_name(n), Some(t));
        }
        assert_eq!(Target::Kubernetes.name(), "kubernetes");
        assert_eq!(Target::Calico.name(), "calico");
        assert_eq!(Target::Cilium.name(), "cilium");
    }
}
