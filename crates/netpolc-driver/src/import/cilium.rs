//! Reading Cilium `cilium.io/v2` CiliumNetworkPolicies and CiliumClusterwideNetworkPolicies
//! into the sides of `import`.
//!
//! - A policy with an `ingress` or `ingressDeny` section puts the endpoints it selects
//!   into default deny for ingress (likewise egress), unless `enableDefaultDeny` says no.
//! - `fromEndpoints`/`toEndpoints` selectors: `k8s:`-prefixed or bare pod labels,
//!   `io.kubernetes.pod.namespace` (the namespace), `io.cilium.k8s.namespace.labels.*`
//!   (namespace labels). In a CiliumNetworkPolicy a selector that names neither is pinned
//!   to the policy's namespace. A key Cilium leaves out of identities never matches
//!   (`NP9001`).
//! - Entities: `world` is every address outside the cluster, `all` everything, `cluster`
//!   every pod; the others (`host`, `remote-node`, `kube-apiserver`, ...) are not pods or
//!   addresses of the model and have no intent form.
//! - A rule without peers matches every peer when it has `toPorts`, and nothing
//!   otherwise (`ingress: [{}]` is a default deny).
//! - CIDRs never match pods. `ingressDeny`/`egressDeny` become deny intents. L7 rules,
//!   `toFQDNs`, ICMP and `specs` lists are left out (`NP9001`).
//! - A CiliumClusterwideNetworkPolicy must name its namespaces
//!   (`io.kubernetes.pod.namespace` in its `endpointSelector`).

use super::k8s::Read;
use super::sel::{Op, Req, Sel};
use super::{
    cidr_peers, codes, typed, Bad, Fail, Found, Importer, InputError, Ns, Origin, Peer, PortItem,
    Ports, SideRule, Source,
};
use crate::manifests::FieldPath;
use ipnet::IpNet;
use netpolc_cilium::types::{
    CidrRule, CiliumPolicy, EndpointSelector, Entity, L4Protocol, PortProtocol, PortRule, Rule,
    SelectorOperator,
};
use netpolc_ir::{Direction, Protocol, NAMESPACE_NAME_LABEL};
use serde_json::Value;
use std::collections::BTreeSet;

const NS_KEY: &str = "io.kubernetes.pod.namespace";
const NS_LABELS: &str = "io.cilium.k8s.namespace.labels.";

/// A selector split into pod and namespace terms, and whether it names the namespace.
struct Split {
    pods: Sel,
    namespaces: Sel,
    names_namespace: bool,
}

/// Checks the requirements of a selector as Kubernetes does (bad input, `NP9007`).
fn check_selector(s: &EndpointSelector, path: &FieldPath) -> Result<(), Bad> {
    for (i, e) in s.match_expressions.iter().enumerate() {
        let at = path.key("matchExpressions").index(i);
        let with_values = matches!(e.operator, SelectorOperator::In | SelectorOperator::NotIn);
        if with_values && e.values.is_empty() {
            return Err(Bad::new(
                codes::BAD_SELECTOR,
                &at,
                "`In` and `NotIn` need at least one value",
                "no `values`",
                "list the values, e.g. `values: [web]`",
            ));
        }
        if !with_values && !e.values.is_empty() {
            return Err(Bad::new(
                codes::BAD_SELECTOR,
                &at.key("values"),
                "`Exists` and `DoesNotExist` take no values",
                "values here",
                "remove `values`",
            ));
        }
    }
    Ok(())
}

