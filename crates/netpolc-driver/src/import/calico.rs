//! Reading Calico `projectcalico.org/v3` (or `crd.projectcalico.org/v1`) objects into the
//! sides of `import`: Tiers, GlobalNetworkPolicies, NetworkPolicies, GlobalNetworkSets
//! and NetworkSets.
//!
//! - A policy isolates the pods it selects in its directions when its tier ends in
//!   `Deny` (the `default` tier does; a tier ending in `Pass` isolates nothing).
//! - `Allow` and `Deny` rules become allow and deny intents; the tiers' and policies'
//!   `order` is not kept: deny beats allow in intents, and the proof afterwards checks
//!   that the source's order does not decide otherwise. `Pass` and `Log` rules have no
//!   intent form (`NP9001`).
//! - A GlobalNetworkPolicy must name its namespaces (`projectcalico.org/namespace`
//!   in its selector, or `projectcalico.org/name` in its `namespaceSelector`): intents
//!   govern the namespaces they name, never every namespace.
//! - Selectors must be conjunctions of `==`, `!=`, `in`, `not in`, `has`, `!has`;
//!   `projectcalico.org/namespace` and `pcns.` keys become namespace terms,
//!   `projectcalico.org/orchestrator == 'k8s'` means pods only; other Calico labels have
//!   no intent form.
//! - A rule selector also matches the network sets whose labels it selects (with
//!   Calico's namespace scoping, as in the evaluator): their `nets` become CIDR groups.

use super::k8s::Read;
use super::sel::{Op, Req, Sel};
use super::{
    cidr_peers, codes, typed, Bad, Fail, Importer, InputError, Ns, Origin, Peer, PortItem, Ports,
    SideRule, Source,
};
use crate::manifests::FieldPath;
use ipnet::IpNet;
use netpolc_calico::selector::{Expr, Selector};
use netpolc_calico::types::{
    Action, EntityRule, GlobalNetworkPolicy, NetworkPolicy, NetworkSet, PortValue, Rule, Tier,
    TierAction,
};
use netpolc_ir::sorted::SortedSet;
use netpolc_ir::{Direction, Protocol, NAMESPACE_NAME_LABEL};
use serde_json::Value;
use std::collections::BTreeMap;

const NS_LABEL: &str = "projectcalico.org/namespace";
const NAME_LABEL: &str = "projectcalico.org/name";
const ORCHESTRATOR: &str = "projectcalico.org/orchestrator";
const PCNS: &str = "pcns.";

struct NetSet {
    namespace: Option<String>,
    labels: BTreeMap<String, String>,
    nets: Vec<IpNet>,
}

/// A selector split into what it says about pods and about their namespaces.
#[derive(Default)]
struct Split {
    pods: Sel,
    namespaces: Sel,
}

fn leaf(e: &Expr) -> Result<Req, String> {
    let one = |v: &String| SortedSet::from([v.clone()]);
    Ok(match e {
        Expr::Eq(k, v) => Req {
            key: k.clone(),
            op: Op::In,
            values: one(v),
        },
        Expr::Ne(k, v) => Req {
            key: k.clone(),
            op: Op::NotIn,
            values: one(v),
        },
        Expr::In(k, vs) => Req {
            key: k.clone(),
            op: Op::In,
            values: vs.iter().cloned().collect(),
        },
        Expr::NotIn(k, vs) => Req {
            key: k.clone(),
            op: Op::NotIn,
            values: vs.iter().cloned().collect(),
        },
        Expr::Has(k) => Req {
            key: k.clone(),
            op: Op::Exists,
            values: SortedSet::new(),
        },
        Expr::Not(inner) => match inner.as_ref() {
            Expr::Has(_) | Expr::Eq(..) | Expr::Ne(..) | Expr::In(..) | Expr::NotIn(..) => {
                leaf(inner)?.negate()
            }
            _ => return Err("a negated expression other than a label test".into()),
        },
        Expr::Or(_) => return Err("`||` (a union)".into()),
        Expr::Contains(..) | Expr::StartsWith(..) | Expr::EndsWith(..) => {
            return Err(
                "a test on the text of a value (`contains`, `starts with`, `ends with`)".into(),
            )
        }
        Expr::Global => return Err("`global()` inside a selector".into()),
        Expr::All | Expr::And(_) => return Err("internal: not a leaf".into()),
    })
}

