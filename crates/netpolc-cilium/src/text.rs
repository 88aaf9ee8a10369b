//! A typed CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy written straight as YAML
//! text ([`to_text`]): the text that `netpolc_ir::yaml::write` writes for it through
//! serde (fields in declaration order, the fields serde skips left out), without serde's
//! dispatch for each field and item. Every object of a render is written so.
//!
//! The layout is that emitter's, written with `netpolc_ir::yaml::block`'s pieces (keys,
//! maps, sequences, scalars), which write every string as the emitter decides and check
//! in debug builds that each key is written as it is. What this writer does not write is left
//! to the emitter: an object with a `status` (which netpolc never writes). [`to_text`] is
//! then `None`. Debug builds compare every text with the emitter's (`Packed::new`).

use crate::types::{
    CidrRule, CiliumPolicy, DefaultDeny, EndpointSelector, Entity, FqdnSelector, HttpRule,
    IcmpFamily, IcmpField, IcmpRule, IcmpType, L4Protocol, L7Rules, PortDenyRule, PortProtocol,
    PortRule, Rule, SelectorOperator,
};
use netpolc_ir::backend::{Form, Manifest, Taken};
use netpolc_ir::yaml::block::{
    boolean, count, integer, open, seq, string, string_map, strings, At, Keys,
};
use serde_json::Value;

/// A rendered object as it is kept until taken: its YAML text written here ([`to_text`]),
/// or what `netpolc_ir::backend::Packed` makes of it (its tree, or the emitter's text
/// where this writer leaves the decision to it).
#[derive(Clone, Debug)]
pub(crate) enum Packed {
    Text(Box<str>),
    Other(netpolc_ir::backend::Packed),
}

impl Packed {
    /// `object` in `form` (see `netpolc_ir::backend::Packed::new`).
    pub(crate) fn new(object: &CiliumPolicy, form: Form) -> Packed {
        if form == Form::Text {
            if let Some(text) = to_text(object) {
                // Written as the emitter writes it: every debug run checks every object.
                debug_assert_eq!(
                    Some(&text),
                    netpolc_ir::yaml::to_string(object).ok().as_ref()
                );
                return Packed::Text(text.into_boxed_str());
            }
        }
        Packed::Other(netpolc_ir::backend::Packed::new(object, form))
    }

    /// The JSON tree of an object kept as a tree; `None` for a text.
    pub(crate) fn to_value(&self) -> Option<Value> {
        match self {
            Packed::Text(_) => None,
            Packed::Other(packed) => packed.to_value(),
        }
    }
}

impl Manifest for Packed {
    fn take(self: Box<Self>) -> Taken {
        match *self {
            Packed::Text(text) => Taken::Text(text.into_string()),
            Packed::Other(packed) => Box::new(packed).take(),
        }
    }
}

/// `policy` as one YAML document (no `---`), ending in a newline, in a string of its
/// exact length; `None` where the emitter must decide (see the [module](self)).
pub(crate) fn to_text(policy: &CiliumPolicy) -> Option<String> {
    netpolc_ir::yaml::buffered(|out| write(out, policy).ok_or(())).ok()
}

/// Appends `policy` ([`to_text`]); `None` (with `out` partly written) where the emitter
/// must decide.
fn write(out: &mut String, policy: &CiliumPolicy) -> Option<()> {
    let CiliumPolicy {
        api_version,
        kind,
        metadata,
        spec,
        specs,
        status,
    } = policy;
    if status.is_some() {
        return None;
    }
    let mut keys = netpolc_ir::yaml::block::head(out, api_version, kind);
    keys.key(out, "metadata");
    netpolc_ir::yaml::block::object_meta(out, metadata);
    if let Some(spec) = spec {
        let at = keys.key(out, "spec");
        rule(out, at, spec)?;
    }
    if let Some(specs) = specs {
        keys.key(out, "specs");
        seq(out, 0, specs, rule)?;
    }
    Some(())
}