fn split(s: &EndpointSelector) -> Result<Split, String> {
    let mut reqs = Vec::new();
    for (k, v) in &s.match_labels {
        reqs.push(Req::is_in(k, [v.as_str()]));
    }
    for e in &s.match_expressions {
        let op = match e.operator {
            SelectorOperator::In => Op::In,
            SelectorOperator::NotIn => Op::NotIn,
            SelectorOperator::Exists => Op::Exists,
            SelectorOperator::DoesNotExist => Op::DoesNotExist,
        };
        reqs.push(Req {
            key: e.key.clone(),
            op,
            values: e.values.iter().cloned().collect(),
        });
    }
    let mut out = Split {
        pods: Sel::new(),
        namespaces: Sel::new(),
        names_namespace: false,
    };
    for r in reqs {
        let key = r
            .key
            .strip_prefix("k8s:")
            .or_else(|| r.key.strip_prefix("any:"))
            .unwrap_or(&r.key)
            .to_string();
        if key.contains(':') {
            return Err(format!(
                "the label source of `{}` has no intent form",
                r.key
            ));
        }
        if key == NS_KEY {
            out.names_namespace = true;
            out.namespaces.insert(Req {
                key: NAMESPACE_NAME_LABEL.into(),
                ..r
            });
        } else if let Some(k) = key.strip_prefix(NS_LABELS) {
            out.names_namespace = true;
            out.namespaces.insert(Req { key: k.into(), ..r });
        } else if key.starts_with("io.cilium") || key.starts_with("io.kubernetes") {
            return Err(format!(
                "`{key}` is a label Cilium sets itself (no intent form)"
            ));
        } else if !netpolc_cilium::identity_label_kept(&key) {
            return Err(format!(
                "`{key}` is not an identity label on Cilium (the selector never matches)"
            ));
        } else {
            out.pods.insert(Req { key, ..r });
        }
    }
    Ok(out)
}

fn protocols(p: Option<L4Protocol>) -> Result<Vec<Protocol>, String> {
    Ok(match p {
        None | Some(L4Protocol::Any) => vec![Protocol::Tcp, Protocol::Udp, Protocol::Sctp],
        Some(L4Protocol::Tcp) => vec![Protocol::Tcp],
        Some(L4Protocol::Udp) => vec![Protocol::Udp],
        Some(L4Protocol::Sctp) => vec![Protocol::Sctp],
        Some(other) => return Err(format!("protocol `{other:?}` has no intent form")),
    })
}

/// Checks a port's number and `endPort` (bad input), before anything is left out.
fn check_port(p: &PortProtocol, path: &FieldPath) -> Result<(), Bad> {
    let bad = |at: &FieldPath, msg: String| {
        Bad::new(
            codes::BAD_PORT,
            at,
            msg,
            "not a port",
            "write a number from 0 (every port) to 65535 as a string (`\"8080\"`), or the name of a container port",
        )
    };
    let numeric = !p.port.is_empty() && p.port.bytes().all(|b| b.is_ascii_digit());
    if numeric {
        let Ok(n) = p.port.parse::<u16>() else {
            return Err(bad(
                &path.key("port"),
                format!("`{}` is not a port", p.port),
            ));
        };
        if let Some(e) = p.end_port.filter(|e| *e != 0) {
            if u16::try_from(e).ok().filter(|e| *e >= n).is_none() {
                return Err(bad(
                    &path.key("endPort"),
                    format!("`{e}` is not a port from `port` ({n}) to 65535"),
                ));
            }
        }
    }
    Ok(())
}

fn ports(list: &[(FieldPath, &PortProtocol)]) -> Result<Ports, Fail> {
    if list.is_empty() {
        return Ok(None);
    }
    let mut out = BTreeSet::new();
    for (path, p) in list {
        check_port(p, path)?;
        for proto in protocols(p.protocol)? {
            let item = match p.port.parse::<u16>() {
                Ok(0) => PortItem::All(proto),
                Ok(n) => {
                    let end = match p.end_port {
                        None | Some(0) => n,
                        Some(e) => u16::try_from(e).unwrap_or(u16::MAX),
                    };
                    PortItem::Range(proto, n, end)
                }
                Err(_) if p.port.is_empty() => PortItem::All(proto),
                Err(_) => PortItem::Named(proto, p.port.clone()),
            };
            out.insert(item);
        }
    }
    Ok(Some(out.into_iter().collect()))
}

struct Ctx<'a, 'b> {
    im: &'a mut Importer<'b>,
    source: &'a Source,
}

impl Ctx<'_, '_> {
    fn endpoint_peers(
        &mut self,
        list: &[EndpointSelector],
        ns: Option<&str>,
    ) -> Result<Vec<Peer>, String> {
        let mut out = Vec::new();
        for s in list {
            let sp = split(s)?;
            match ns {
                Some(n) if !sp.names_namespace => out.push(Peer::Pods {
                    ns: Ns::Name(n.to_string()),
                    pods: sp.pods,
                }),
                _ => out.push(Peer::Pods {
                    ns: Ns::Labels(sp.namespaces),
                    pods: sp.pods,
                }),
            }
        }
        Ok(out)
    }

