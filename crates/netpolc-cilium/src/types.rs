//! Typed `cilium.io/v2` manifests: the subset of CiliumNetworkPolicy (CNP) and
//! CiliumClusterwideNetworkPolicy (CCNP) that netpolc emits and that its evaluator
//! understands.
//!
//! Field names, nesting and value types follow the CRDs in `tests/fixtures/schemas/cilium/`
//! (ports are strings, `endPort` is a number). Every struct that can change what a policy
//! enforces is `deny_unknown_fields` on deserialisation, so the evaluator refuses a
//! manifest that uses a field it does not model (`toServices`, `fromRequires`, Kafka
//! rules, …) instead of silently ignoring it. `metadata` and `status` accept anything:
//! they never change enforcement, and dumps from a live cluster carry many fields there.
//!
//! Absent fields are never serialised, so a rendered manifest contains exactly the fields
//! netpolc chose to write.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The API version of both kinds.
pub const API_VERSION: &str = "cilium.io/v2";
/// The namespaced kind.
pub const KIND_CNP: &str = "CiliumNetworkPolicy";
/// The cluster-scoped kind.
pub const KIND_CCNP: &str = "CiliumClusterwideNetworkPolicy";

/// A CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy (they share one schema; `kind`
/// tells them apart).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumPolicy {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// [`KIND_CNP`] or [`KIND_CCNP`].
    pub kind: String,
    /// Name, namespace, labels and annotations.
    pub metadata: ObjectMeta,
    /// The single rule form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Rule>,
    /// The list-of-rules form (may be combined with `spec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specs: Option<Vec<Rule>>,
    /// Status written by the cilium-operator; never emitted, ignored when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

/// The object metadata netpolc reads and writes (shared with the other CRD back end).
pub use netpolc_ir::metadata::ObjectMeta;

/// One policy rule (`spec` or an item of `specs`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// The endpoints (pods) the rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_selector: Option<EndpointSelector>,
    /// The nodes the rule applies to (CCNP host policies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<EndpointSelector>,
    /// Whether the rule puts its endpoints into default deny, per direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_default_deny: Option<DefaultDeny>,
    /// Ingress allow rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Vec<IngressRule>>,
    /// Ingress deny rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_deny: Option<Vec<IngressDenyRule>>,
    /// Egress allow rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<EgressRule>>,
    /// Egress deny rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_deny: Option<Vec<EgressDenyRule>>,
}

/// `enableDefaultDeny`: an absent direction defaults to "the rule has rules for it".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultDeny {
    /// Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<bool>,
    /// Egress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<bool>,
}

/// A Kubernetes label selector whose keys may carry a Cilium source prefix
/// (`k8s:app`, `reserved:host`, `any:app`, or bare `app` meaning any source).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointSelector {
    /// Exact key/value matches.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements, ANDed with `matchLabels`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<SelectorRequirement>,
}

/// One `matchExpressions` item.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorRequirement {
    /// Label key, possibly source-prefixed.
    pub key: String,
    /// Operator.
    pub operator: SelectorOperator,
    /// Values (`In`/`NotIn` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A label-selector operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SelectorOperator {
    /// Key present with one of the values.
    In,
    /// Key absent or with none of the values.
    NotIn,
    /// Key present.
    Exists,
    /// Key absent.
    DoesNotExist,
}

/// An ingress allow rule. At most one `from*` peer kind per rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressRule {
    /// Source endpoints (pods, or reserved identities through `reserved:` keys).
    #[serde(
        rename = "fromEndpoints",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub from_endpoints: Vec<EndpointSelector>,
    /// Source CIDRs (plain form).
    #[serde(rename = "fromCIDR", default, skip_serializing_if = "Vec::is_empty")]
    pub from_cidr: Vec<String>,
    /// Source CIDRs with holes.
    #[serde(rename = "fromCIDRSet", default, skip_serializing_if = "Vec::is_empty")]
    pub from_cidr_set: Vec<CidrRule>,
    /// Source entities.
    #[serde(
        rename = "fromEntities",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub from_entities: Vec<Entity>,
    /// Destination ports (of the subject) and L7 rules.
    #[serde(rename = "toPorts", default, skip_serializing_if = "Vec::is_empty")]
    pub to_ports: Vec<PortRule>,
    /// ICMP types (never together with `toPorts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub icmps: Vec<IcmpRule>,
}

/// An ingress deny rule: like [`IngressRule`] but without L7 rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressDenyRule {
    /// Source endpoints.
    #[serde(
        rename = "fromEndpoints",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub from_endpoints: Vec<EndpointSelector>,
    /// Source CIDRs (plain form).
    #[serde(rename = "fromCIDR", default, skip_serializing_if = "Vec::is_empty")]
    pub from_cidr: Vec<String>,
    /// Source CIDRs with holes.
    #[serde(rename = "fromCIDRSet", default, skip_serializing_if = "Vec::is_empty")]
    pub from_cidr_set: Vec<CidrRule>,
    /// Source entities.
    #[serde(
        rename = "fromEntities",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub from_entities: Vec<Entity>,
    /// Destination ports.
    #[serde(rename = "toPorts", default, skip_serializing_if = "Vec::is_empty")]
    pub to_ports: Vec<PortDenyRule>,
    /// ICMP types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub icmps: Vec<IcmpRule>,
}