/// The requirements of a conjunction.
fn conjunction(e: &Expr, out: &mut Vec<Req>) -> Result<(), String> {
    match e {
        Expr::All => Ok(()),
        Expr::And(es) => es.iter().try_for_each(|x| conjunction(x, out)),
        other => {
            out.push(leaf(other)?);
            Ok(())
        }
    }
}

fn parse(text: &str, path: &FieldPath) -> Result<Selector, Bad> {
    Selector::parse(text).map_err(|e| {
        Bad::new(
            codes::BAD_SELECTOR,
            path,
            format!("invalid selector `{text}`: {e}"),
            "not a Calico selector",
            "write a Calico selector expression, e.g. `app == 'web' && has(tier)` (strings in quotes)",
        )
    })
}

/// An endpoint selector, split into pod and namespace terms; `pods_only` when it keeps
/// network sets out (`projectcalico.org/orchestrator == 'k8s'`).
fn endpoint_selector(text: &str, path: &FieldPath) -> Result<(Split, bool), Fail> {
    let s = parse(text, path)?;
    let mut reqs = Vec::new();
    conjunction(s.expr(), &mut reqs).map_err(|e| format!("`{text}`: {e} has no intent form"))?;
    let mut out = Split::default();
    let mut pods_only = false;
    for r in reqs {
        if r.key == NS_LABEL {
            out.namespaces.insert(Req {
                key: NAMESPACE_NAME_LABEL.into(),
                ..r
            });
        } else if r.key == ORCHESTRATOR {
            if r.op == Op::In && r.values.len() == 1 && r.values.contains("k8s") {
                pods_only = true;
            } else {
                return Err(
                    format!("`{text}`: a test of `{ORCHESTRATOR}` other than `== 'k8s'`").into(),
                );
            }
        } else if let Some(k) = r.key.strip_prefix(PCNS) {
            let key = if k == NAME_LABEL {
                NAMESPACE_NAME_LABEL
            } else {
                k
            };
            out.namespaces.insert(Req {
                key: key.into(),
                ..r
            });
        } else if r.key.starts_with("projectcalico.org/") {
            return Err(format!(
                "`{text}`: `{}` is a label Calico sets itself (no intent form)",
                r.key
            )
            .into());
        } else {
            out.pods.insert(r);
        }
    }
    Ok((out, pods_only))
}

/// A namespace selector's terms (over namespace labels).
fn namespace_selector(text: &str, path: &FieldPath) -> Result<Sel, Fail> {
    let s = parse(text, path)?;
    let mut reqs = Vec::new();
    conjunction(s.expr(), &mut reqs).map_err(|e| format!("`{text}`: {e} has no intent form"))?;
    Ok(reqs
        .into_iter()
        .map(|r| {
            if r.key == NAME_LABEL {
                Req {
                    key: NAMESPACE_NAME_LABEL.into(),
                    ..r
                }
            } else {
                r
            }
        })
        .collect())
}

/// Where an entity's endpoints may be, as in the evaluator.
enum Scope {
    Own(String),
    Any,
    Global,
    Matching(Selector),
}

struct Ctx<'a, 'b> {
    im: &'a mut Importer<'b>,
    source: &'a Source,
    sets: &'a [NetSet],
}

impl Ctx<'_, '_> {
    fn set_matches(&self, set: &NetSet, scope: &Scope, selector: Option<&Selector>) -> bool {
        let mut labels = set.labels.clone();
        let mut ns_labels = BTreeMap::new();
        if let Some(ns) = &set.namespace {
            ns_labels = self.im.ns_labels(ns);
            ns_labels.insert(NAME_LABEL.into(), ns.clone());
            for (k, v) in &ns_labels {
                labels.insert(format!("{PCNS}{k}"), v.clone());
            }
            labels.insert(NS_LABEL.into(), ns.clone());
        }
        let in_scope = match scope {
            Scope::Any => true,
            Scope::Own(ns) => set.namespace.as_deref() == Some(ns),
            Scope::Global => set.namespace.is_none(),
            Scope::Matching(s) => match s.expr() {
                Expr::All => set.namespace.is_some(),
                _ => set.namespace.is_some() && s.matches(&ns_labels),
            },
        };
        in_scope && selector.is_none_or(|s| s.matches(&labels))
    }

