//! A typed policy written straight as YAML text ([`to_text`]): the text that
//! `netpolc_ir::yaml::write` writes for a [`GlobalNetworkPolicy`] or a namespaced
//! [`NetworkPolicy`] (fields in their declared order, absent ones skipped as serde
//! skips them), without serde's dispatch for each field and item. Every policy of a
//! render is written so.
//!
//! The layout is that emitter's, written with `netpolc_ir::yaml::block`'s pieces (keys,
//! maps, sequences, scalars), which write every string as the emitter decides and check
//! in debug builds that each key is written as it is. What this writer does not write is left
//! to the emitter: an `order` that is not an integer of at most 53 bits. [`to_text`] is
//! then `None`. A test compares the texts of every shape with the emitter's, and debug
//! builds compare every text (`Packed::new`).

use crate::types::{
    Action, EntityRule, GlobalNetworkPolicy, IcmpFields, NetworkPolicy, ObjectMeta, Order,
    PolicyType, Port, Protocol, Rule, RuleMetadata,
};
use netpolc_ir::yaml::block::{
    boolean, count, dash, integer, item, open_map, open_seq, scalar, string_map, strings, At, Keys,
};

/// `policy` as one YAML document (no `---`), ending in a newline, in a string of its
/// exact length; `None` where the emitter must decide (see the [module](self)).
pub(crate) fn global_policy(policy: &GlobalNetworkPolicy) -> Option<String> {
    netpolc_ir::yaml::buffered(|out| write_global(out, policy).ok_or(())).ok()
}

/// [`global_policy`] for a namespaced `NetworkPolicy`.
pub(crate) fn namespaced_policy(policy: &NetworkPolicy) -> Option<String> {
    netpolc_ir::yaml::buffered(|out| write_namespaced(out, policy).ok_or(())).ok()
}

/// The fields both policy specs have, and the ones only a `GlobalNetworkPolicySpec` has
/// (`None` for a namespaced policy), in the specs' declared order.
struct Spec<'a> {
    tier: &'a Option<String>,
    order: &'a Option<Order>,
    selector: &'a Option<String>,
    namespace_selector: Option<&'a Option<String>>,
    types: &'a Option<Vec<PolicyType>>,
    ingress: &'a [Rule],
    egress: &'a [Rule],
    apply_on_forward: Option<bool>,
    pre_dnat: Option<bool>,
    do_not_track: Option<bool>,
    performance_hints: &'a [String],
}

fn write_global(out: &mut String, p: &GlobalNetworkPolicy) -> Option<()> {
    let s = &p.spec;
    let spec = Spec {
        tier: &s.tier,
        order: &s.order,
        selector: &s.selector,
        namespace_selector: Some(&s.namespace_selector),
        types: &s.types,
        ingress: &s.ingress,
        egress: &s.egress,
        apply_on_forward: s.apply_on_forward,
        pre_dnat: s.pre_dnat,
        do_not_track: s.do_not_track,
        performance_hints: &s.performance_hints,
    };
    head(out, &p.api_version, &p.kind, &p.metadata);
    self::spec(out, &spec)
}

fn write_namespaced(out: &mut String, p: &NetworkPolicy) -> Option<()> {
    let s = &p.spec;
    let spec = Spec {
        tier: &s.tier,
        order: &s.order,
        selector: &s.selector,
        namespace_selector: None,
        types: &s.types,
        ingress: &s.ingress,
        egress: &s.egress,
        apply_on_forward: None,
        pre_dnat: None,
        do_not_track: None,
        performance_hints: &s.performance_hints,
    };
    head(out, &p.api_version, &p.kind, &p.metadata);
    self::spec(out, &spec)
}

/// `apiVersion`, `kind`, `metadata` and the `spec` key (its map follows).
fn head(out: &mut String, api_version: &str, kind: &str, meta: &ObjectMeta) {
    let mut keys = netpolc_ir::yaml::block::head(out, api_version, kind);
    keys.key(out, "metadata");
    netpolc_ir::yaml::block::object_meta(out, meta);
    keys.key(out, "spec");
}

