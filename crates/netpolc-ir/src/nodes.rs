//! Node addresses: the one diagnostic Calico and Kubernetes raise when CIDR peers or
//! `world` are used and the ClusterProfile does not say where the nodes are.
//!
//! The intent language says CIDR peers and `world` mean addresses *outside* the cluster,
//! nodes excluded; `anywhere` includes nodes. Cilium agrees by construction (its CIDR
//! rules and the `world` entity never match node addresses; `all` does). Calico `nets`
//! and Kubernetes `ipBlock` (as Calico enforces it) match any address, nodes included, so
//! those back ends are exact only when the node networks are known and carved out of
//! every block (the front end does that with the profile's `nodeCIDRs`). Without them a
//! rule could allow (or deny) traffic to nodes that the intents and Cilium do not; such a
//! program is refused with the back end's code, never rendered approximately.

use crate::{Program, Rule};
use netpolc_source::Diagnostic;

/// The diagnostic for a program whose address rules need the node networks, or `None`.
/// `code` and `backend` are the back end's (its code and its `backend: ...` note); the
/// diagnostic points at the first such intent and counts the others.
pub fn undeclared(program: &Program, code: &'static str, backend: &str) -> Option<Diagnostic> {
    let rules = program.address_rules_without_nodes();
    let first: &Rule = rules.first()?;
    let mut intents: Vec<String> = rules.iter().map(|r| r.origin.qualified()).collect();
    intents.sort();
    intents.dedup();
    let message = format!(
        "intent `{}` uses a CIDR or `world` peer, but the ClusterProfile does not declare `nodeCIDRs`",
        first.origin.qualified()
    );
    let mut d = Diagnostic::error(code, message)
        .with_note(backend.to_string())
        .with_note(
            "CIDR peers and `world` mean addresses outside the cluster, nodes excluded (as on \
             Cilium); this back end's address rules also match node addresses, so without the \
             node networks netpolc cannot carve them out, and the rule could allow or deny \
             traffic to nodes that the intents do not",
        );
    if intents.len() > 1 {
        d = d.with_note(format!(
            "{} more intent(s) use address peers: {}",
            intents.len() - 1,
            intents
                .iter()
                .filter(|i| **i != first.origin.qualified())
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    d = d.with_help(
        "declare the nodes' networks in the ClusterProfile, e.g. `nodeCIDRs: [192.168.0.0/24]` \
         (the INTERNAL-IP column of `kubectl get nodes -o wide`); `nodeCIDRs: []` states that \
         node addresses lie inside the pod or service networks",
    );
    Some(match first.origin.span {
        Some(span) => d.with_label(span, "an address peer"),
        None => d.with_file(first.origin.file.clone()),
    })
}