/// A rule (`spec` or an item of `specs`) at `at`.
fn rule(out: &mut String, at: At, rule: &Rule) -> Option<()> {
    let Rule {
        endpoint_selector,
        node_selector,
        enable_default_deny,
        ingress,
        ingress_deny,
        egress,
        egress_deny,
    } = rule;
    let entries = count(&[
        endpoint_selector.is_some(),
        node_selector.is_some(),
        enable_default_deny.is_some(),
        ingress.is_some(),
        ingress_deny.is_some(),
        egress.is_some(),
        egress_deny.is_some(),
    ]);
    let Some(mut keys) = open(out, at, entries) else {
        return Some(());
    };
    if let Some(s) = endpoint_selector {
        let at = keys.key(out, "endpointSelector");
        selector(out, at, s)?;
    }
    if let Some(s) = node_selector {
        let at = keys.key(out, "nodeSelector");
        selector(out, at, s)?;
    }
    if let Some(d) = enable_default_deny {
        let at = keys.key(out, "enableDefaultDeny");
        default_deny(out, at, *d);
    }
    if let Some(rules) = ingress {
        peer_rules(out, &mut keys, "ingress", rules, |r| {
            PeerRule::from(
                (
                    &r.from_endpoints,
                    &r.from_cidr,
                    &r.from_cidr_set,
                    &r.from_entities,
                ),
                Ports::Allow(&r.to_ports),
                &r.icmps,
            )
        })?;
    }
    if let Some(rules) = ingress_deny {
        peer_rules(out, &mut keys, "ingressDeny", rules, |r| {
            PeerRule::from(
                (
                    &r.from_endpoints,
                    &r.from_cidr,
                    &r.from_cidr_set,
                    &r.from_entities,
                ),
                Ports::Deny(&r.to_ports),
                &r.icmps,
            )
        })?;
    }
    if let Some(rules) = egress {
        peer_rules(out, &mut keys, "egress", rules, |r| {
            PeerRule::to(
                (&r.to_endpoints, &r.to_cidr, &r.to_cidr_set, &r.to_entities),
                &r.to_fqdns,
                Ports::Allow(&r.to_ports),
                &r.icmps,
            )
        })?;
    }
    if let Some(rules) = egress_deny {
        peer_rules(out, &mut keys, "egressDeny", rules, |r| {
            PeerRule::to(
                (&r.to_endpoints, &r.to_cidr, &r.to_cidr_set, &r.to_entities),
                &[],
                Ports::Deny(&r.to_ports),
                &r.icmps,
            )
        })?;
    }
    Some(())
}

fn default_deny(out: &mut String, at: At, d: DefaultDeny) {
    let DefaultDeny { ingress, egress } = d;
    let Some(mut keys) = open(out, at, count(&[ingress.is_some(), egress.is_some()])) else {
        return;
    };
    if let Some(b) = ingress {
        keys.key(out, "ingress");
        boolean(out, b);
    }
    if let Some(b) = egress {
        keys.key(out, "egress");
        boolean(out, b);
    }
}

/// The `toPorts` of an allow rule or of a deny rule.
enum Ports<'r> {
    Allow(&'r [PortRule]),
    Deny(&'r [PortDenyRule]),
}

impl Ports<'_> {
    fn is_empty(&self) -> bool {
        match self {
            Ports::Allow(p) => p.is_empty(),
            Ports::Deny(p) => p.is_empty(),
        }
    }
}

/// The fields of the four rule kinds (ingress and egress, allow and deny), in their
/// order, with their names; `fqdns` is empty (so skipped) for the kinds without it.
struct PeerRule<'r> {
    endpoints: (&'static str, &'r [EndpointSelector]),
    cidr: (&'static str, &'r [String]),
    cidr_set: (&'static str, &'r [CidrRule]),
    entities: (&'static str, &'r [Entity]),
    fqdns: &'r [FqdnSelector],
    ports: Ports<'r>,
    icmps: &'r [IcmpRule],
}

/// A rule's peers: its endpoints, CIDRs, CIDR sets and entities.
type Peers<'r> = (
    &'r [EndpointSelector],
    &'r [String],
    &'r [CidrRule],
    &'r [Entity],
);

