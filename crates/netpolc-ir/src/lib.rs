//! The netpolc intermediate representation (IR).
//!
//! # Contract
//!
//! A [`Program`] is the whole policy repository after lowering: every managed namespace,
//! every isolation, every directional rule, the cluster profile and the connectivity
//! tests. It is built by `netpolc-intent` and read by the back ends, which never see the
//! intent language.
//!
//! **Meaning.** A flow is `(source, destination, protocol, port)` where each endpoint is a
//! pod (namespace, labels, named ports) or an external address. A flow is allowed iff both
//! its *egress side* (the source pod, if any) and its *ingress side* (the destination pod,
//! if any) allow it. One side of a pod in namespace `ns` and direction `d`:
//! 1. if a [`Rule`] with [`Action::Deny`], direction `d`, whose [`Subject`] selects the
//!    pod, whose [`Peer`] matches the other endpoint and whose [`Ports`] match, exists,
//!    the side denies (deny beats allow);
//! 2. otherwise, if an [`Isolation`] for direction `d` covers `ns`, the side allows iff an
//!    [`Action::Allow`] rule matches in the same way;
//! 3. otherwise the side allows (not isolated).
//!
//! [`eval::intended`] implements exactly this, and the back ends' evaluators are checked
//! against it.
//!
//! # Invariants (established by the front end, relied on by every back end)
//!
//! - Every vector in a [`Program`] is sorted and free of duplicates; maps are `BTreeMap`s.
//! - An allow rule only exists for a (namespace, direction) that is isolated: a back end
//!   may therefore emit allow rules without ever isolating anything by accident.
//! - Deny rules exist on any side, isolated or not; back ends must express them without
//!   isolating anything (see each back end's docs).
//! - A [`Peer::Cidr`] never overlaps the profile's pod, service or node CIDRs: the front end
//!   has carved them out with `except`, so CIDR peers mean external addresses only, on
//!   every back end.
//! - Cluster-scoped subjects list the managed namespaces they apply to explicitly.
//! - `ManagedNamespace::isolated` and [`Program::isolations`] always agree: a namespace is
//!   isolated in a direction iff an isolation for that direction covers it.
//! - Selectors are in canonical form ([`LabelSelector`]); the namespace name is the label
//!   [`NAMESPACE_NAME_LABEL`].
//!
//! ```
//! use netpolc_ir::{LabelSelector, Requirement};
//! let frontend = LabelSelector::from_labels([("app", "frontend")]);
//! let labels = [("app".to_string(), "frontend".to_string())].into_iter().collect();
//! assert!(frontend.matches(&labels));
//! assert!(!LabelSelector::from_labels([("app", "db")]).matches(&labels));
//! assert!(frontend.disjoint(&LabelSelector::from_labels([("app", "db")])));
//! let _ = Requirement::exists("tier");
//! ```
#![deny(missing_docs)]

pub mod allow_only;
pub mod backend;
pub mod derive;
pub mod eval;
pub mod explain;
pub mod metadata;
pub mod model;
/// Which written addresses netpolc refuses; their home is `netpolc_kube::addr`.
pub use netpolc_kube::addr;
/// The apimachinery name rules; their home is `netpolc_kube::names` (shared Kubernetes
/// knowledge), re-exported here so that callers keep one path.
pub use netpolc_kube::names;
pub mod naming;
pub mod nodes;
pub mod par;
mod ports;
mod program;
pub mod proof;
pub mod provenance;
mod selector;
pub mod sorted;
pub mod yaml;

pub use ports::{PortMatch, PortSpec, Ports, Protocol};
pub use program::{
    Action, CidrBlock, ClusterProfile, ConnectivityTest, Direction, Entity, Expect, HttpRule,
    IntentKey, Isolation, ManagedNamespace, Origin, Peer, Program, Rule, RuleGroup, Scope, Subject,
    TestCase, TestEndpoint,
};
pub use selector::{LabelSelector, Op, Requirement, NAMESPACE_NAME_LABEL};