    /// The peers of an entity rule (the other end of a rule).
    fn peers(
        &mut self,
        e: &EntityRule,
        ns: Option<&str>,
        rule: &Origin,
        path: &FieldPath,
    ) -> Result<Vec<Peer>, Fail> {
        let nets_of = |list: &[String], key: &str| -> Result<Vec<IpNet>, Bad> {
            list.iter()
                .enumerate()
                .map(|(j, n)| {
                    netpolc_calico_net(n)
                        .ok_or_else(|| bad_net(n, &path.key(key).index(j)))
                        .and_then(|net| super::not_mapped(net, n, &path.key(key).index(j)))
                })
                .collect()
        };
        // Bad input first, whatever has an intent form.
        let nets = nets_of(&e.nets, "nets")?;
        let holes = nets_of(&e.not_nets, "notNets")?;
        let selector = e
            .selector
            .as_deref()
            .map(|t| parse(t, &path.key("selector")))
            .transpose()?;
        let ns_path = path.key("namespaceSelector");
        if let Some(t) = e.namespace_selector.as_deref() {
            parse(t, &ns_path)?;
        }
        if e.not_selector.is_some() {
            return Err("`notSelector` has no intent form".into());
        }
        if !e.not_nets.is_empty() && e.nets.is_empty() {
            return Err("`notNets` without `nets` has no intent form".into());
        }
        let has_endpoints = e.selector.is_some() || e.namespace_selector.is_some();
        if has_endpoints && !e.nets.is_empty() {
            return Err(
                "`nets` together with selectors (an intersection) has no intent form".into(),
            );
        }
        if !e.nets.is_empty() {
            let mut out = Vec::new();
            for n in nets {
                let except: Vec<IpNet> = holes
                    .iter()
                    .filter(|h| n.contains(*h) && **h != n)
                    .copied()
                    .collect();
                if holes.iter().any(|h| !n.contains(h) && h.contains(&n)) {
                    continue; // the whole block is a hole
                }
                if holes
                    .iter()
                    .any(|h| !n.contains(h) && !h.contains(&n) && overlaps(h, &n))
                {
                    return Err("a `notNets` entry that only partly overlaps a `nets` entry".into());
                }
                out.extend(cidr_peers(
                    n,
                    &except,
                    self.source,
                    rule,
                    &mut self.im.found,
                ));
            }
            return Ok(out);
        }
        if !has_endpoints {
            return Ok(vec![Peer::Anywhere]);
        }
        let (scope, ns_terms) = match e.namespace_selector.as_deref().map(str::trim) {
            Some("global()") => (Scope::Global, None),
            Some("all()") => (Scope::Matching(parse("all()", &ns_path)?), Some(Sel::new())),
            Some(t) => (
                Scope::Matching(parse(t, &ns_path)?),
                Some(namespace_selector(t, &ns_path)?),
            ),
            None => match ns {
                Some(n) => (Scope::Own(n.to_string()), None),
                None => (Scope::Any, Some(Sel::new())),
            },
        };
        let (split, _) = match e.selector.as_deref() {
            Some(t) => endpoint_selector(t, &path.key("selector"))?,
            None => (Split::default(), false),
        };
        let mut out = Vec::new();
        // Pods.
        match (&scope, ns_terms) {
            (Scope::Global, _) => {}
            (Scope::Own(n), _) => {
                if super::sel::matches(&split.namespaces, &self.im.ns_labels(n)) {
                    out.push(Peer::Pods {
                        ns: Ns::Name(n.clone()),
                        pods: split.pods.clone(),
                    });
                }
            }
            (_, Some(mut l)) => {
                l.extend(split.namespaces.iter().cloned());
                if super::sel::satisfiable(&l) {
                    out.push(Peer::Pods {
                        ns: Ns::Labels(l),
                        pods: split.pods.clone(),
                    });
                }
            }
            (_, None) => {}
        }
        // Network sets.
        for set in self.sets {
            if self.set_matches(set, &scope, selector.as_ref()) {
                for n in &set.nets {
                    out.extend(cidr_peers(*n, &[], self.source, rule, &mut self.im.found));
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

fn bad_net(n: &str, path: &FieldPath) -> Bad {
    Bad::new(
        codes::BAD_CIDR,
        path,
        format!("`{n}` is not a CIDR"),
        "not a CIDR or an address",
        "write an address block (`203.0.113.0/24`) or one address (`203.0.113.7`)",
    )
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn netpolc_calico_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

/// The destination ports' values, or the first that is not a port (bad input).
fn port_values(r: &Rule, path: &FieldPath) -> Result<Vec<PortValue>, Bad> {
    let pp = path.key("destination").key("ports");
    let mut values = Vec::new();
    for (k, port) in r.destination.ports.iter().enumerate() {
        values.push(port.value().map_err(|e| {
            Bad::new(
                codes::BAD_PORT,
                &pp.index(k),
                e,
                "not a port",
                "write a number from 1 to 65535, a range `\"8000:8080\"`, or the name of a container port",
            )
        })?);
    }
    if !values.is_empty() && r.protocol.is_none() {
        return Err(Bad::new(
            codes::BAD_PORT,
            &pp,
            "ports without a protocol",
            "no `protocol` in this rule",
            "add `protocol: TCP` (or UDP, SCTP) to the rule: Calico rejects ports without one",
        ));
    }
    Ok(values)
}

fn ports_of(r: &Rule, path: &FieldPath) -> Result<Ports, Fail> {
    let values = port_values(r, path)?;
    if r.not_protocol.is_some()
        || r.icmp.is_some()
        || r.not_icmp.is_some()
        || r.ip_version.is_some()
    {
        return Err("`notProtocol`, `icmp`, `notICMP` and `ipVersion` are not imported".into());
    }
    if !r.source.ports.is_empty()
        || !r.source.not_ports.is_empty()
        || !r.destination.not_ports.is_empty()
    {
        return Err("source ports and `notPorts` have no intent form".into());
    }
    let protocol = match &r.protocol {
        None => None,
        Some(p) => Some(match p.number() {
            Some(6) => Protocol::Tcp,
            Some(17) => Protocol::Udp,
            Some(132) => Protocol::Sctp,
            _ => return Err(format!("protocol `{p}` is not imported (TCP, UDP, SCTP are)").into()),
        }),
    };
    if r.destination.ports.is_empty() {
        return Ok(protocol.map(|p| vec![PortItem::All(p)]));
    }
    let Some(p) = protocol else {
        return Err("ports without a protocol".into());
    };
    let mut out = Vec::new();
    for v in values {
        out.push(match v {
            PortValue::Range(a, b) => PortItem::Range(p, a, b),
            PortValue::Named(n) => PortItem::Named(p, n),
        });
    }
    out.sort();
    out.dedup();
    Ok(Some(out))
}

/// Reads the Calico objects into sides (one [`Read`] per policy and namespace).
///
/// # Errors
/// Input errors: an object that names an undefined tier.
pub(crate) fn read(
    objects: &[(usize, &Value, Option<&netpolc_intent::yaml::Node>)],
    source: &Source,
    im: &mut Importer<'_>,
) -> Result<Vec<Read>, Box<InputError>> {
    let mut tiers: BTreeMap<String, TierAction> = BTreeMap::from([
        ("default".to_string(), TierAction::Deny),
        ("kube-admin".to_string(), TierAction::Pass),
        ("kube-baseline".to_string(), TierAction::Pass),
    ]);
    let mut sets = Vec::new();
    let mut policies = Vec::new();
    for &(idx, o, node) in objects {
        let id = crate::object_id(o);
        let located = |b: Bad| b.in_object(idx, o);
        let origin = Origin {
            object: id.clone(),
            name: o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            rule: String::new(),
            index: Some(idx),
        };
        let kind = o["kind"].as_str().unwrap_or_default();
        // Tiers and network sets decide what the policies mean: any mismatch is bad input.
        let whole = |r: Result<super::UnknownField, Bad>, what: &str| -> Box<InputError> {
            match r {
                Ok(u) => {
                    let mut b = Bad::new(
                        codes::BAD_FIELD,
                        &FieldPath::root(),
                        format!(
                            "not a valid {what}: {}",
                            u.why.trim_end_matches(" (no intent form)")
                        ),
                        "unknown field",
                        format!("write the object as the {what} schema says"),
                    );
                    b.span = u.span;
                    b.in_object(idx, o)
                }
                Err(b) => located(b),
            }
        };
        match kind {
            "Tier" => {
                let t: Tier = match typed(o, node, "Tier") {
                    Ok(Ok(t)) => t,
                    Ok(Err(u)) => return Err(whole(Ok(u), "Tier")),
                    Err(b) => return Err(whole(Err(b), "Tier")),
                };
                tiers.insert(
                    t.metadata.name.clone(),
                    t.spec.default_action.unwrap_or(TierAction::Deny),
                );
            }
            "GlobalNetworkSet" | "NetworkSet" => {
                let n: NetworkSet = match typed(o, node, kind) {
                    Ok(Ok(t)) => t,
                    Ok(Err(u)) => return Err(whole(Ok(u), kind)),
                    Err(b) => return Err(whole(Err(b), kind)),
                };
                if kind == "NetworkSet" && n.metadata.namespace.is_none() {
                    return Err(located(Bad::new(
                        codes::BAD_FIELD,
                        &FieldPath::root().key("metadata"),
                        "`metadata.namespace` is required",
                        "needs a `namespace`",
                        "add `namespace:` to the metadata, or make it a GlobalNetworkSet",
                    )));
                }
                let np = FieldPath::root().key("spec").key("nets");
                let nets = n
                    .spec
                    .nets
                    .iter()
                    .enumerate()
                    .map(|(j, s)| {
                        netpolc_calico_net(s)
                            .ok_or_else(|| bad_net(s, &np.index(j)))
                            .and_then(|net| super::not_mapped(net, s, &np.index(j)))
                            .map_err(located)
                    })
                    .collect::<Result<_, _>>()?;
                sets.push(NetSet {
                    namespace: if kind == "NetworkSet" {
                        n.metadata.namespace.clone()
                    } else {
                        None
                    },
                    labels: n.metadata.labels.clone(),
                    nets,
                });
            }
            "GlobalNetworkPolicy" | "NetworkPolicy" => policies.push((idx, o, node, origin)),
            _ => {
                im.found.push(super::Found::left_out(
                    &origin,
                    format!("`{kind}` is not imported"),
                ));
            }
        }
    }
    let mut out = Vec::new();
    let mut ctx = Ctx {
        im,
        source,
        sets: &sets,
    };
    for (idx, o, node, origin) in policies {
        let located = |b: Bad| b.in_object(idx, o);
        let global = o["kind"] == "GlobalNetworkPolicy";
        // The fields both kinds share, read with their strict types.
        let parsed = if global {
            typed::<GlobalNetworkPolicy>(o, node, "GlobalNetworkPolicy").map(|r| {
                r.map(|p| {
                    let s = p.spec;
                    (
                        p.metadata,
                        s.tier,
                        s.selector,
                        s.namespace_selector,
                        s.types,
                        s.ingress,
                        s.egress,
                        s.pre_dnat == Some(true)
                            || s.do_not_track == Some(true)
                            || s.apply_on_forward == Some(true),
                    )
                })
            })
        } else {
            typed::<NetworkPolicy>(o, node, "Calico NetworkPolicy").map(|r| {
                r.map(|p| {
                    let s = p.spec;
                    (
                        p.metadata, s.tier, s.selector, None, s.types, s.ingress, s.egress, false,
                    )
                })
            })
        };
        let (meta, tier, selector, ns_selector, types, ingress, egress, hosts) =
            match parsed.map_err(located)? {
                Ok(x) => x,
                Err(u) => {
                    ctx.im.found.push(super::Found::unknown_field(&origin, u));
                    continue;
                }
            };
        if hosts {
            ctx.im.found.push(super::Found::left_out(
                &origin,
                "host-endpoint policy (`preDNAT`, `doNotTrack`, `applyOnForward`)".into(),
            ));
            continue;
        }
        let tier = tier.unwrap_or_else(|| "default".into());
        let Some(default_action) = tiers.get(&tier).copied() else {
            return Err(located(Bad::new(
                codes::UNKNOWN_TIER,
                &FieldPath::root().key("spec").key("tier"),
                format!("tier `{tier}` is not defined"),
                "no Tier object of this name",
                "pass the Tier object with the manifests (`kubectl get tiers.projectcalico.org -o yaml`)",
            )));
        };
        let (ing_type, eg_type) = netpolc_calico::types_of(&types, &ingress, &egress);
        // The subject: pods, and the namespaces they may be in.
        let spec_path = FieldPath::root().key("spec");
        let subject = match selector.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(t) => endpoint_selector(t, &spec_path.key("selector")).map(|(s, _)| s),
            None => Ok(Split::default()),
        };
        let subject = match subject {
            Ok(s) => s,
            Err(Fail::Input(b)) => return Err(located(b)),
            Err(Fail::LeftOut(e)) => {
                ctx.im
                    .found
                    .push(super::Found::left_out(&origin.at("spec.selector"), e));
                continue;
            }
        };
        let mut ns_terms = subject.namespaces.clone();
        if let Some(t) = ns_selector.as_deref().filter(|s| !s.trim().is_empty()) {
            match namespace_selector(t, &spec_path.key("namespaceSelector")) {
                Ok(l) => ns_terms.extend(l),
                Err(Fail::Input(b)) => return Err(located(b)),
                Err(Fail::LeftOut(e)) => {
                    ctx.im.found.push(super::Found::left_out(
                        &origin.at("spec.namespaceSelector"),
                        e,
                    ));
                    continue;
                }
            }
        }
        let namespaces: Vec<String> = if global {
            let named = ns_terms
                .iter()
                .find(|r| r.key == NAMESPACE_NAME_LABEL && r.op == Op::In)
                .map(|r| r.values.iter().cloned().collect::<Vec<_>>());
            match named {
                Some(n) => n,
                None => {
                    ctx.im.found.push(super::Found::left_out(
                        &origin,
                        "a GlobalNetworkPolicy over namespaces it does not name: intents govern the namespaces they name (select them with `projectcalico.org/namespace in {...}` or a `namespaceSelector` on `projectcalico.org/name`)".into(),
                    ));
                    continue;
                }
            }
        } else {
            vec![meta.namespace.clone().unwrap_or_default()]
        };
        let policy_ns = if global {
            None
        } else {
            meta.namespace.as_deref()
        };
        for ns in namespaces {
            if !super::sel::matches(&ns_terms, &ctx.im.ns_labels(&ns)) {
                continue;
            }
            let mut rules = Vec::new();
            for (direction, list, on, field) in [
                (Direction::Ingress, &ingress, ing_type, "ingress"),
                (Direction::Egress, &egress, eg_type, "egress"),
            ] {
                if !on {
                    continue;
                }
                for (i, r) in list.iter().enumerate() {
                    let rule_path = spec_path.key(field).index(i);
                    let rule_origin = origin.at(&rule_path.to_string());
                    let result = (|| -> Result<Vec<SideRule>, Fail> {
                        port_values(r, &rule_path)?;
                        let deny = match r.action {
                            Action::Allow => false,
                            Action::Deny => true,
                            Action::Pass => {
                                return Err(
                                    "`Pass` (skip to the next tier) has no intent form".into()
                                )
                            }
                            Action::Log => return Err("`Log` has no intent form".into()),
                        };
                        let (peer_side, local_side) = match direction {
                            Direction::Ingress => (&r.source, &r.destination),
                            Direction::Egress => (&r.destination, &r.source),
                        };
                        if local_side.selector.is_some()
                            || local_side.namespace_selector.is_some()
                            || local_side.not_selector.is_some()
                            || !local_side.nets.is_empty()
                            || !local_side.not_nets.is_empty()
                        {
                            return Err(
                                "a rule that narrows its own endpoints has no intent form".into()
                            );
                        }
                        let ports = ports_of(r, &rule_path)?;
                        let peer_path = rule_path.key(match direction {
                            Direction::Ingress => "source",
                            Direction::Egress => "destination",
                        });
                        let peers = ctx.peers(peer_side, policy_ns, &rule_origin, &peer_path)?;
                        Ok(peers
                            .into_iter()
                            .map(|peer| SideRule {
                                deny,
                                namespace: ns.clone(),
                                direction,
                                subject: subject.pods.clone(),
                                peer,
                                ports: ports.clone(),
                                origin: rule_origin.clone(),
                            })
                            .collect())
                    })();
                    match result {
                        Ok(r) => rules.extend(r),
                        Err(Fail::Input(b)) => return Err(located(b)),
                        Err(Fail::LeftOut(e)) => {
                            ctx.im.found.push(super::Found::left_out(&rule_origin, e))
                        }
                    }
                }
            }
            let isolates = default_action == TierAction::Deny;
            out.push(Read {
                namespace: ns.clone(),
                subject: subject.pods.clone(),
                ingress: ing_type && isolates,
                egress: eg_type && isolates,
                rules,
                display: origin.object.clone(),
            });
        }
    }
    Ok(out)
}