impl<'r> PeerRule<'r> {
    /// An ingress rule's fields (`from…`; ingress has no FQDNs).
    fn from(peers: Peers<'r>, ports: Ports<'r>, icmps: &'r [IcmpRule]) -> PeerRule<'r> {
        let (endpoints, cidr, cidr_set, entities) = peers;
        PeerRule {
            endpoints: ("fromEndpoints", endpoints),
            cidr: ("fromCIDR", cidr),
            cidr_set: ("fromCIDRSet", cidr_set),
            entities: ("fromEntities", entities),
            fqdns: &[],
            ports,
            icmps,
        }
    }

    /// An egress rule's fields (`to…`).
    fn to(
        peers: Peers<'r>,
        fqdns: &'r [FqdnSelector],
        ports: Ports<'r>,
        icmps: &'r [IcmpRule],
    ) -> PeerRule<'r> {
        let (endpoints, cidr, cidr_set, entities) = peers;
        PeerRule {
            endpoints: ("toEndpoints", endpoints),
            cidr: ("toCIDR", cidr),
            cidr_set: ("toCIDRSet", cidr_set),
            entities: ("toEntities", entities),
            fqdns,
            ports,
            icmps,
        }
    }
}

/// The rules of one direction after their key `key`, each written by [`peer_rule`] from
/// the fields `fields` picks.
fn peer_rules<R>(
    out: &mut String,
    keys: &mut Keys,
    key: &str,
    rules: &[R],
    fields: impl for<'r> Fn(&'r R) -> PeerRule<'r>,
) -> Option<()> {
    keys.key(out, key);
    seq(out, keys.indent(), rules, |out, at, r| {
        peer_rule(out, at, &fields(r))
    })
}

fn peer_rule(out: &mut String, at: At, r: &PeerRule<'_>) -> Option<()> {
    let entries = count(&[
        !r.endpoints.1.is_empty(),
        !r.cidr.1.is_empty(),
        !r.cidr_set.1.is_empty(),
        !r.entities.1.is_empty(),
        !r.fqdns.is_empty(),
        !r.ports.is_empty(),
        !r.icmps.is_empty(),
    ]);
    let Some(mut keys) = open(out, at, entries) else {
        return Some(());
    };
    let indent = keys.indent();
    if !r.endpoints.1.is_empty() {
        keys.key(out, r.endpoints.0);
        seq(out, indent, r.endpoints.1, selector)?;
    }
    if !r.cidr.1.is_empty() {
        keys.key(out, r.cidr.0);
        strings(out, indent, r.cidr.1);
    }
    if !r.cidr_set.1.is_empty() {
        keys.key(out, r.cidr_set.0);
        seq(out, indent, r.cidr_set.1, cidr_rule)?;
    }
    if !r.entities.1.is_empty() {
        keys.key(out, r.entities.0);
        seq(out, indent, r.entities.1, |out, at, e| {
            string(out, at, e.as_str());
            Some(())
        })?;
    }
    if !r.fqdns.is_empty() {
        keys.key(out, "toFQDNs");
        seq(out, indent, r.fqdns, fqdn)?;
    }
    match r.ports {
        Ports::Allow(ports) if !ports.is_empty() => {
            keys.key(out, "toPorts");
            seq(out, indent, ports, port_rule)?;
        }
        Ports::Deny(ports) if !ports.is_empty() => {
            keys.key(out, "toPorts");
            seq(out, indent, ports, |out, at, p| {
                let Some(mut keys) = open(out, at, usize::from(!p.ports.is_empty())) else {
                    return Some(());
                };
                keys.key(out, "ports");
                seq(out, keys.indent(), &p.ports, port)
            })?;
        }
        _ => {}
    }
    if !r.icmps.is_empty() {
        keys.key(out, "icmps");
        seq(out, indent, r.icmps, icmp_rule)?;
    }
    Some(())
}

