//! Rendering a checked program into CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy
//! manifests (see the crate docs for the design).

use crate::dns;
use crate::labels::{k8s_key, NAMESPACE_KEY, NAMESPACE_LABELS_PREFIX};
use crate::text::Packed;
use crate::types::{
    self, CidrRule, CiliumPolicy, DefaultDeny, EgressDenyRule, EgressRule, EndpointSelector,
    FqdnSelector, HttpRule, IcmpFamily, IcmpField, IcmpRule, IcmpType, IngressDenyRule,
    IngressRule, L4Protocol, L7Rules, ObjectMeta, PortDenyRule, PortProtocol, PortRule,
    SelectorOperator, SelectorRequirement,
};
use crate::Options;
use netpolc_ir::backend::Form;
use netpolc_ir::provenance::{
    numbered_object_name, scoped_subject_words, split_at_intents, Provenance, MAX_OBJECT_RULES,
    RULES_ANNOTATION,
};
use netpolc_ir::{
    Action, Direction, Entity, LabelSelector, Op, Origin, Peer, PortMatch, PortSpec, Ports,
    Program, Protocol, Rule, Scope, NAMESPACE_NAME_LABEL,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Cilium's limit of ports per `toPorts` item and of fields per `icmps` item.
pub(crate) const MAX_PORTS: usize = 40;

pub(crate) use netpolc_ir::metadata::INTENT_ANNOTATION;
use netpolc_ir::metadata::{MANAGED_BY, MANAGED_BY_LABEL, SOURCE_ANNOTATION};

/// Renders the objects of a program that passed [`crate::check`], sorted: cluster-wide
/// objects by name, then namespaced objects by namespace and name.
pub fn render(program: &Program, options: &Options) -> Vec<Value> {
    // Consume the packed objects while converting them: both forms are never held in
    // full. (On one thread: trees built on other threads are freed later by this one,
    // and mimalloc's frees across threads cost more than the conversion saves.)
    // Packed as trees, each has one: were it not, the object would show as `null`
    // rather than go missing.
    render_packed(program, options, Form::Tree)
        .into_iter()
        .map(|p| p.to_value().unwrap_or(Value::Null))
        .collect()
}

/// [`render`]'s objects, packed ([`Packed`]) in `form` as soon as each is built.
pub(crate) fn render_packed(program: &Program, options: &Options, form: Form) -> Vec<Packed> {
    // Nothing in the output depends on an option today: the check refuses what the
    // options do not allow.
    let _ = options;
    let mut objects: Vec<Keyed> = Vec::new();
    render_isolations(program, &mut objects, form);
    render_rules(program, &mut objects, form);
    objects.sort_by(|a, b| a.0.cmp(&b.0));
    objects.into_iter().map(|(_, packed)| packed).collect()
}

/// A rendered object, packed, with its sort key: cluster-wide objects by name, then
/// namespaced ones by namespace and name.
type Keyed = ((bool, Option<String>, String), Packed);

/// Packs `object` in `form` with its sort key.
fn keyed(object: CiliumPolicy, form: Form) -> Keyed {
    let packed = Packed::new(&object, form);
    (
        (
            object.kind == types::KIND_CNP,
            object.metadata.namespace,
            object.metadata.name,
        ),
        packed,
    )
}

/// One object per intent set and scope, covering its isolated directions.
fn render_isolations(program: &Program, objects: &mut Vec<Keyed>, form: Form) {
    let mut by_set: BTreeMap<(&Scope, &str), (&Origin, BTreeSet<Direction>)> = BTreeMap::new();
    for iso in &program.isolations {
        by_set
            .entry((&iso.scope, iso.origin.set.as_str()))
            .or_insert((&iso.origin, BTreeSet::new()))
            .1
            .insert(iso.direction);
    }
    for ((scope, set), (origin, directions)) in by_set {
        let ingress = directions.contains(&Direction::Ingress);
        let egress = directions.contains(&Direction::Egress);
        let spec = types::Rule {
            endpoint_selector: Some(scope_selector(scope, &LabelSelector::all())),
            enable_default_deny: Some(DefaultDeny {
                ingress: Some(ingress),
                egress: Some(egress),
            }),
            // The empty rule allows nothing; it is there because a rule needs at least
            // one rule list, and it makes the direction default-deny on its own too.
            ingress: ingress.then(|| vec![IngressRule::default()]),
            egress: egress.then(|| vec![EgressRule::default()]),
            ..types::Rule::default()
        };
        objects.push(keyed(
            object(
                scope,
                netpolc_ir::naming::object_name(set, &["isolate"], 63),
                origin,
                origin.qualified(),
                spec,
            ),
            form,
        ));
    }
}

fn render_rules(program: &Program, objects: &mut Vec<Keyed>, form: Form) {
    let carriers = dns::dns_carriers(program);
    let groups = program.rules_by_object();
    // CiliumClusterwideNetworkPolicies share one name space, CiliumNetworkPolicies one
    // per namespace.
    let cluster_wide = |scope: &Scope| matches!(scope, Scope::Cluster(_));
    // Each (set, direction, action) on every core; objects in the order of the groups.
    // Taken by value: each group's maps are freed on the thread that rendered it (freed
    // after the fact, on one core, they took 15 ms at 2,000 namespaces).
    let rendered = netpolc_ir::par::flat_map_into(
        netpolc_ir::par::threads(),
        groups,
        256,
        |group, objects| {
            let ((set, direction, action), subjects) = &group;
            let (set, direction, action) = (*set, *direction, *action);
            let keys: Vec<(&Scope, &LabelSelector)> = subjects.keys().copied().collect();
            let words = scoped_subject_words(&keys, &cluster_wide);
            for (((scope, pods), by_intent), word) in subjects.iter().zip(words) {
                let (scope, pods) = (*scope, *pods);
                // Each intent's items (an intent left with none names no object).
                let intents: Vec<(&Origin, Vec<Item>)> = by_intent
                    .values()
                    .map(|indices| {
                        let origin = &*program.rules[indices[0]].origin;
                        // Nearly every rule is one item: sized once, not grown.
                        let mut items: Vec<Item> = Vec::with_capacity(indices.len());
                        for &i in indices {
                            items.extend(self::items(&program.rules[i], carriers[i]));
                        }
                        (origin, items)
                    })
                    .filter(|(_, items)| !items.is_empty())
                    .collect();
                // At most MAX_OBJECT_RULES rules an object: continuations `-2`, `-3`, …
                // at intent boundaries. No intent left (an FQDN source, dropped, see
                // `l3`, or only ICMP specs on ported protocols, which match nothing):
                // no object.
                let runs = split_at_intents(intents.iter().map(|(_, i)| i.len()), MAX_OBJECT_RULES);
                let mut intents = intents.into_iter();
                for (n, count) in runs.into_iter().enumerate() {
                    let run: Vec<(&Origin, Vec<Item>)> = intents.by_ref().take(count).collect();
                    let deny = action == Action::Deny;
                    let name = numbered_object_name(set, &word, direction, deny, n + 1);
                    let subject = (scope, pods, direction, action);
                    if let Some(object) = rule_object(subject, name, run) {
                        objects.push(keyed(object, form));
                    }
                }
            }
        },
    );
    objects.reserve_exact(rendered.len());
    objects.extend(rendered);
}

/// The object `name` for the pods of `pods` in `scope`: the items of `intents` in
/// `direction` and `action`, in order, with their provenance (none without intents).
fn rule_object(
    (scope, pods, direction, action): (&Scope, &LabelSelector, Direction, Action),
    name: String,
    intents: Vec<(&Origin, Vec<Item>)>,
) -> Option<CiliumPolicy> {
    let field = match (direction, action) {
        (Direction::Ingress, Action::Allow) => "ingress",
        (Direction::Ingress, Action::Deny) => "ingressDeny",
        (Direction::Egress, Action::Allow) => "egress",
        (Direction::Egress, Action::Deny) => "egressDeny",
    };
    let origin = *intents.first().map(|(origin, _)| origin)?;
    let mut items: Vec<Item> = Vec::new();
    let mut provenance = Provenance::default();
    for (origin, intent_items) in intents {
        let q = origin.qualified();
        for item in intent_items {
            provenance.push_rule(field, items.len(), q.clone());
            items.push(item);
        }
    }
    let mut spec = types::Rule {
        endpoint_selector: Some(scope_selector(scope, pods)),
        enable_default_deny: Some(DefaultDeny {
            ingress: Some(false),
            egress: Some(false),
        }),
        ..types::Rule::default()
    };
    match (direction, action) {
        (Direction::Ingress, Action::Allow) => {
            spec.ingress = Some(items.into_iter().map(Item::ingress).collect());
        }
        (Direction::Ingress, Action::Deny) => {
            spec.ingress_deny = Some(items.into_iter().map(Item::ingress_deny).collect());
        }
        (Direction::Egress, Action::Allow) => {
            spec.egress = Some(items.into_iter().map(Item::egress).collect());
        }
        (Direction::Egress, Action::Deny) => {
            spec.egress_deny = Some(items.into_iter().map(Item::egress_deny).collect());
        }
    }
    let mut object = object(scope, name, origin, provenance.intent_annotation(), spec);
    if let Some(rules) = provenance.rules_annotation() {
        object
            .metadata
            .annotations
            .insert(RULES_ANNOTATION.to_string(), rules);
    }
    Some(object)
}

/// A complete manifest: a CNP for a namespace scope, a CCNP for a cluster scope; `intent`
/// is its intent annotation.
fn object(
    scope: &Scope,
    name: String,
    origin: &Origin,
    intent: String,
    spec: types::Rule,
) -> CiliumPolicy {
    let (kind, namespace) = match scope {
        Scope::Namespace(ns) => (types::KIND_CNP, Some(ns.clone())),
        Scope::Cluster(_) => (types::KIND_CCNP, None),
    };
    CiliumPolicy {
        api_version: types::API_VERSION.to_string(),
        kind: kind.to_string(),
        metadata: ObjectMeta {
            name,
            namespace,
            labels: BTreeMap::from([(MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string())]),
            annotations: BTreeMap::from([
                (INTENT_ANNOTATION.to_string(), intent),
                (SOURCE_ANNOTATION.to_string(), origin.file.clone()),
            ]),
        },
        spec: Some(spec),
        specs: None,
        status: None,
    }
}

/// A selector requirement before it is written as `matchLabels` or `matchExpressions`.
struct Req {
    key: String,
    op: Op,
    values: Vec<String>,
}

fn req<'a>(key: String, op: Op, values: impl IntoIterator<Item = &'a String>) -> Req {
    Req {
        key,
        op,
        values: values.into_iter().cloned().collect(),
    }
}

