//! The stable diagnostic codes of the Calico back end (`NP4xxx`).
//!
//! A code is never reused for another meaning once released. Every diagnostic names the
//! intent (`set/intent`), points at the intent's span (or names its file) and says in its
//! notes that the Calico back end reports it and why. All of them are errors: the Calico
//! back end never approximates.

/// Error: the peer is a DNS name (FQDN). Calico Open Source has no domain matching (the
/// `projectcalico.org/v3` entity rule has no `domains` field; that is Calico Enterprise).
pub const FQDN_PEER: &str = "NP4001";

/// Error: the peer is the `host` entity (the pod's own node). Calico polices pod→own node
/// traffic with the pod's egress policy and then FelixConfiguration
/// `defaultEndpointToHostAction`; there is no selector for "this pod's node" without
/// HostEndpoints.
pub const HOST_ENTITY: &str = "NP4002";

/// Error: the peer is the `kube-apiserver` entity but the cluster profile lists no API
/// server addresses; Calico can only name them as `nets`.
pub const NO_API_SERVER_CIDRS: &str = "NP4003";

/// Error: the rule carries L7 HTTP constraints. Calico Open Source enforces the rule
/// `http` field only with the Istio-based application-layer-policy integration, and
/// dropping the constraints would widen the rule.
pub const L7_HTTP: &str = "NP4004";

/// Error: a label value contains both a single and a double quote. Calico selector
/// string literals have no escapes, so such a value cannot be written.
pub const UNQUOTABLE_VALUE: &str = "NP4005";

/// Error: a label key contains characters outside `[A-Za-z0-9_./-]` (or is empty, or
/// longer than 512 characters), which the Calico selector language cannot name.
pub const BAD_LABEL_KEY: &str = "NP4006";

/// Error: two rendered objects would get the same kind, namespace and name (for example
/// two intents whose names normalise to the same DNS label).
pub const NAME_COLLISION: &str = "NP4007";

/// Error: a rendered selector is longer than the 1024 characters Calico accepts.
pub const SELECTOR_TOO_LONG: &str = "NP4008";

/// Error: the rule's ports cannot be written as a Calico rule (an ICMP type outside
/// 0–254, a named port or a port range on ICMP, an ICMP type on TCP/UDP/SCTP).
pub const BAD_PORTS: &str = "NP4009";

/// Error: one rendered object would have more than 1024 rules in one direction, Calico's
/// limit.
pub const TOO_MANY_RULES: &str = "NP4010";

/// Error: a rendered object fails Calico's server-side validation
/// ([`validate`](crate::validate())); the notes carry the validator's messages. This is
/// the safety net behind the specific codes above.
pub const REJECTED_BY_CALICO: &str = "NP4011";

/// Error: a CIDR or `world` peer while the ClusterProfile does not declare `nodeCIDRs`.
/// Calico `nets` also match node addresses, which CIDR peers and `world` exclude; see
/// [`netpolc_ir::nodes`].
pub const NODES_UNDECLARED: &str = "NP4020";

/// Every code with a one-line summary, in code order (for documentation and tests).
pub const ALL: &[(&str, &str)] = &[
    (
        FQDN_PEER,
        "FQDN peers are not supported by Calico Open Source",
    ),
    (HOST_ENTITY, "the `host` entity cannot be expressed"),
    (
        NO_API_SERVER_CIDRS,
        "`kube-apiserver` needs API server addresses in the profile",
    ),
    (
        L7_HTTP,
        "L7 HTTP rules are not enforced by Calico Open Source",
    ),
    (UNQUOTABLE_VALUE, "a label value with both quote kinds"),
    (
        BAD_LABEL_KEY,
        "a label key the selector language cannot name",
    ),
    (NAME_COLLISION, "two objects with the same name"),
    (SELECTOR_TOO_LONG, "a selector longer than 1024 characters"),
    (BAD_PORTS, "ports that cannot be written as a Calico rule"),
    (TOO_MANY_RULES, "more than 1024 rules in one direction"),
    (REJECTED_BY_CALICO, "an object Calico's validation rejects"),
    (
        NODES_UNDECLARED,
        "address peers without the node networks in the profile",
    ),
];