/// An endpoint selector at `at`.
fn selector(out: &mut String, at: At, s: &EndpointSelector) -> Option<()> {
    let EndpointSelector {
        match_labels,
        match_expressions,
    } = s;
    let entries = count(&[!match_labels.is_empty(), !match_expressions.is_empty()]);
    let Some(mut keys) = open(out, at, entries) else {
        return Some(());
    };
    if !match_labels.is_empty() {
        let at = keys.key(out, "matchLabels");
        string_map(out, at, match_labels);
    }
    if !match_expressions.is_empty() {
        keys.key(out, "matchExpressions");
        seq(out, keys.indent(), match_expressions, |out, at, e| {
            let entries = count(&[true, true, !e.values.is_empty()]);
            let mut keys = open(out, at, entries)?;
            let at = keys.key(out, "key");
            string(out, at, &e.key);
            let at = keys.key(out, "operator");
            string(out, at, operator(e.operator));
            if !e.values.is_empty() {
                keys.key(out, "values");
                strings(out, keys.indent(), &e.values);
            }
            Some(())
        })?;
    }
    Some(())
}

/// An operator as serde spells it (its variant's name).
fn operator(op: SelectorOperator) -> &'static str {
    match op {
        SelectorOperator::In => "In",
        SelectorOperator::NotIn => "NotIn",
        SelectorOperator::Exists => "Exists",
        SelectorOperator::DoesNotExist => "DoesNotExist",
    }
}

fn cidr_rule(out: &mut String, at: At, c: &CidrRule) -> Option<()> {
    let CidrRule { cidr, except } = c;
    let mut keys = open(out, at, count(&[true, !except.is_empty()]))?;
    let at = keys.key(out, "cidr");
    string(out, at, cidr);
    if !except.is_empty() {
        keys.key(out, "except");
        strings(out, keys.indent(), except);
    }
    Some(())
}

fn fqdn(out: &mut String, at: At, f: &FqdnSelector) -> Option<()> {
    let FqdnSelector {
        match_name,
        match_pattern,
    } = f;
    let entries = count(&[match_name.is_some(), match_pattern.is_some()]);
    let Some(mut keys) = open(out, at, entries) else {
        return Some(());
    };
    if let Some(name) = match_name {
        let at = keys.key(out, "matchName");
        string(out, at, name);
    }
    if let Some(pattern) = match_pattern {
        let at = keys.key(out, "matchPattern");
        string(out, at, pattern);
    }
    Some(())
}

fn port_rule(out: &mut String, at: At, p: &PortRule) -> Option<()> {
    let PortRule { ports, rules } = p;
    let entries = count(&[!ports.is_empty(), rules.is_some()]);
    let Some(mut keys) = open(out, at, entries) else {
        return Some(());
    };
    if !ports.is_empty() {
        keys.key(out, "ports");
        seq(out, keys.indent(), ports, port)?;
    }
    if let Some(rules) = rules {
        let at = keys.key(out, "rules");
        l7(out, at, rules)?;
    }
    Some(())
}

fn port(out: &mut String, at: At, p: &PortProtocol) -> Option<()> {
    let PortProtocol {
        port,
        end_port,
        protocol,
    } = p;
    let mut keys = open(
        out,
        at,
        count(&[true, end_port.is_some(), protocol.is_some()]),
    )?;
    let at = keys.key(out, "port");
    string(out, at, port);
    if let Some(end) = end_port {
        keys.key(out, "endPort");
        integer(out, i64::from(*end));
    }
    if let Some(protocol) = protocol {
        let at = keys.key(out, "protocol");
        string(out, at, protocol_name(*protocol));
    }
    Some(())
}

/// A protocol as serde spells it.
fn protocol_name(p: L4Protocol) -> &'static str {
    match p {
        L4Protocol::Tcp => "TCP",
        L4Protocol::Udp => "UDP",
        L4Protocol::Sctp => "SCTP",
        L4Protocol::Vrrp => "VRRP",
        L4Protocol::Igmp => "IGMP",
        L4Protocol::Any => "ANY",
    }
}