/// An egress allow rule. At most one `to*` peer kind per rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressRule {
    /// Destination endpoints.
    #[serde(rename = "toEndpoints", default, skip_serializing_if = "Vec::is_empty")]
    pub to_endpoints: Vec<EndpointSelector>,
    /// Destination CIDRs (plain form).
    #[serde(rename = "toCIDR", default, skip_serializing_if = "Vec::is_empty")]
    pub to_cidr: Vec<String>,
    /// Destination CIDRs with holes.
    #[serde(rename = "toCIDRSet", default, skip_serializing_if = "Vec::is_empty")]
    pub to_cidr_set: Vec<CidrRule>,
    /// Destination entities.
    #[serde(rename = "toEntities", default, skip_serializing_if = "Vec::is_empty")]
    pub to_entities: Vec<Entity>,
    /// Destination DNS names (learned through the DNS proxy).
    #[serde(rename = "toFQDNs", default, skip_serializing_if = "Vec::is_empty")]
    pub to_fqdns: Vec<FqdnSelector>,
    /// Destination ports and L7 rules.
    #[serde(rename = "toPorts", default, skip_serializing_if = "Vec::is_empty")]
    pub to_ports: Vec<PortRule>,
    /// ICMP types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub icmps: Vec<IcmpRule>,
}

/// An egress deny rule: no FQDNs, no L7 rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressDenyRule {
    /// Destination endpoints.
    #[serde(rename = "toEndpoints", default, skip_serializing_if = "Vec::is_empty")]
    pub to_endpoints: Vec<EndpointSelector>,
    /// Destination CIDRs (plain form).
    #[serde(rename = "toCIDR", default, skip_serializing_if = "Vec::is_empty")]
    pub to_cidr: Vec<String>,
    /// Destination CIDRs with holes.
    #[serde(rename = "toCIDRSet", default, skip_serializing_if = "Vec::is_empty")]
    pub to_cidr_set: Vec<CidrRule>,
    /// Destination entities.
    #[serde(rename = "toEntities", default, skip_serializing_if = "Vec::is_empty")]
    pub to_entities: Vec<Entity>,
    /// Destination ports.
    #[serde(rename = "toPorts", default, skip_serializing_if = "Vec::is_empty")]
    pub to_ports: Vec<PortDenyRule>,
    /// ICMP types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub icmps: Vec<IcmpRule>,
}

/// A CIDR with holes (`cidrGroupRef`/`cidrGroupSelector` are not modelled).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CidrRule {
    /// The block.
    pub cidr: String,
    /// Holes, each inside `cidr`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
}

/// A Cilium entity (CRD enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Entity {
    /// Everything.
    All,
    /// Outside the cluster.
    World,
    /// Everything of the local cluster (pods, nodes, health, kube-apiserver, …).
    Cluster,
    /// The local node, including host-network pods.
    Host,
    /// Endpoints still initialising.
    Init,
    /// Cilium's ingress proxy.
    Ingress,
    /// Pods not managed by Cilium.
    Unmanaged,
    /// Other nodes.
    RemoteNode,
    /// cilium-health endpoints.
    Health,
    /// Nothing.
    None,
    /// The Kubernetes API server.
    KubeApiserver,
}

impl Entity {
    /// The CRD spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::All => "all",
            Entity::World => "world",
            Entity::Cluster => "cluster",
            Entity::Host => "host",
            Entity::Init => "init",
            Entity::Ingress => "ingress",
            Entity::Unmanaged => "unmanaged",
            Entity::RemoteNode => "remote-node",
            Entity::Health => "health",
            Entity::None => "none",
            Entity::KubeApiserver => "kube-apiserver",
        }
    }
}

/// A DNS name (`matchName`) or pattern (`matchPattern`, `*` within a label); exactly one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FqdnSelector {
    /// Exact name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_name: Option<String>,
    /// Pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_pattern: Option<String>,
}

/// A `toPorts` item of an allow rule: up to 40 ports sharing the same L7 rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortRule {
    /// The ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortProtocol>,
    /// L7 rules for all of these ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<L7Rules>,
}

/// A `toPorts` item of a deny rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortDenyRule {
    /// The ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortProtocol>,
}

/// A port (number, `"0"` for all, or a lower-case port name), optional range end and
/// protocol (absent means `ANY` = TCP, UDP and SCTP).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortProtocol {
    /// The port as a string.
    #[serde(default)]
    pub port: String,
    /// Last port of a range (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i32>,
    /// The protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<L4Protocol>,
}

/// A `toPorts` protocol (CRD enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum L4Protocol {
    /// TCP.
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
    /// SCTP (needs `enable-sctp`).
    #[serde(rename = "SCTP")]
    Sctp,
    /// VRRP (needs `enable-extended-ip-protocols`).
    #[serde(rename = "VRRP")]
    Vrrp,
    /// IGMP (needs `enable-extended-ip-protocols`).
    #[serde(rename = "IGMP")]
    Igmp,
    /// TCP, UDP and SCTP (never ICMP).
    #[serde(rename = "ANY")]
    Any,
}

/// L7 rules of one `toPorts` item (one protocol kind only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L7Rules {
    /// HTTP rules (TCP only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Vec<HttpRule>>,
    /// DNS proxy rules (egress, port 53 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Vec<FqdnSelector>>,
}

/// An HTTP match: method and path are extended POSIX regular expressions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRule {
    /// Method regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// An `icmps` item: up to 40 ICMP types.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcmpRule {
    /// The types.
    #[serde(default)]
    pub fields: Vec<IcmpField>,
}

/// One ICMP type of one address family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcmpField {
    /// `IPv4` (the default) or `IPv6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<IcmpFamily>,
    /// The type, as a number or a name.
    #[serde(rename = "type")]
    pub icmp_type: IcmpType,
}

/// The address family of an ICMP rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IcmpFamily {
    /// ICMP.
    IPv4,
    /// ICMPv6.
    IPv6,
}

/// An ICMP type: a number (what netpolc writes) or a name such as `EchoRequest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IcmpType {
    /// 0–255.
    Number(u8),
    /// A symbolic name.
    Name(String),
}