/// Writes requirements as a selector: single-value `In` as `matchLabels` (unless the key
/// is already taken), everything else as sorted `matchExpressions`.
fn selector(reqs: Vec<Req>) -> EndpointSelector {
    let mut out = EndpointSelector::default();
    for r in reqs {
        if r.op == Op::In && r.values.len() == 1 && !out.match_labels.contains_key(&r.key) {
            // The one value is moved, not copied.
            let value = r.values.into_iter().next().unwrap_or_default();
            out.match_labels.insert(r.key, value);
            continue;
        }
        let operator = match r.op {
            Op::In => SelectorOperator::In,
            Op::NotIn => SelectorOperator::NotIn,
            Op::Exists => SelectorOperator::Exists,
            Op::DoesNotExist => SelectorOperator::DoesNotExist,
        };
        out.match_expressions.push(SelectorRequirement {
            key: r.key,
            operator,
            values: r.values,
        });
    }
    out.match_expressions.sort();
    out
}

/// Pod label requirements with `k8s:` keys, with room for `more` (sized once, not
/// grown: every rule has a selector).
fn pod_reqs(pods: &LabelSelector, more: usize) -> Vec<Req> {
    let own = pods.requirements();
    let mut reqs = Vec::with_capacity(own.size_hint().0 + more);
    reqs.extend(own.map(|r| req(k8s_key("", &r.key), r.op, &r.values)));
    reqs
}

