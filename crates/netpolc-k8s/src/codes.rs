//! The stable diagnostic codes of the Kubernetes back end (`NP3xxx`).
//!
//! A code is never reused for another meaning once released. Every error names the intent
//! (`set/intent`), points at the intent's span and says, in a note, why plain
//! `networking.k8s.io/v1` NetworkPolicy cannot express it. `NP3010`–`NP3012` are issued by
//! [`netpolc_ir::allow_only::lower`] (a deny intent that cannot be subtracted exactly, see
//! [`netpolc_ir::allow_only::codes`]) and are passed through unchanged by [`crate::check`].

/// Error: the peer is the `host` entity (the pod's own node). NetworkPolicy has no
/// node peer; an `ipBlock` of node addresses is implementation-defined and is not used.
pub const HOST_ENTITY: &str = "NP3002";

/// Error: the peer is a DNS name (FQDN). NetworkPolicy matches addresses only.
pub const FQDN_PEER: &str = "NP3003";

/// Error: the rule carries L7 HTTP constraints. NetworkPolicy is L3/L4 only, and
/// dropping the constraints would widen the rule.
pub const L7_HTTP: &str = "NP3004";

/// Error: the rule names ICMP or ICMPv6. NetworkPolicy ports are TCP, UDP or SCTP only,
/// and what ports-less rules do with ICMP is left to the implementation.
pub const ICMP: &str = "NP3005";

/// Error: the peer is the `kube-apiserver` entity but the cluster profile lists no API
/// server addresses (`api_server_cidrs`); NetworkPolicy can only name them as `ipBlock`s.
pub const NO_API_SERVER_CIDRS: &str = "NP3006";

/// Error: two rendered objects would get the same namespace and name (for example two
/// intent sets whose `set-intent` names normalise to the same DNS label).
pub const NAME_COLLISION: &str = "NP3007";

/// Error: an object rendered for the intent would be rejected by the Kubernetes API
/// server (for example a label key that is not a qualified name, or a named port that is
/// not an IANA service name); the note carries the validation message.
pub const REJECTED_BY_API_SERVER: &str = "NP3008";

/// Warning: the `kube-apiserver` entity is rendered as `ipBlock`s of the profile's API
/// server addresses. This works where the CNI evaluates egress after Service DNAT
/// (Calico, Cilium for off-cluster control planes), but Kubernetes leaves it undefined and
/// Cilium does not match node addresses with `ipBlock` when the API server runs on the
/// cluster's nodes. The rendered rule is never wider than intended.
pub const API_SERVER_AS_IP_BLOCK: &str = "NP3009";

/// Error: a CIDR or `world` peer while the ClusterProfile does not declare `nodeCIDRs`.
/// `ipBlock` (as Calico enforces it) also matches node addresses, which CIDR peers and
/// `world` exclude; see [`netpolc_ir::nodes`].
pub const NODES_UNDECLARED: &str = "NP3020";