    fn cidr_peers(&mut self, l3: &L3<'_>, rule: &Origin) -> Result<Vec<Peer>, Fail> {
        let (nets, sets) = check_cidrs(l3)?;
        let mut out = Vec::new();
        for n in nets {
            out.extend(cidr_peers(n, &[], self.source, rule, &mut self.im.found));
        }
        for (n, except) in sets {
            out.extend(cidr_peers(
                n,
                &except,
                self.source,
                rule,
                &mut self.im.found,
            ));
        }
        Ok(out)
    }
}

/// One rule of any of the four sections of a policy, as the import reads it.
struct Section<'r> {
    /// `ingress`, `ingressDeny`, `egress` or `egressDeny`.
    field: &'static str,
    deny: bool,
    direction: Direction,
    /// `from` or `to`.
    side: &'static str,
    /// Why the rule has no intent form, when it has none.
    unsupported: Option<&'static str>,
    endpoints: &'r [EndpointSelector],
    cidrs: &'r [String],
    sets: &'r [CidrRule],
    entities: &'r [Entity],
    /// The `ports` of each `toPorts` entry.
    to_ports: Vec<&'r Vec<PortProtocol>>,
}

/// Every rule of a policy, with its index in its section: ingress, ingressDeny, egress,
/// egressDeny.
fn sections(spec: &Rule) -> Vec<(usize, Section<'_>)> {
    let l7 = |ports: &[PortRule]| ports.iter().any(|p| p.rules.is_some());
    let mut out = Vec::new();
    for (i, r) in spec.ingress.iter().flatten().enumerate() {
        out.push((
            i,
            Section {
                field: "ingress",
                deny: false,
                direction: Direction::Ingress,
                side: "from",
                unsupported: (!r.icmps.is_empty() || l7(&r.to_ports))
                    .then_some("ICMP and L7 rules have no intent form here"),
                endpoints: &r.from_endpoints,
                cidrs: &r.from_cidr,
                sets: &r.from_cidr_set,
                entities: &r.from_entities,
                to_ports: r.to_ports.iter().map(|p| &p.ports).collect(),
            },
        ));
    }
    for (i, r) in spec.ingress_deny.iter().flatten().enumerate() {
        out.push((
            i,
            Section {
                field: "ingressDeny",
                deny: true,
                direction: Direction::Ingress,
                side: "from",
                unsupported: (!r.icmps.is_empty()).then_some("ICMP rules are not imported"),
                endpoints: &r.from_endpoints,
                cidrs: &r.from_cidr,
                sets: &r.from_cidr_set,
                entities: &r.from_entities,
                to_ports: r.to_ports.iter().map(|p| &p.ports).collect(),
            },
        ));
    }
    for (i, r) in spec.egress.iter().flatten().enumerate() {
        out.push((
            i,
            Section {
                field: "egress",
                deny: false,
                direction: Direction::Egress,
                side: "to",
                unsupported: (!r.icmps.is_empty() || !r.to_fqdns.is_empty() || l7(&r.to_ports))
                    .then_some("ICMP, `toFQDNs` and L7 rules are not imported"),
                endpoints: &r.to_endpoints,
                cidrs: &r.to_cidr,
                sets: &r.to_cidr_set,
                entities: &r.to_entities,
                to_ports: r.to_ports.iter().map(|p| &p.ports).collect(),
            },
        ));
    }
    for (i, r) in spec.egress_deny.iter().flatten().enumerate() {
        out.push((
            i,
            Section {
                field: "egressDeny",
                deny: true,
                direction: Direction::Egress,
                side: "to",
                unsupported: (!r.icmps.is_empty()).then_some("ICMP rules are not imported"),
                endpoints: &r.to_endpoints,
                cidrs: &r.to_cidr,
                sets: &r.to_cidr_set,
                entities: &r.to_entities,
                to_ports: r.to_ports.iter().map(|p| &p.ports).collect(),
            },
        ));
    }
    out
}

/// The L3 fields of one rule, whichever its direction and action.
struct L3<'r> {
    /// The rule's path.
    path: FieldPath,
    /// `from` or `to`.
    side: &'static str,
    endpoints: &'r [EndpointSelector],
    cidrs: &'r [String],
    sets: &'r [CidrRule],
    entities: &'r [Entity],
}

type CidrSets = (Vec<IpNet>, Vec<(IpNet, Vec<IpNet>)>);