/// The subject selector: the pods, plus the namespace list for a cluster scope (a
/// CiliumNetworkPolicy gets its own namespace injected by Cilium).
fn scope_selector(scope: &Scope, pods: &LabelSelector) -> EndpointSelector {
    let mut reqs = pod_reqs(pods, 1);
    if let Scope::Cluster(namespaces) = scope {
        reqs.push(req(k8s_key("", NAMESPACE_KEY), Op::In, namespaces));
    }
    selector(reqs)
}

/// A pod peer: pod labels, namespace name as `io.kubernetes.pod.namespace`, other
/// namespace labels under `io.cilium.k8s.namespace.labels.`, and always a requirement
/// on the namespace key so that the selector only matches pods and means the same in
/// any namespace and in a CCNP.
fn peer_selector(namespaces: &LabelSelector, pods: &LabelSelector) -> EndpointSelector {
    let mut reqs = pod_reqs(pods, namespaces.requirements().size_hint().0 + 1);
    let mut pinned = false;
    for r in namespaces.requirements() {
        if r.key == NAMESPACE_NAME_LABEL {
            pinned |= matches!(r.op, Op::In | Op::Exists);
            reqs.push(req(k8s_key("", NAMESPACE_KEY), r.op, &r.values));
        } else {
            let key = k8s_key(NAMESPACE_LABELS_PREFIX, &r.key);
            reqs.push(req(key, r.op, &r.values));
        }
    }
    if !pinned {
        reqs.push(req(
            k8s_key("", NAMESPACE_KEY),
            Op::Exists,
            &BTreeSet::new(),
        ));
    }
    selector(reqs)
}

