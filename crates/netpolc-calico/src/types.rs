//! Typed manifests: the subset of Calico's `projectcalico.org/v3` `Tier`,
//! `GlobalNetworkPolicy` and `NetworkPolicy` that netpolc emits and evaluates.
//!
//! Every struct serialises with Calico's field names, skips absent fields, and refuses
//! unknown fields when deserialising (`deny_unknown_fields`), so that the evaluator never
//! silently ignores a construct whose meaning it does not implement (service accounts,
//! Kubernetes Services, HTTP matches, ...). `metadata` is the exception: fields such as
//! `uid` or `resourceVersion` do not change what a policy means and are ignored.
//!
//! Numbers that Calico range-checks (ports, ICMP type and code, IP version) are kept as
//! `i64` so that [`validate`](crate::validate()) can name the offending value instead of
//! failing to deserialise.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// `projectcalico.org/v3`.
pub const API_VERSION: &str = "projectcalico.org/v3";

/// The object metadata netpolc reads and writes (shared with the other CRD back end).
pub use netpolc_ir::metadata::ObjectMeta;

/// A policy or tier `order`: a float in Calico, written as an integer when it is one
/// (`1000`, not `1000.0`).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Order(pub f64);

impl Serialize for Order {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        // Integral values up to 2^53 are exact in both representations.
        if v.is_finite() && v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
            s.serialize_i64(v as i64)
        } else {
            s.serialize_f64(v)
        }
    }
}

impl<'de> Deserialize<'de> for Order {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        f64::deserialize(d).map(Order)
    }
}

/// A rule action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Action {
    /// Allow the packet (final).
    Allow,
    /// Drop the packet (final).
    Deny,
    /// Log and continue with the next rule.
    Log,
    /// Skip the rest of the tier and continue with the next tier.
    Pass,
}

/// The end-of-tier action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TierAction {
    /// Continue with the next tier (or the profiles).
    Pass,
    /// Drop.
    Deny,
}

/// A policy type (direction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PolicyType {
    /// Traffic into the endpoint.
    Ingress,
    /// Traffic out of the endpoint.
    Egress,
}

/// A protocol: a name (`TCP`, `UDP`, `ICMP`, `ICMPv6`, `SCTP`, `UDPLite`) or a number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Protocol {
    /// An IP protocol number (1–255).
    Number(i64),
    /// A protocol name.
    Name(String),
}

impl Protocol {
    /// The protocol by name.
    pub fn name(name: &str) -> Protocol {
        Protocol::Name(name.to_string())
    }

    /// The IP protocol number, if the protocol is known.
    pub fn number(&self) -> Option<u8> {
        match self {
            Protocol::Number(n) => u8::try_from(*n).ok().filter(|n| *n != 0),
            Protocol::Name(s) => match s.as_str() {
                "TCP" => Some(6),
                "UDP" => Some(17),
                "ICMP" => Some(1),
                "ICMPv6" => Some(58),
                "SCTP" => Some(132),
                "UDPLite" => Some(136),
                _ => None,
            },
        }
    }

    /// Whether rules with this protocol may match ports (TCP, UDP, SCTP).
    pub fn supports_ports(&self) -> bool {
        matches!(self.number(), Some(6 | 17 | 132))
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Number(n) => write!(f, "{n}"),
            Protocol::Name(s) => f.write_str(s),
        }
    }
}

/// A port: a number, or a string holding a range `"min:max"`, a number or a port name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Port {
    /// A single port number.
    Number(i64),
    /// `"min:max"`, a number, or a named port.
    Text(String),
}

/// What a [`Port`] means once parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortValue {
    /// An inclusive range (a single port has `min == max`).
    Range(u16, u16),
    /// A named port, resolved on the destination endpoint.
    Named(String),
}

impl Port {
    /// Parses the port the way Calico does: `"a:b"` is a range, digits are a number,
    /// anything else is a port name. Returns an error message for out-of-range numbers
    /// or reversed ranges.
    pub fn value(&self) -> Result<PortValue, String> {
        let number = |n: i64| -> Result<u16, String> {
            u16::try_from(n)
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("port `{n}` is not between 1 and 65535"))
        };
        let parse = |s: &str| -> Result<u16, String> {
            s.parse::<i64>()
                .map_err(|_| format!("`{s}` is not a port number"))
                .and_then(number)
        };
        match self {
            Port::Number(n) => number(*n).map(|p| PortValue::Range(p, p)),
            Port::Text(s) => {
                if let Some((a, b)) = s.split_once(':') {
                    let (a, b) = (parse(a)?, parse(b)?);
                    if a > b {
                        return Err(format!("port range `{s}` is reversed"));
                    }
                    Ok(PortValue::Range(a, b))
                } else if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
                    parse(s).map(|p| PortValue::Range(p, p))
                } else {
                    Ok(PortValue::Named(s.clone()))
                }
            }
        }
    }
}