/// The rule's CIDRs and CIDR sets, or the first that is not a CIDR (bad input).
fn check_cidrs(l3: &L3<'_>) -> Result<CidrSets, Bad> {
    let net = |s: &str, at: FieldPath| {
        s.parse::<IpNet>()
            .map_err(|_| {
                Bad::new(
                    codes::BAD_CIDR,
                    &at,
                    format!("`{s}` is not a CIDR"),
                    "not a CIDR",
                    "write an address block with its prefix length, e.g. `203.0.113.0/24`",
                )
            })
            .and_then(|n| super::not_mapped(n, s, &at))
    };
    let cp = l3.path.key(&format!("{}CIDR", l3.side));
    let sp = l3.path.key(&format!("{}CIDRSet", l3.side));
    let nets = l3
        .cidrs
        .iter()
        .enumerate()
        .map(|(j, c)| net(c, cp.index(j)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sets = Vec::new();
    for (j, s) in l3.sets.iter().enumerate() {
        let n = net(&s.cidr, sp.index(j).key("cidr"))?;
        let except = s
            .except
            .iter()
            .enumerate()
            .map(|(k, e)| net(e, sp.index(j).key("except").index(k)))
            .collect::<Result<Vec<_>, _>>()?;
        sets.push((n, except));
    }
    Ok((nets, sets))
}

impl Ctx<'_, '_> {
    /// The peers and ports of one rule: the peers of its L3 fields, or every peer when it
    /// has none but has `toPorts` (an empty rule selects nothing).
    fn rule(
        &mut self,
        l3: &L3<'_>,
        ports_list: Vec<(FieldPath, &PortProtocol)>,
        has_ports: bool,
        policy_ns: Option<&str>,
        rule: &Origin,
    ) -> Result<(Vec<Peer>, Ports), Fail> {
        // Bad input first.
        let ep = l3.path.key(&format!("{}Endpoints", l3.side));
        for (j, s) in l3.endpoints.iter().enumerate() {
            check_selector(s, &ep.index(j))?;
        }
        check_cidrs(l3)?;
        for (path, p) in &ports_list {
            check_port(p, path)?;
        }
        let mut peers = self.endpoint_peers(l3.endpoints, policy_ns)?;
        peers.extend(self.cidr_peers(l3, rule)?);
        peers.extend(entity_peers(l3.entities)?);
        let no_l3 = l3.endpoints.is_empty()
            && l3.cidrs.is_empty()
            && l3.sets.is_empty()
            && l3.entities.is_empty();
        if no_l3 && has_ports {
            peers.push(Peer::Anywhere);
        }
        Ok((peers, ports(&ports_list)?))
    }
}

/// The ports of a rule's `toPorts`, each with its path.
fn port_list<'r>(
    rule: &FieldPath,
    to_ports: impl Iterator<Item = &'r Vec<PortProtocol>>,
) -> Vec<(FieldPath, &'r PortProtocol)> {
    let tp = rule.key("toPorts");
    to_ports
        .enumerate()
        .flat_map(|(a, ports)| {
            let tp = tp.index(a).key("ports");
            ports.iter().enumerate().map(move |(b, p)| (tp.index(b), p))
        })
        .collect()
}

fn entity_peers(list: &[Entity]) -> Result<Vec<Peer>, String> {
    list.iter()
        .map(|e| match e {
            Entity::World => Ok(Peer::World),
            Entity::All => Ok(Peer::Anywhere),
            Entity::Cluster => Ok(Peer::Pods {
                ns: Ns::Labels(Sel::new()),
                pods: Sel::new(),
            }),
            other => Err(format!(
                "the entity `{}` is not a pod or an address (no intent form)",
                other.as_str()
            )),
        })
        .collect()
}

/// Reads the Cilium objects into sides (one [`Read`] per policy and namespace).
///
/// # Errors
/// None today (every problem is a finding); kept for symmetry with the other readers.
pub(crate) fn read(
    objects: &[(usize, &Value, Option<&netpolc_intent::yaml::Node>)],
    source: &Source,
    im: &mut Importer<'_>,
) -> Result<Vec<Read>, Box<InputError>> {
    let mut out = Vec::new();
    let mut ctx = Ctx { im, source };
    for &(idx, o, node) in objects {
        let origin = Origin {
            object: crate::object_id(o),
            name: o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            rule: String::new(),
            index: Some(idx),
        };
        let kind = o["kind"].as_str().unwrap_or("Cilium policy");
        let p: CiliumPolicy = match typed(o, node, kind).map_err(|b| b.in_object(idx, o))? {
            Ok(p) => p,
            Err(u) => {
                ctx.im.found.push(Found::unknown_field(&origin, u));
                continue;
            }
        };
        let (Some(spec), None) = (&p.spec, &p.specs) else {
            ctx.im.found.push(Found::left_out(
                &origin,
                "`specs` lists (several rules in one object) are not imported".into(),
            ));
            continue;
        };
        if spec.node_selector.is_some() {
            ctx.im.found.push(Found::left_out(
                &origin,
                "a `nodeSelector` (host policy)".into(),
            ));
            continue;
        }
        let clusterwide = p.kind == "CiliumClusterwideNetworkPolicy";
        if let Some(s) = &spec.endpoint_selector {
            let at = FieldPath::root().key("spec").key("endpointSelector");
            check_selector(s, &at).map_err(|b| b.in_object(idx, o))?;
        }
        let subject = match spec.endpoint_selector.as_ref().map(split).transpose() {
            Ok(s) => s.unwrap_or(Split {
                pods: Sel::new(),
                namespaces: Sel::new(),
                names_namespace: false,
            }),
            Err(e) => {
                ctx.im
                    .found
                    .push(Found::left_out(&origin.at("spec.endpointSelector"), e));
                continue;
            }
        };
        let namespaces: Vec<String> = if clusterwide {
            match subject
                .namespaces
                .iter()
                .find(|r| r.key == NAMESPACE_NAME_LABEL && r.op == Op::In)
            {
                Some(r) => r.values.iter().cloned().collect(),
                None => {
                    ctx.im.found.push(Found::left_out(
                        &origin,
                        "a CiliumClusterwideNetworkPolicy over namespaces it does not name: intents govern the namespaces they name (select them with `io.kubernetes.pod.namespace`)".into(),
                    ));
                    continue;
                }
            }
        } else {
            vec![p.metadata.namespace.clone().unwrap_or_default()]
        };
        let policy_ns = if clusterwide {
            None
        } else {
            p.metadata.namespace.as_deref()
        };
        let default_deny = spec.enable_default_deny.as_ref();
        let isolates_in = (spec.ingress.is_some() || spec.ingress_deny.is_some())
            && default_deny.and_then(|d| d.ingress) != Some(false);
        let isolates_eg = (spec.egress.is_some() || spec.egress_deny.is_some())
            && default_deny.and_then(|d| d.egress) != Some(false);
        for ns in namespaces {
            if !super::sel::matches(&subject.namespaces, &ctx.im.ns_labels(&ns)) {
                continue;
            }
            let mut rules = Vec::new();
            let mut push = |ctx: &mut Ctx<'_, '_>,
                            path: &FieldPath,
                            deny: bool,
                            direction: Direction,
                            r: Result<(Vec<Peer>, Ports), Fail>|
             -> Result<(), Box<InputError>> {
                let rule = origin.at(&path.to_string());
                match r {
                    Ok((peers, ports)) => {
                        for peer in peers {
                            rules.push(SideRule {
                                deny,
                                namespace: ns.clone(),
                                direction,
                                subject: subject.pods.clone(),
                                peer,
                                ports: ports.clone(),
                                origin: rule.clone(),
                            });
                        }
                    }
                    Err(Fail::LeftOut(e)) => ctx.im.found.push(Found::left_out(&rule, e)),
                    Err(Fail::Input(b)) => return Err(b.in_object(idx, o)),
                }
                Ok(())
            };
            for (i, r) in sections(spec) {
                let path = FieldPath::root().key("spec").key(r.field).index(i);
                let res = match r.unsupported {
                    Some(why) => Err(why.into()),
                    None => {
                        let l3 = L3 {
                            path: path.clone(),
                            side: r.side,
                            endpoints: r.endpoints,
                            cidrs: r.cidrs,
                            sets: r.sets,
                            entities: r.entities,
                        };
                        let ports = port_list(&path, r.to_ports.iter().copied());
                        ctx.rule(
                            &l3,
                            ports,
                            !r.to_ports.is_empty(),
                            policy_ns,
                            &origin.at(&path.to_string()),
                        )
                    }
                };
                push(&mut ctx, &path, r.deny, r.direction, res)?;
            }
            out.push(Read {
                namespace: ns.clone(),
                subject: subject.pods.clone(),
                ingress: isolates_in,
                egress: isolates_eg,
                rules,
                display: origin.object.clone(),
            });
        }
    }
    Ok(out)
}