/// The peer part of a rule item.
#[derive(Clone)]
enum L3 {
    Endpoints(EndpointSelector),
    CidrSet(CidrRule),
    Entity(types::Entity),
    Fqdn(FqdnSelector),
}

/// One rule item before it is typed for its direction and action.
struct Item {
    l3: L3,
    to_ports: Vec<PortRule>,
    icmps: Vec<IcmpRule>,
}

impl Item {
    fn ingress(self) -> IngressRule {
        let mut r = IngressRule {
            to_ports: self.to_ports,
            icmps: self.icmps,
            ..IngressRule::default()
        };
        match self.l3 {
            L3::Endpoints(s) => r.from_endpoints = vec![s],
            L3::CidrSet(c) => r.from_cidr_set = vec![c],
            L3::Entity(e) => r.from_entities = vec![e],
            // `l3` never yields an FQDN source; `none` would match nothing (fail closed).
            L3::Fqdn(_) => r.from_entities = vec![types::Entity::None],
        }
        r
    }

    fn ingress_deny(self) -> IngressDenyRule {
        let allow = self.ingress();
        IngressDenyRule {
            from_endpoints: allow.from_endpoints,
            from_cidr: allow.from_cidr,
            from_cidr_set: allow.from_cidr_set,
            from_entities: allow.from_entities,
            to_ports: deny_ports(allow.to_ports),
            icmps: allow.icmps,
        }
    }

    fn egress(self) -> EgressRule {
        let mut r = EgressRule {
            to_ports: self.to_ports,
            icmps: self.icmps,
            ..EgressRule::default()
        };
        match self.l3 {
            L3::Endpoints(s) => r.to_endpoints = vec![s],
            L3::CidrSet(c) => r.to_cidr_set = vec![c],
            L3::Entity(e) => r.to_entities = vec![e],
            L3::Fqdn(f) => r.to_fqdns = vec![f],
        }
        r
    }

    fn egress_deny(self) -> EgressDenyRule {
        let allow = self.egress();
        EgressDenyRule {
            to_endpoints: allow.to_endpoints,
            to_cidr: allow.to_cidr,
            to_cidr_set: allow.to_cidr_set,
            to_entities: allow.to_entities,
            to_ports: deny_ports(allow.to_ports),
            icmps: allow.icmps,
        }
    }
}

/// Deny rules carry no L7 rules. The check refuses them; should `render` be called
/// anyway, dropping them denies the whole port, which fails closed.
fn deny_ports(ports: Vec<PortRule>) -> Vec<PortDenyRule> {
    ports
        .into_iter()
        .map(|p| PortDenyRule { ports: p.ports })
        .collect()
}

/// The peer of a rule item; `None` when the rule cannot be written at all. The check
/// refuses FQDN peers on ingress and on denies; should `render` be called anyway, they
/// fail closed: an FQDN ingress allow is dropped and an FQDN deny denies every peer.
fn l3(rule: &Rule) -> Option<L3> {
    Some(match &rule.peer {
        Peer::Pods { namespaces, pods } => L3::Endpoints(peer_selector(namespaces, pods)),
        Peer::Cidr(block) => L3::CidrSet(CidrRule {
            cidr: block.net.to_string(),
            except: block.except.iter().map(|n| n.to_string()).collect(),
        }),
        Peer::Entity(Entity::KubeApiserver) => L3::Entity(types::Entity::KubeApiserver),
        Peer::Entity(Entity::Host) => L3::Entity(types::Entity::Host),
        Peer::Any => L3::Entity(types::Entity::All),
        Peer::Fqdn(_) if rule.action == Action::Deny => L3::Entity(types::Entity::All),
        Peer::Fqdn(_) if rule.direction == Direction::Ingress => return None,
        Peer::Fqdn(name) if name.contains('*') => L3::Fqdn(FqdnSelector {
            match_pattern: Some(name.clone()),
            ..FqdnSelector::default()
        }),
        Peer::Fqdn(name) => L3::Fqdn(FqdnSelector {
            match_name: Some(name.clone()),
            ..FqdnSelector::default()
        }),
    })
}