/// An `order` as the emitter writes [`Order`]'s serialisation: an integer when it is
/// one of at most 53 bits; `None` otherwise (left to the emitter).
fn order(out: &mut String, o: Order) -> Option<()> {
    let v = o.0;
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        // Integral and within 2^53: the cast is exact, as `Order::serialize`'s.
        integer(out, v as i64);
        Some(())
    } else {
        None
    }
}

fn spec(out: &mut String, s: &Spec<'_>) -> Option<()> {
    let namespace_selector = s.namespace_selector.and_then(Option::as_ref);
    let entries = count(&[
        s.tier.is_some(),
        s.order.is_some(),
        s.selector.is_some(),
        namespace_selector.is_some(),
        s.types.is_some(),
        !s.ingress.is_empty(),
        !s.egress.is_empty(),
        s.apply_on_forward.is_some(),
        s.pre_dnat.is_some(),
        s.do_not_track.is_some(),
        !s.performance_hints.is_empty(),
    ]);
    if !open_map(out, entries) {
        return Some(());
    }
    let mut keys = Keys::under(0);
    if let Some(tier) = s.tier {
        keys.key(out, "tier");
        scalar(out, 2, tier);
    }
    if let Some(o) = s.order {
        keys.key(out, "order");
        order(out, *o)?;
    }
    if let Some(selector) = s.selector {
        keys.key(out, "selector");
        scalar(out, 2, selector);
    }
    if let Some(selector) = namespace_selector {
        keys.key(out, "namespaceSelector");
        scalar(out, 2, selector);
    }
    if let Some(types) = s.types {
        keys.key(out, "types");
        open_seq(out, types.len());
        for t in types {
            dash(out, 2);
            item(
                out,
                match t {
                    PolicyType::Ingress => "Ingress",
                    PolicyType::Egress => "Egress",
                },
            );
        }
    }
    if !s.ingress.is_empty() {
        keys.key(out, "ingress");
        rules(out, s.ingress)?;
    }
    if !s.egress.is_empty() {
        keys.key(out, "egress");
        rules(out, s.egress)?;
    }
    for (key, value) in [
        ("applyOnForward", s.apply_on_forward),
        ("preDNAT", s.pre_dnat),
        ("doNotTrack", s.do_not_track),
    ] {
        if let Some(b) = value {
            keys.key(out, key);
            boolean(out, b);
        }
    }
    if !s.performance_hints.is_empty() {
        keys.key(out, "performanceHints");
        strings(out, 2, s.performance_hints);
    }
    Some(())
}

/// The rules of a direction, after their key at indentation 2.
fn rules(out: &mut String, rules: &[Rule]) -> Option<()> {
    const DASH: usize = 2;
    open_seq(out, rules.len());
    for r in rules {
        dash(out, DASH);
        rule(out, DASH, r)?;
    }
    Some(())
}

/// A protocol after a key.
fn protocol(out: &mut String, indent: usize, p: &Protocol) {
    match p {
        Protocol::Number(n) => integer(out, *n),
        Protocol::Name(name) => scalar(out, indent, name),
    }
}

/// A rule, as an item whose dash is at `dash` (it always has its `action`).
fn rule(out: &mut String, dash: usize, r: &Rule) -> Option<()> {
    let Rule {
        action,
        protocol,
        not_protocol,
        icmp,
        not_icmp,
        ip_version,
        source,
        destination,
        metadata,
    } = r;
    let mut keys = Keys::item(dash);
    let at = dash + 2;
    keys.key(out, "action");
    item(
        out,
        match action {
            Action::Allow => "Allow",
            Action::Deny => "Deny",
            Action::Log => "Log",
            Action::Pass => "Pass",
        },
    );
    if let Some(p) = protocol {
        keys.key(out, "protocol");
        self::protocol(out, at, p);
    }
    if let Some(p) = not_protocol {
        keys.key(out, "notProtocol");
        self::protocol(out, at, p);
    }
    if let Some(f) = icmp {
        keys.key(out, "icmp");
        icmp_fields(out, at, f);
    }
    if let Some(f) = not_icmp {
        keys.key(out, "notICMP");
        icmp_fields(out, at, f);
    }
    if let Some(v) = ip_version {
        keys.key(out, "ipVersion");
        integer(out, *v);
    }
    if !source.is_empty() {
        keys.key(out, "source");
        entity(out, at, source);
    }
    if !destination.is_empty() {
        keys.key(out, "destination");
        entity(out, at, destination);
    }
    if let Some(RuleMetadata { annotations }) = metadata {
        keys.key(out, "metadata");
        if open_map(out, usize::from(!annotations.is_empty())) {
            let mut inner = Keys::under(at);
            inner.key(out, "annotations");
            string_map(out, At::After(at + 2), annotations);
        }
    }
    Some(())
}