fn l7(out: &mut String, at: At, rules: &L7Rules) -> Option<()> {
    let L7Rules { http, dns } = rules;
    let Some(mut keys) = open(out, at, count(&[http.is_some(), dns.is_some()])) else {
        return Some(());
    };
    if let Some(http) = http {
        keys.key(out, "http");
        seq(out, keys.indent(), http, http_rule)?;
    }
    if let Some(dns) = dns {
        keys.key(out, "dns");
        seq(out, keys.indent(), dns, fqdn)?;
    }
    Some(())
}

fn http_rule(out: &mut String, at: At, h: &HttpRule) -> Option<()> {
    let HttpRule { method, path } = h;
    let Some(mut keys) = open(out, at, count(&[method.is_some(), path.is_some()])) else {
        return Some(());
    };
    if let Some(method) = method {
        let at = keys.key(out, "method");
        string(out, at, method);
    }
    if let Some(path) = path {
        let at = keys.key(out, "path");
        string(out, at, path);
    }
    Some(())
}

fn icmp_rule(out: &mut String, at: At, r: &IcmpRule) -> Option<()> {
    let mut keys = open(out, at, 1)?;
    keys.key(out, "fields");
    seq(out, keys.indent(), &r.fields, icmp_field)
}

fn icmp_field(out: &mut String, at: At, f: &IcmpField) -> Option<()> {
    let IcmpField { family, icmp_type } = f;
    let mut keys = open(out, at, count(&[family.is_some(), true]))?;
    if let Some(family) = family {
        let at = keys.key(out, "family");
        let name = match family {
            IcmpFamily::IPv4 => "IPv4",
            IcmpFamily::IPv6 => "IPv6",
        };
        string(out, at, name);
    }
    let at = keys.key(out, "type");
    match icmp_type {
        IcmpType::Number(n) => integer(out, i64::from(*n)),
        IcmpType::Name(name) => string(out, at, name),
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ObjectMeta;
    use crate::types::{
        EgressDenyRule, EgressRule, IngressDenyRule, IngressRule, SelectorRequirement, API_VERSION,
        KIND_CCNP, KIND_CNP,
    };
    use std::collections::BTreeMap;

    fn selector(labels: &[(&str, &str)], expressions: bool) -> EndpointSelector {
        EndpointSelector {
            match_labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            match_expressions: if expressions {
                vec![
                    SelectorRequirement {
                        key: "k8s:tier".into(),
                        operator: SelectorOperator::In,
                        values: vec!["a".into(), "true".into(), "10".into()],
                    },
                    SelectorRequirement {
                        key: "k8s:x".into(),
                        operator: SelectorOperator::Exists,
                        values: Vec::new(),
                    },
                    SelectorRequirement {
                        key: "y".into(),
                        operator: SelectorOperator::NotIn,
                        values: vec!["b c".into()],
                    },
                    SelectorRequirement {
                        key: "z".into(),
                        operator: SelectorOperator::DoesNotExist,
                        values: Vec::new(),
                    },
                ]
            } else {
                Vec::new()
            },
        }
    }

    fn port_rules() -> Vec<PortRule> {
        let ports = vec![
            PortProtocol::default(),
            PortProtocol {
                port: "8080".into(),
                end_port: Some(8090),
                protocol: Some(L4Protocol::Tcp),
            },
            PortProtocol {
                port: "dns".into(),
                end_port: None,
                protocol: Some(L4Protocol::Udp),
            },
            PortProtocol {
                port: "0".into(),
                end_port: Some(-1),
                protocol: Some(L4Protocol::Any),
            },
            PortProtocol {
                port: "9".into(),
                end_port: None,
                protocol: Some(L4Protocol::Sctp),
            },
            PortProtocol {
                port: "1".into(),
                end_port: None,
                protocol: Some(L4Protocol::Vrrp),
            },
            PortProtocol {
                port: "2".into(),
                end_port: None,
                protocol: Some(L4Protocol::Igmp),
            },
        ];
        vec![
            PortRule::default(),
            PortRule {
                ports: ports.clone(),
                rules: None,
            },
            PortRule {
                ports: ports[1..2].to_vec(),
                rules: Some(L7Rules::default()),
            },
            PortRule {
                ports: Vec::new(),
                rules: Some(L7Rules {
                    http: Some(vec![
                        HttpRule::default(),
                        HttpRule {
                            method: Some("GET".into()),
                            path: Some("/api/.*".into()),
                        },
                        HttpRule {
                            method: None,
                            path: Some("*: x".into()),
                        },
                    ]),
                    dns: Some(Vec::new()),
                }),
            },
            PortRule {
                ports,
                rules: Some(L7Rules {
                    http: Some(Vec::new()),
                    dns: Some(vec![
                        FqdnSelector::default(),
                        FqdnSelector {
                            match_name: None,
                            match_pattern: Some("*".into()),
                        },
                        FqdnSelector {
                            match_name: Some("example.com".into()),
                            match_pattern: Some("*.example.com".into()),
                        },
                    ]),
                }),
            },
        ]
    }

    fn icmps() -> Vec<IcmpRule> {
        vec![
            IcmpRule::default(),
            IcmpRule {
                fields: vec![
                    IcmpField {
                        family: None,
                        icmp_type: IcmpType::Number(0),
                    },
                    IcmpField {
                        family: Some(IcmpFamily::IPv4),
                        icmp_type: IcmpType::Number(255),
                    },
                    IcmpField {
                        family: Some(IcmpFamily::IPv6),
                        icmp_type: IcmpType::Name("EchoRequest".into()),
                    },
                    IcmpField {
                        family: None,
                        icmp_type: IcmpType::Name("yes".into()),
                    },
                ],
            },
        ]
    }

    fn cidr_sets() -> Vec<CidrRule> {
        vec![
            CidrRule {
                cidr: "10.0.0.0/8".into(),
                except: vec!["10.1.0.0/16".into(), "10.2.0.0/16".into()],
            },
            CidrRule {
                cidr: "::/0".into(),
                except: Vec::new(),
            },
        ]
    }

    fn endpoints() -> Vec<EndpointSelector> {
        vec![
            EndpointSelector::default(),
            selector(&[("k8s:app", "web"), ("k8s:on", "yes")], true),
            selector(&[("k8s:io.kubernetes.pod.namespace", "shop")], false),
            selector(&[], true),
        ]
    }

    const ENTITIES: [Entity; 11] = [
        Entity::All,
        Entity::World,
        Entity::Cluster,
        Entity::Host,
        Entity::Init,
        Entity::Ingress,
        Entity::Unmanaged,
        Entity::RemoteNode,
        Entity::Health,
        Entity::None,
        Entity::KubeApiserver,
    ];

    fn rules() -> Vec<Rule> {
        let ingress = vec![
            IngressRule::default(),
            IngressRule {
                from_endpoints: endpoints(),
                to_ports: port_rules(),
                ..IngressRule::default()
            },
            IngressRule {
                from_cidr: vec!["10.0.0.0/8".into(), "::1/128".into()],
                from_cidr_set: cidr_sets(),
                from_entities: ENTITIES.to_vec(),
                icmps: icmps(),
                ..IngressRule::default()
            },
        ];
        let deny_ports = |ports: Vec<PortRule>| -> Vec<PortDenyRule> {
            ports
                .into_iter()
                .map(|p| PortDenyRule { ports: p.ports })
                .collect()
        };
        let ingress_deny = vec![
            IngressDenyRule::default(),
            IngressDenyRule {
                from_endpoints: endpoints(),
                from_cidr: vec!["10.0.0.0/8".into()],
                from_cidr_set: cidr_sets(),
                from_entities: ENTITIES.to_vec(),
                to_ports: deny_ports(port_rules()),
                icmps: icmps(),
            },
        ];
        let egress = vec![
            EgressRule::default(),
            EgressRule {
                to_endpoints: endpoints(),
                to_cidr: vec!["10.0.0.0/8".into()],
                to_cidr_set: cidr_sets(),
                to_entities: ENTITIES.to_vec(),
                to_fqdns: vec![
                    FqdnSelector {
                        match_name: Some("api.example.com".into()),
                        match_pattern: None,
                    },
                    FqdnSelector {
                        match_name: None,
                        match_pattern: Some("*.example.com".into()),
                    },
                ],
                to_ports: port_rules(),
                icmps: icmps(),
            },
        ];
        let egress_deny = vec![
            EgressDenyRule::default(),
            EgressDenyRule {
                to_endpoints: endpoints(),
                to_cidr: vec!["10.0.0.0/8".into()],
                to_cidr_set: cidr_sets(),
                to_entities: ENTITIES.to_vec(),
                to_ports: deny_ports(port_rules()),
                icmps: icmps(),
            },
        ];
        vec![
            Rule::default(),
            Rule {
                endpoint_selector: Some(EndpointSelector::default()),
                node_selector: Some(selector(&[("reserved:host", "")], false)),
                enable_default_deny: Some(DefaultDeny::default()),
                ingress: Some(Vec::new()),
                ingress_deny: Some(Vec::new()),
                egress: Some(Vec::new()),
                egress_deny: Some(Vec::new()),
            },
            Rule {
                endpoint_selector: Some(selector(&[("k8s:app", "web")], true)),
                node_selector: None,
                enable_default_deny: Some(DefaultDeny {
                    ingress: Some(true),
                    egress: Some(false),
                }),
                ingress: Some(ingress),
                ingress_deny: Some(ingress_deny),
                egress: Some(egress),
                egress_deny: Some(egress_deny),
            },
            Rule {
                enable_default_deny: Some(DefaultDeny {
                    ingress: None,
                    egress: Some(true),
                }),
                ..Rule::default()
            },
        ]
    }

    /// Every shape of a Cilium policy, including the empty ones, multi-line and quoted
    /// strings, is written as the emitter writes it through serde.
    #[test]
    fn it_writes_what_the_emitter_writes() {
        let annotations = netpolc_ir::yaml::block::sample_annotations();
        let metas = [
            ObjectMeta::default(),
            ObjectMeta {
                name: "p".into(),
                namespace: Some("shop".into()),
                labels: BTreeMap::from([("app.kubernetes.io/managed-by".into(), "netpolc".into())]),
                annotations,
            },
            ObjectMeta {
                name: "yes".into(),
                namespace: None,
                labels: BTreeMap::new(),
                annotations: BTreeMap::from([("x".into(), "-".into())]),
            },
        ];
        let rules = rules();
        let specs = [None, Some(Vec::new()), Some(rules.clone())];
        let mut written = 0;
        for metadata in &metas {
            for kind in [KIND_CNP, KIND_CCNP, "a: b"] {
                for spec in rules.iter().map(Some).chain([None]) {
                    for specs in &specs {
                        let policy = CiliumPolicy {
                            api_version: API_VERSION.into(),
                            kind: kind.into(),
                            metadata: metadata.clone(),
                            spec: spec.cloned(),
                            specs: specs.clone(),
                            status: None,
                        };
                        let want = netpolc_ir::yaml::to_string(&policy).expect("written");
                        assert_eq!(to_text(&policy).as_deref(), Some(&*want), "{policy:?}");
                        written += 1;
                    }
                }
            }
        }
        assert_eq!(written, 3 * 3 * 5 * 3);
        // Left to the emitter: a status.
        let mut with_status = CiliumPolicy {
            api_version: API_VERSION.into(),
            kind: KIND_CNP.into(),
            metadata: ObjectMeta::default(),
            spec: None,
            specs: None,
            status: Some(Value::Null),
        };
        assert_eq!(to_text(&with_status), None);
        let Packed::Other(_) = Packed::new(&with_status, Form::Text) else {
            panic!("left to the emitter");
        };
        // Lines outside ASCII after a key are written as the emitter writes them.
        with_status.status = None;
        with_status.metadata.annotations = BTreeMap::from([("a".to_string(), "é\nb".to_string())]);
        assert_eq!(
            to_text(&with_status),
            netpolc_ir::yaml::to_string(&with_status).ok()
        );
    }
}