/// The rule items of one IR rule: one with `toPorts` for ported protocols, one with
/// `icmps` for ICMP (Cilium does not allow both in one item), or one without ports for
/// [`Ports::Any`]. `dns_carrier` adds the DNS proxy rule to the port-53 entries.
fn items(rule: &Rule, dns_carrier: bool) -> Vec<Item> {
    let Some(peer) = l3(rule) else {
        return Vec::new();
    };
    let set = match &rule.ports {
        Ports::Any => {
            return vec![Item {
                l3: peer,
                to_ports: Vec::new(),
                icmps: Vec::new(),
            }]
        }
        Ports::Only(set) => set,
    };
    let mut dns_ports = Vec::new();
    // Sized once: nearly every port is a ported protocol's.
    let mut ports = Vec::with_capacity(set.len());
    let mut icmp_fields = Vec::new();
    for pm in set.iter() {
        match pm.protocol {
            Protocol::Icmp | Protocol::IcmpV6 => icmp_fields.extend(icmp(pm)),
            Protocol::Tcp | Protocol::Udp | Protocol::Sctp => {
                let Some(p) = port(pm) else { continue };
                if dns_carrier && dns::is_dns_port(pm) {
                    dns_ports.push(p);
                } else {
                    ports.push(p);
                }
            }
        }
    }
    let http = (!rule.http.is_empty()).then(|| L7Rules {
        http: Some(
            rule.http
                .iter()
                .map(|h| HttpRule {
                    method: h.method.clone(),
                    path: h.path.clone(),
                })
                .collect(),
        ),
        dns: None,
    });
    let mut to_ports: Vec<PortRule> =
        Vec::with_capacity(usize::from(!dns_ports.is_empty()) + ports.len().div_ceil(MAX_PORTS));
    if !dns_ports.is_empty() {
        to_ports.push(PortRule {
            ports: dns_ports,
            rules: Some(L7Rules {
                http: None,
                dns: Some(vec![FqdnSelector {
                    match_pattern: Some("*".to_string()),
                    ..FqdnSelector::default()
                }]),
            }),
        });
    }
    for chunk in ports.chunks(MAX_PORTS) {
        to_ports.push(PortRule {
            ports: chunk.to_vec(),
            rules: http.clone(),
        });
    }
    let icmps: Vec<IcmpRule> = icmp_fields
        .chunks(MAX_PORTS)
        .map(|c| IcmpRule { fields: c.to_vec() })
        .collect();
    // The peer is copied only when both items need it (ported and ICMP ports in one
    // rule); otherwise the one item takes it.
    let (l3_ports, l3_icmps) = match (to_ports.is_empty(), icmps.is_empty()) {
        (false, false) => (Some(peer.clone()), Some(peer)),
        (false, true) => (Some(peer), None),
        (true, false) => (None, Some(peer)),
        (true, true) => (None, None),
    };
    let mut out =
        Vec::with_capacity(usize::from(l3_ports.is_some()) + usize::from(l3_icmps.is_some()));
    if let Some(l3) = l3_ports {
        out.push(Item {
            l3,
            to_ports,
            icmps: Vec::new(),
        });
    }
    if let Some(l3) = l3_icmps {
        out.push(Item {
            l3,
            to_ports: Vec::new(),
            icmps,
        });
    }
    out
}

/// A ported protocol's entry; `None` for an ICMP spec on a ported protocol, which the IR
/// defines as matching nothing.
fn port(pm: &PortMatch) -> Option<PortProtocol> {
    let protocol = Some(match pm.protocol {
        Protocol::Tcp => L4Protocol::Tcp,
        Protocol::Udp => L4Protocol::Udp,
        _ => L4Protocol::Sctp,
    });
    let (port, end_port) = match &pm.port {
        PortSpec::All => ("0".to_string(), None),
        PortSpec::Range { start, end } if start == end => (start.to_string(), None),
        PortSpec::Range { start, end } => (start.to_string(), Some(i32::from(*end))),
        PortSpec::Named(n) => (n.to_ascii_lowercase(), None),
        PortSpec::Icmp { .. } => return None,
    };
    Some(PortProtocol {
        port,
        end_port,
        protocol,
    })
}

/// ICMP fields: one type, or every type (0–255) for "all ICMP".
fn icmp(pm: &PortMatch) -> Vec<IcmpField> {
    let family = Some(if pm.protocol == Protocol::IcmpV6 {
        IcmpFamily::IPv6
    } else {
        IcmpFamily::IPv4
    });
    let field = |t: u8| IcmpField {
        family,
        icmp_type: IcmpType::Number(t),
    };
    match pm.port {
        PortSpec::Icmp { icmp_type, .. } => vec![field(icmp_type)],
        PortSpec::All => (0..=u8::MAX).map(field).collect(),
        // Ranges and names do not exist for ICMP in the IR's meaning.
        PortSpec::Range { .. } | PortSpec::Named(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_built_as_cilium_spells_them() {
        assert_eq!(k8s_key("", "app"), "k8s:app");
        assert_eq!(
            k8s_key(NAMESPACE_LABELS_PREFIX, "team"),
            "k8s:io.cilium.k8s.namespace.labels.team"
        );
    }
}