/// ICMP type and code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcmpFields {
    /// ICMP type (0–254).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<i64>,
    /// ICMP code (0–255); only with a type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
}

/// One side of a rule (`source` or `destination`). All fields are ANDed; list entries
/// are ORed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntityRule {
    /// Endpoints (and network sets) by label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Namespaces of those endpoints, by namespace label (`projectcalico.org/name` is
    /// the namespace name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<String>,
    /// Endpoints that must not match (not namespace-scoped; matches non-endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_selector: Option<String>,
    /// Address blocks (any address, pods included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nets: Vec<String>,
    /// Address blocks that must not match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_nets: Vec<String>,
    /// Ports (numbers, `"a:b"` ranges, names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// Ports that must not match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ports: Vec<Port>,
}

impl EntityRule {
    /// Whether no field is set (the entity matches everything).
    pub fn is_empty(&self) -> bool {
        // Field by field (every rule is asked twice when written): comparing with a
        // default compares every field, strings and lists as such.
        let EntityRule {
            selector,
            namespace_selector,
            not_selector,
            nets,
            not_nets,
            ports,
            not_ports,
        } = self;
        selector.is_none()
            && namespace_selector.is_none()
            && not_selector.is_none()
            && nets.is_empty()
            && not_nets.is_empty()
            && ports.is_empty()
            && not_ports.is_empty()
    }
}

/// Rule metadata (annotations only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMetadata {
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A policy rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// What to do with matching packets.
    pub action: Action,
    /// Protocol; absent means any protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// Protocol that must not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_protocol: Option<Protocol>,
    /// ICMP type and code (protocol ICMP or ICMPv6 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<IcmpFields>,
    /// ICMP type and code that must not match.
    #[serde(rename = "notICMP", default, skip_serializing_if = "Option::is_none")]
    pub not_icmp: Option<IcmpFields>,
    /// IP version (4 or 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_version: Option<i64>,
    /// Where the packet comes from.
    #[serde(default, skip_serializing_if = "EntityRule::is_empty")]
    pub source: EntityRule,
    /// Where the packet goes.
    #[serde(default, skip_serializing_if = "EntityRule::is_empty")]
    pub destination: EntityRule,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<RuleMetadata>,
}

impl Rule {
    /// A rule with an action and nothing else (matches every packet).
    pub fn new(action: Action) -> Rule {
        Rule {
            action,
            protocol: None,
            not_protocol: None,
            icmp: None,
            not_icmp: None,
            ip_version: None,
            source: EntityRule::default(),
            destination: EntityRule::default(),
            metadata: None,
        }
    }
}

/// The spec of a [`GlobalNetworkPolicy`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlobalNetworkPolicySpec {
    /// The tier (`default` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Position within the tier (absent = last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// The endpoints the policy applies to: every workload and host endpoint of the
    /// cluster that matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Restricts the endpoints to namespaces matching this selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<String>,
    /// Directions the policy applies to (defaulted from the rules when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<PolicyType>>,
    /// Ingress rules, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<Rule>,
    /// Egress rules, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<Rule>,
    /// Host-endpoint option: apply to forwarded traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_on_forward: Option<bool>,
    /// Host-endpoint option: apply before DNAT (host endpoints only).
    #[serde(rename = "preDNAT", default, skip_serializing_if = "Option::is_none")]
    pub pre_dnat: Option<bool>,
    /// Host-endpoint option: untracked policy (host endpoints only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub do_not_track: Option<bool>,
    /// Performance hints (no effect on meaning).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub performance_hints: Vec<String>,
}

/// The spec of a namespaced [`NetworkPolicy`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicySpec {
    /// The tier (`default` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Position within the tier (absent = last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// The endpoints of the policy's namespace it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Directions the policy applies to (defaulted from the rules when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<PolicyType>>,
    /// Ingress rules, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<Rule>,
    /// Egress rules, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<Rule>,
    /// Performance hints (no effect on meaning).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub performance_hints: Vec<String>,
}