/// ICMP fields after the `key:` of a line indented by `indent`.
fn icmp_fields(out: &mut String, indent: usize, f: &IcmpFields) {
    let IcmpFields { icmp_type, code } = f;
    if open_map(out, count(&[icmp_type.is_some(), code.is_some()])) {
        let mut keys = Keys::under(indent);
        if let Some(t) = icmp_type {
            keys.key(out, "type");
            integer(out, *t);
        }
        if let Some(c) = code {
            keys.key(out, "code");
            integer(out, *c);
        }
    }
}

/// A list of ports after the `key:` of a line indented by `indent`.
fn ports(out: &mut String, indent: usize, ports: &[Port]) {
    open_seq(out, ports.len());
    for p in ports {
        dash(out, indent);
        match p {
            Port::Number(n) => integer(out, *n),
            Port::Text(s) => item(out, s),
        }
    }
}

/// An entity rule (not empty) after the `key:` of a line indented by `indent`.
fn entity(out: &mut String, indent: usize, e: &EntityRule) {
    let EntityRule {
        selector,
        namespace_selector,
        not_selector,
        nets,
        not_nets,
        ports,
        not_ports,
    } = e;
    out.push('\n');
    let mut keys = Keys::under(indent);
    let at = indent + 2;
    for (key, value) in [
        ("selector", selector),
        ("namespaceSelector", namespace_selector),
        ("notSelector", not_selector),
    ] {
        if let Some(s) = value {
            keys.key(out, key);
            scalar(out, at, s);
        }
    }
    for (key, list) in [("nets", nets), ("notNets", not_nets)] {
        if !list.is_empty() {
            keys.key(out, key);
            strings(out, at, list);
        }
    }
    for (key, list) in [("ports", ports), ("notPorts", not_ports)] {
        if !list.is_empty() {
            keys.key(out, key);
            self::ports(out, at, list);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{GlobalNetworkPolicySpec, NetworkPolicySpec};
    use std::collections::BTreeMap;

    /// Every shape of a policy, including the empty ones, multi-line and quoted strings,
    /// is written as the emitter writes it.
    #[test]
    fn it_writes_what_the_emitter_writes() {
        let entity = EntityRule {
            selector: Some("projectcalico.org/orchestrator == 'k8s' && app == 'web'".into()),
            namespace_selector: Some("projectcalico.org/name == 'shop'".into()),
            not_selector: Some("has(x)".into()),
            nets: vec!["10.0.0.0/8".into(), "fd00::/8".into()],
            not_nets: vec!["10.1.0.0/16".into()],
            ports: vec![
                Port::Number(80),
                Port::Text("8080:8090".into()),
                Port::Text("http".into()),
                Port::Number(-1),
                Port::Text("0123".into()),
            ],
            not_ports: vec![Port::Text("81".into())],
        };
        let full = Rule {
            action: Action::Deny,
            protocol: Some(Protocol::Name("TCP".into())),
            not_protocol: Some(Protocol::Number(17)),
            icmp: Some(IcmpFields {
                icmp_type: Some(8),
                code: Some(0),
            }),
            not_icmp: Some(IcmpFields::default()),
            ip_version: Some(-4),
            source: entity.clone(),
            destination: EntityRule {
                ports: vec![Port::Number(5432)],
                ..EntityRule::default()
            },
            metadata: Some(RuleMetadata {
                annotations: BTreeMap::from([("a".to_string(), "b\nc".to_string())]),
            }),
        };
        let rules = vec![
            Rule::new(Action::Allow),
            full,
            Rule {
                protocol: Some(Protocol::Number(6)),
                icmp: Some(IcmpFields {
                    icmp_type: None,
                    code: Some(3),
                }),
                destination: EntityRule {
                    nets: vec!["1.2.3.4/32".into()],
                    ..EntityRule::default()
                },
                metadata: Some(RuleMetadata::default()),
                ..Rule::new(Action::Pass)
            },
            Rule {
                destination: entity,
                ..Rule::new(Action::Log)
            },
        ];
        let annotations = netpolc_ir::yaml::block::sample_annotations();
        let metas = [
            ObjectMeta::default(),
            ObjectMeta {
                name: "netpolc.p".into(),
                namespace: Some("shop".into()),
                labels: BTreeMap::from([(
                    "app.kubernetes.io/managed-by".to_string(),
                    "netpolc".to_string(),
                )]),
                annotations,
            },
        ];
        let orders = [
            None,
            Some(Order(1000.0)),
            Some(Order(-3.0)),
            Some(Order(0.0)),
        ];
        let rule_lists: [Vec<Rule>; 2] = [Vec::new(), rules];
        let mut written = 0;
        for metadata in &metas {
            for order in orders {
                for (i, ingress) in rule_lists.iter().enumerate() {
                    for egress in &rule_lists {
                        let bare = i == 0 && egress.is_empty() && order.is_none();
                        let global = GlobalNetworkPolicy::new(
                            metadata.clone(),
                            if bare {
                                GlobalNetworkPolicySpec::default()
                            } else {
                                GlobalNetworkPolicySpec {
                                    tier: Some("netpolc".into()),
                                    order,
                                    selector: Some("projectcalico.org/namespace == 'shop'".into()),
                                    namespace_selector: Some("team == 'a'".into()),
                                    types: Some(if i == 0 {
                                        Vec::new()
                                    } else {
                                        vec![PolicyType::Ingress, PolicyType::Egress]
                                    }),
                                    ingress: ingress.clone(),
                                    egress: egress.clone(),
                                    apply_on_forward: Some(true),
                                    pre_dnat: Some(false),
                                    do_not_track: Some(false),
                                    performance_hints: vec!["AssumeNeededOnEveryNode".into()],
                                }
                            },
                        );
                        let want = netpolc_ir::yaml::to_string(&global).expect("written");
                        assert_eq!(global_policy(&global).as_deref(), Some(&*want));
                        let namespaced = NetworkPolicy::new(
                            metadata.clone(),
                            NetworkPolicySpec {
                                tier: global.spec.tier.clone(),
                                order,
                                selector: global.spec.selector.clone(),
                                types: global.spec.types.clone(),
                                ingress: ingress.clone(),
                                egress: egress.clone(),
                                performance_hints: Vec::new(),
                            },
                        );
                        let want = netpolc_ir::yaml::to_string(&namespaced).expect("written");
                        assert_eq!(namespaced_policy(&namespaced).as_deref(), Some(&*want));
                        written += 2;
                    }
                }
            }
        }
        assert_eq!(written, 2 * 4 * 2 * 2 * 2);
        // Left to the emitter: an order that is not an integer.
        let mut fractional =
            GlobalNetworkPolicy::new(ObjectMeta::default(), GlobalNetworkPolicySpec::default());
        fractional.spec.order = Some(Order(1.5));
        assert_eq!(global_policy(&fractional), None);
        let mut accented = fractional.clone();
        accented.spec.order = None;
        // Lines outside ASCII are written as the emitter writes them.
        accented.metadata.annotations = BTreeMap::from([("a".to_string(), "é\nb".to_string())]);
        let want = netpolc_ir::yaml::to_string(&accented).expect("written");
        assert_eq!(global_policy(&accented).as_deref(), Some(&*want));
    }
}