/// The spec of a [`Tier`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TierSpec {
    /// Position among tiers (absent = last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// What happens to traffic no policy of the tier decided (`Deny` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<TierAction>,
}

/// A cluster-wide Calico policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlobalNetworkPolicy {
    /// `projectcalico.org/v3`.
    pub api_version: String,
    /// `GlobalNetworkPolicy`.
    pub kind: String,
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: GlobalNetworkPolicySpec,
}

/// A namespaced Calico policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicy {
    /// `projectcalico.org/v3`.
    pub api_version: String,
    /// `NetworkPolicy`.
    pub kind: String,
    /// Metadata (with the namespace).
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: NetworkPolicySpec,
}

/// A policy tier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tier {
    /// `projectcalico.org/v3`.
    pub api_version: String,
    /// `Tier`.
    pub kind: String,
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: TierSpec,
    /// Status written by Calico (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

/// A `GlobalNetworkSet` or a namespaced `NetworkSet`: labelled networks that rule
/// selectors match by address (Calico Open Source has only `nets`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSet {
    /// `projectcalico.org/v3` (or `crd.projectcalico.org/v1`).
    pub api_version: String,
    /// `GlobalNetworkSet` or `NetworkSet`.
    pub kind: String,
    /// Metadata (`namespace` for a `NetworkSet`).
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: NetworkSetSpec,
}

/// The spec of a network set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSetSpec {
    /// The networks (CIDRs or single addresses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nets: Vec<String>,
}

impl GlobalNetworkPolicy {
    /// A policy with the right `apiVersion` and `kind`.
    pub fn new(metadata: ObjectMeta, spec: GlobalNetworkPolicySpec) -> Self {
        GlobalNetworkPolicy {
            api_version: API_VERSION.to_string(),
            kind: "GlobalNetworkPolicy".to_string(),
            metadata,
            spec,
        }
    }
}

impl NetworkPolicy {
    /// A policy with the right `apiVersion` and `kind`.
    pub fn new(metadata: ObjectMeta, spec: NetworkPolicySpec) -> Self {
        NetworkPolicy {
            api_version: API_VERSION.to_string(),
            kind: "NetworkPolicy".to_string(),
            metadata,
            spec,
        }
    }
}

impl Tier {
    /// A tier with the right `apiVersion` and `kind`.
    pub fn new(metadata: ObjectMeta, spec: TierSpec) -> Self {
        Tier {
            api_version: API_VERSION.to_string(),
            kind: "Tier".to_string(),
            metadata,
            spec,
            status: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn order_is_written_as_an_integer_when_integral() {
        assert_eq!(serde_json::to_value(Order(1000.0)).unwrap(), json!(1000));
        assert_eq!(serde_json::to_value(Order(10.5)).unwrap(), json!(10.5));
        let o: Order = serde_json::from_value(json!(100000)).unwrap();
        assert_eq!(o, Order(100000.0));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let r: Result<Rule, _> =
            serde_json::from_value(json!({"action": "Allow", "http": {"methods": ["GET"]}}));
        assert!(r.is_err());
        let r: Result<Rule, _> = serde_json::from_value(
            json!({"action": "Allow", "destination": {"services": {"name": "x"}}}),
        );
        assert!(r.is_err());
        // Unknown metadata is harmless and ignored.
        let m: ObjectMeta =
            serde_json::from_value(json!({"name": "a", "uid": "1", "resourceVersion": "2"}))
                .unwrap();
        assert_eq!(m.name, "a");
    }

    #[test]
    fn ports_parse_like_calico() {
        assert_eq!(Port::Number(80).value(), Ok(PortValue::Range(80, 80)));
        assert_eq!(
            Port::Text("80:90".into()).value(),
            Ok(PortValue::Range(80, 90))
        );
        assert_eq!(
            Port::Text("443".into()).value(),
            Ok(PortValue::Range(443, 443))
        );
        assert_eq!(
            Port::Text("http".into()).value(),
            Ok(PortValue::Named("http".into()))
        );
        assert!(Port::Number(0).value().is_err());
        assert!(Port::Number(70000).value().is_err());
        assert!(Port::Text("90:80".into()).value().is_err());
        let p: Port = serde_json::from_value(json!("1000:2000")).unwrap();
        assert_eq!(p, Port::Text("1000:2000".into()));
    }
}
