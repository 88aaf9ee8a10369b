//! `netpolc import`: existing NetworkPolicies (Kubernetes, Calico, Cilium) into intent
//! files, proved equal.
//!
//! Kubernetes NetworkPolicies are one-sided: a flow passes iff its egress side (the
//! source pod's policies) and its ingress side (the destination's) both allow it, and a
//! pod no policy selects is open in that direction. An intent is a connection: it allows
//! both sides of its flows, wherever that side is isolated. The importer therefore
//! writes, for every namespace with a policy, an `IntentSet` isolating the directions
//! some policy isolates there, and intents whose flows are exactly the allowed ones:
//!
//! - the pods no policy selects in an isolated direction are opened to `anywhere`
//!   (the complement of the policies' selectors, as a union of label conjunctions);
//! - an egress rule of namespace X yields its flows to addresses and to namespaces whose
//!   ingress is not isolated; an ingress rule of Y its flows from addresses and from
//!   namespaces whose egress is not isolated;
//! - every pair (egress rule of X, ingress rule of Y) yields the intersection of the two:
//!   from the egress rule's pods that the ingress rule's peer selects, to the ingress
//!   rule's pods that the egress rule's peer selects, on the ports both allow.
//!
//! The union is exactly "egress side allows ∧ ingress side allows". A rule whose every
//! pair is empty can never be used (a *dead half-rule*): it is reported (`NP9101`) with
//! the intent its author probably meant, and left out, since the real meaning has no
//! such flow. What has no exact intent form is reported (`NP9001`, `NP9002`) and left
//! out; then `import` exits 1. After writing, [`prove`] loads the files with the normal
//! loader and proves, with the engine of `build`, that the intents mean what the source
//! manifests mean as the source CNI enforces them.
//!
//! Bad input (a field of the wrong type, an unknown field, a bad selector, CIDR or port,
//! an object twice) is an [`InputError`] with a stable code ([`codes`]) and the field's
//! path; read with positions ([`import_manifests`]), it points at the text. The networks
//! the import assumes (`--pod-cidrs`, `--service-cidrs`, `--node-cidrs`, or what a
//! cluster dump tells, [`use_cluster`]) are written into the ClusterProfile, which the
//! proof then reads like any project.

mod calico;
mod cilium;
mod k8s;
mod sel;

use crate::manifests::{FieldPath, Manifests};
use crate::Target;
use ipnet::IpNet;
use netpolc_ir::naming::dns_label;
use netpolc_ir::{Direction, Protocol, NAMESPACE_NAME_LABEL};
use netpolc_source::{Diagnostic, Span};
use sel::{Req, Sel};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// The default ClusterProfile networks (the intents' defaults), written explicitly when
/// `--pod-cidrs` and `--service-cidrs` are not given.
pub const DEFAULT_POD_CIDR: &str = "10.244.0.0/16";
/// The default service network (see [`DEFAULT_POD_CIDR`]).
pub const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/12";

/// The stable codes of import's input errors (exit 2) and of its facts about the
/// cluster (`docs/diagnostics.md`).
pub mod codes {
    /// An object that is not a network policy `import` reads (wrong `apiVersion` or
    /// `kind`, or none).
    pub const NOT_A_POLICY: &str = "NP9004";
    /// A Calico or Cilium object while the source is read as another CNI (`--as`).
    pub const WRONG_SOURCE: &str = "NP9005";
    /// A field of the wrong type, an unknown or missing field, a value out of its set.
    pub const BAD_FIELD: &str = "NP9006";
    /// A label selector that is not valid (operator, values, Calico selector syntax).
    pub const BAD_SELECTOR: &str = "NP9007";
    /// An address block that is not a CIDR, or an `except` outside its `cidr`.
    pub const BAD_CIDR: &str = "NP9008";
    /// A port or protocol that is not valid.
    pub const BAD_PORT: &str = "NP9009";
    /// Two objects with one identity (kind, namespace, name).
    pub const DUPLICATE: &str = "NP9010";
    /// A Calico policy in a tier no Tier object defines.
    pub const UNKNOWN_TIER: &str = "NP9011";
    /// Addresses of the cluster dump outside the pod or service networks the import
    /// assumes (warning).
    pub const OUTSIDE_NETWORKS: &str = "NP9104";
    /// Networks taken from the cluster dump's Nodes (note).
    pub const DERIVED: &str = "NP9105";
}

/// Completes `options` with what a cluster dump tells: its namespaces' labels; the pod
/// networks (the Nodes' `spec.podCIDRs`) and node networks (the Nodes' `InternalIP`s) when
/// not given. Returns a note (`NP9105`) per network taken from the dump, and a warning
/// (`NP9104`) when pods or services of the dump have addresses outside the pod or service
/// networks the import then assumes (the proof and the written profile would be wrong
/// about them).
pub fn use_cluster(options: &mut Options, dump: &crate::dump::Dump) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (n, l) in &dump.model.namespaces {
        options
            .namespaces
            .entry(n.clone())
            .or_insert_with(|| l.clone());
    }
    let facts = &dump.networks;
    let text = |nets: &[IpNet]| {
        nets.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    if options.pod_networks.as_ref().is_none_or(Vec::is_empty) && !facts.node_pod_cidrs.is_empty() {
        let nets = IpNet::aggregate(&facts.node_pod_cidrs);
        out.push(
            Diagnostic::note(
                codes::DERIVED,
                format!(
                    "pod networks taken from the cluster dump's Nodes (`spec.podCIDRs`): {}",
                    text(&nets)
                ),
            )
            .with_help("pass `--pod-cidrs` with the cluster's whole pod network (the cluster CIDR) to cover future nodes"),
        );
        options.pod_networks = Some(nets);
    }
    if options.node_networks.is_none() && !facts.node_addresses.is_empty() {
        let nets: Vec<IpNet> = facts
            .node_addresses
            .iter()
            .map(|a| IpNet::from(*a))
            .collect();
        out.push(
            Diagnostic::note(
                codes::DERIVED,
                format!(
                    "node networks taken from the cluster dump's Nodes (`InternalIP`): {}",
                    text(&nets)
                ),
            )
            .with_help("pass `--node-cidrs` with the nodes' networks to cover future nodes"),
        );
        options.node_networks = Some(nets);
    }
    let (pods, services) = networks(options);
    let mut outside: Vec<String> = Vec::new();
    let in_any = |nets: &[IpNet], ip: &std::net::IpAddr| nets.iter().any(|n| n.contains(ip));
    for p in &dump.model.pods {
        if !in_any(&pods, &p.ip) {
            outside.push(format!("pod {}/{} ({})", p.namespace, p.name, p.ip));
        }
    }
    for ip in &dump.secondary_addresses {
        if !in_any(&pods, ip) {
            outside.push(format!("pod address {ip}"));
        }
    }
    let pods_outside = outside.len();
    for ip in &facts.service_addresses {
        if !in_any(&services, ip) {
            outside.push(format!("service address {ip}"));
        }
    }
    if !outside.is_empty() {
        const SHOWN: usize = 5;
        let mut list = outside
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if outside.len() > SHOWN {
            let _ = write!(list, " and {} more", outside.len() - SHOWN);
        }
        let flag = match (pods_outside > 0, pods_outside < outside.len()) {
            (true, true) => "`--pod-cidrs` and `--service-cidrs`",
            (true, false) => "`--pod-cidrs`",
            _ => "`--service-cidrs`",
        };
        out.push(
            Diagnostic::warning(
                codes::OUTSIDE_NETWORKS,
                format!(
                    "addresses of the cluster dump lie outside the networks the import assumes (pods {}, services {}): {list}",
                    text(&pods),
                    text(&services)
                ),
            )
            .with_note("the written ClusterProfile and the proof take these networks as the cluster's: address rules over the other addresses would be read as external")
            .with_help(format!("pass the cluster's networks with {flag}")),
        );
    }
    out
}

/// An input error of `import` (exit 2): the object and field, what is wrong with it, and
/// what to write instead. [`InputError::to_diagnostic`] locates it in the manifests'
/// text when they were read with positions ([`Manifests`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// Stable code ([`codes`]).
    pub code: &'static str,
    /// The object's index in the flattened input (`None`: not about one object).
    pub object: Option<usize>,
    /// `NetworkPolicy ns/name`.
    pub id: String,
    /// The field.
    pub path: FieldPath,
    /// Whether the key of the field is at fault (an unknown field), not its value.
    pub key: bool,
    /// What is wrong.
    pub message: String,
    /// The words under the marker.
    pub label: String,
    /// What to do.
    pub help: String,
    /// Another place: the first definition of a duplicate (object index, words).
    pub also: Option<(usize, String)>,
    /// Where, when known without the path (a typed read located by the deserializer).
    pub span: Option<Span>,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.headline())
    }
}

impl std::error::Error for InputError {}

impl InputError {
    fn headline(&self) -> String {
        match (self.id.is_empty(), self.path.is_root()) {
            (true, _) => self.message.clone(),
            (false, true) => format!("{}: {}", self.id, self.message),
            (false, false) => format!("{} {}: {}", self.id, self.path, self.message),
        }
    }

    /// The diagnostic, with the offending text when `manifests` holds the object.
    pub fn to_diagnostic(&self, manifests: Option<&Manifests>) -> Diagnostic {
        let mut d = Diagnostic::error(self.code, self.headline()).with_help(self.help.clone());
        let span = self.span.filter(|_| manifests.is_some()).or_else(|| {
            self.object
                .zip(manifests)
                .and_then(|(o, m)| m.span(o, &self.path, self.key))
        });
        d = d.with_opt_label(span, self.label.clone());
        if let Some((o, words)) = &self.also {
            if let Some(s) = manifests.and_then(|m| m.span(*o, &FieldPath::root(), false)) {
                d = d.with_secondary(s, words.clone());
            }
        }
        d
    }
}

/// An input error found by a reader, before it knows which object it is in (boxed: it
/// travels through every reader's `Result`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bad(Box<BadData>);

impl std::ops::Deref for Bad {
    type Target = BadData;
    fn deref(&self) -> &BadData {
        &self.0
    }
}

impl std::ops::DerefMut for Bad {
    fn deref_mut(&mut self) -> &mut BadData {
        &mut self.0
    }
}

/// What a [`Bad`] holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BadData {
    pub(crate) code: &'static str,
    pub(crate) path: FieldPath,
    pub(crate) key: bool,
    pub(crate) message: String,
    pub(crate) label: String,
    pub(crate) help: String,
    pub(crate) span: Option<Span>,
}

/// `net`, unless it is an IPv4-mapped IPv6 block (`::ffff:a.b.c.d`): a CNI may read
/// such a block as IPv4 or as IPv6 addresses, so it has no one meaning to import (the
/// intent language refuses it too, `NP2006`).
pub(crate) fn not_mapped(net: IpNet, text: &str, path: &FieldPath) -> Result<IpNet, Bad> {
    if !netpolc_ir::addr::is_v4_mapped(&net.addr()) {
        return Ok(net);
    }
    Err(Bad::new(
        codes::BAD_CIDR,
        path,
        format!("`{text}` is an IPv4-mapped IPv6 CIDR"),
        "IPv4 addresses written as IPv6",
        "a CNI may read it as IPv4 or as IPv6 addresses: write the IPv4 CIDR in the source",
    ))
}

impl Bad {
    pub(crate) fn new(
        code: &'static str,
        path: &FieldPath,
        message: impl Into<String>,
        label: impl Into<String>,
        help: impl Into<String>,
    ) -> Bad {
        Bad(Box::new(BadData {
            code,
            path: path.clone(),
            key: false,
            message: message.into(),
            label: label.into(),
            help: help.into(),
            span: None,
        }))
    }

    /// The key of the field is at fault.
    pub(crate) fn at_key(mut self) -> Bad {
        self.key = true;
        self
    }

    /// The error in object `object` (an index into the flattened input).
    pub(crate) fn in_object(self, object: usize, o: &Value) -> Box<InputError> {
        let b = *self.0;
        Box::new(InputError {
            code: b.code,
            object: Some(object),
            id: crate::object_id(o),
            path: b.path,
            key: b.key,
            message: b.message,
            label: b.label,
            help: b.help,
            also: None,
            span: b.span,
        })
    }
}

/// What a reader of Calico or Cilium rules can fail with: bad input (exit 2) or a
/// construct without an intent form (left out, `NP9001`).
pub(crate) enum Fail {
    Input(Bad),
    LeftOut(String),
}

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail::LeftOut(s)
    }
}

impl From<&str> for Fail {
    fn from(s: &str) -> Fail {
        Fail::LeftOut(s.to_string())
    }
}

impl From<Bad> for Fail {
    fn from(b: Bad) -> Fail {
        Fail::Input(b)
    }
}

/// A typed object read with serde (Calico and Cilium types refuse unknown fields): an
/// unknown field is a construct without an intent form (`Ok(Err(why))`, left out), any
/// other mismatch bad input, located by the span-keeping deserializer when the object
/// was read with positions.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    o: &Value,
    node: Option<&netpolc_intent::yaml::Node>,
    what: &str,
) -> Result<Result<T, UnknownField>, Bad> {
    match serde_json::from_value::<T>(o.clone()) {
        Ok(t) => Ok(Ok(t)),
        Err(e) => {
            let text = e.to_string();
            if text.starts_with("unknown field") {
                let span = match node.map(netpolc_intent::yaml::from_node::<T>) {
                    Some(Err(de)) => Some(de.span),
                    _ => None,
                };
                return Ok(Err(UnknownField {
                    why: format!("{text} (no intent form)"),
                    span,
                }));
            }
            let mut bad = Bad::new(
                codes::BAD_FIELD,
                &FieldPath::root(),
                format!("not a valid {what}: {text}"),
                "",
                format!("write the field as the {what} schema says (`kubectl explain` shows it)"),
            );
            // The same read over the marked tree says where.
            if let Some(Err(de)) = node.map(netpolc_intent::yaml::from_node::<T>) {
                let d = de.to_diagnostic();
                bad.span = Some(de.span);
                bad.label = d
                    .labels
                    .first()
                    .map(|l| l.message.clone())
                    .unwrap_or_default();
                bad.message = format!("not a valid {what}: {}", d.message);
            }
            Err(bad)
        }
    }
}

/// Most conjunctions the complement of one namespace's policy selectors may take.
const MAX_COMPLEMENT: usize = 64;

/// What to import and how the source is enforced.
#[derive(Clone, Debug)]
pub struct Options {
    /// The CNI enforcing the source manifests (plain NetworkPolicies are read its way).
    pub target: Target,
    /// Known namespaces and their labels (from `--cluster`); others are assumed to carry
    /// only `kubernetes.io/metadata.name`.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// The node networks (`--node-cidrs`), written as the profile's `nodeCIDRs`. Unknown
    /// (`None`): the profile declares none, and a warning (NP9103) says so when address
    /// rules are imported.
    pub node_networks: Option<Vec<IpNet>>,
    /// The pod networks (`--pod-cidrs`, or derived from `--cluster`), written as the
    /// profile's `podCIDRs`; `None` (or empty): the default, 10.244.0.0/16.
    pub pod_networks: Option<Vec<IpNet>>,
    /// The service networks (`--service-cidrs`), written as the profile's
    /// `serviceCIDRs`; `None` (or empty): the default, 10.96.0.0/12.
    pub service_networks: Option<Vec<IpNet>>,
}

impl Options {
    /// Reading as `target`, nothing known about the cluster.
    pub fn new(target: Target) -> Options {
        Options {
            target,
            namespaces: BTreeMap::new(),
            node_networks: None,
            pod_networks: None,
            service_networks: None,
        }
    }
}

/// The written intent files and what the import found.
#[derive(Clone, Debug, Default)]
pub struct Imported {
    /// (file name relative to the output folder, text), sorted.
    pub files: Vec<(String, String)>,
    /// `NP9xxx` findings, sorted as found (deterministic).
    pub diagnostics: Vec<Diagnostic>,
    /// How many constructs were left out (exit 1 when not zero).
    pub left_out: usize,
    /// How many intents were written.
    pub intents: usize,
}

/// The source CNI's view of addresses.
pub(crate) struct Source {
    pub(crate) target: Target,
    pub(crate) pod_networks: Vec<IpNet>,
    pub(crate) node_networks: Vec<IpNet>,
    /// Whether the node networks were not given.
    pub(crate) nodes_unknown: bool,
    pub(crate) cluster_networks: Vec<IpNet>,
}

/// Where a rule comes from.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    /// `NetworkPolicy ns/name`.
    pub(crate) object: String,
    /// The object's name (intents are named from it).
    pub(crate) name: String,
    /// `spec.ingress[0]` (empty: the object).
    pub(crate) rule: String,
    /// The object's index in the input, to point at the rule's text.
    pub(crate) index: Option<usize>,
}

impl Origin {
    pub(crate) fn at(&self, rule: &str) -> Origin {
        Origin {
            rule: rule.to_string(),
            ..self.clone()
        }
    }

    fn text(&self) -> String {
        if self.rule.is_empty() {
            self.object.clone()
        } else {
            format!("{} {}", self.object, self.rule)
        }
    }
}

/// A finding, turned into a diagnostic at the end.
pub(crate) struct Found {
    diagnostic: Diagnostic,
    left_out: bool,
    /// Where in the input (object index, field path), and the words under the marker.
    at: Option<(usize, String, &'static str)>,
    /// Where exactly, when known otherwise (an unknown field found by the deserializer).
    span: Option<Span>,
}

impl Found {
    pub(crate) fn left_out(origin: &Origin, why: String) -> Found {
        Found {
            diagnostic: Diagnostic::error("NP9001", format!("{}: left out: {why}", origin.text()))
                .with_help("write this part as intents by hand, or keep the object as it is"),
            left_out: true,
            at: origin.index.map(|i| (i, origin.rule.clone(), "left out")),
            span: None,
        }
    }

    /// [`Found::left_out`] of an unknown field, at its key when known.
    pub(crate) fn unknown_field(origin: &Origin, field: UnknownField) -> Found {
        Found {
            span: field.span,
            ..Found::left_out(origin, field.why)
        }
    }
}

/// A field a typed read does not know: left out, not bad input.
pub(crate) struct UnknownField {
    pub(crate) why: String,
    pub(crate) span: Option<Span>,
}

/// `d` with a label at `origin`'s rule when the input was read with positions.
fn located(
    d: Diagnostic,
    at: Option<(usize, &str)>,
    label: &str,
    manifests: Option<&Manifests>,
) -> Diagnostic {
    let span = at
        .zip(manifests)
        .and_then(|((i, rule), m)| m.span(i, &FieldPath::parse(rule), false));
    d.with_opt_label(span, label.to_string())
}

/// Namespaces of a peer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Ns {
    /// One namespace by name.
    Name(String),
    /// Namespaces whose labels match (empty: all).
    Labels(Sel),
}

/// The other end of a rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Peer {
    Pods {
        ns: Ns,
        pods: Sel,
    },
    Cidr {
        net: IpNet,
        except: Vec<IpNet>,
    },
    /// Every address outside the cluster.
    World,
    Anywhere,
}

/// One port item.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PortItem {
    Range(Protocol, u16, u16),
    Named(Protocol, String),
    All(Protocol),
}

/// `None`: every port and protocol.
pub(crate) type Ports = Option<Vec<PortItem>>;

/// The peers an address block stands for, as `source` enforces it: the block outside
/// the cluster networks (the front end carves them out), and every pod when the CNI
/// matches pod addresses (Kubernetes' reading, Calico) and the block covers the pod
/// network without holes in it. A block that matches only some pod addresses, or lies
/// inside the cluster networks, has no intent form.
pub(crate) fn cidr_peers(
    cidr: IpNet,
    except: &[IpNet],
    source: &Source,
    rule: &Origin,
    found: &mut Vec<Found>,
) -> Vec<Peer> {
    let mut out = Vec::new();
    let inside_cluster = source
        .cluster_networks
        .iter()
        .any(|c| c.contains(&cidr) || *c == cidr);
    if inside_cluster {
        found.push(Found::left_out(
            rule,
            format!(
                "the block {cidr} lies inside the cluster networks (pod addresses, service addresses): an intent selects pods by labels, never by address"
            ),
        ));
        return out;
    }
    // Kubernetes' reading and Calico match node addresses by address; intents cannot name
    // nodes (address peers exclude them), so a block over a node network has no intent
    // form there. Cilium's CIDR rules never match nodes: the carved block is exact.
    if source.target != Target::Cilium {
        for nodes in &source.node_networks {
            let covered = cidr.contains(nodes) && !except.iter().any(|e| e.contains(nodes));
            if covered || nodes.contains(&cidr) {
                found.push(Found::left_out(
                    rule,
                    format!(
                        "the block {cidr} matches the node addresses of {nodes} on {}: intents name nodes only with `anywhere`, never by address",
                        source.target
                    ),
                ));
                return out;
            }
        }
    }
    if source.nodes_unknown
        && source.target != Target::Cilium
        && !found.iter().any(|f| f.diagnostic.code == "NP9103")
    {
        found.push(Found {
            diagnostic: Diagnostic::warning(
                "NP9103",
                format!(
                    "{}: the node networks are not known, so the import assumes no node address falls inside an address rule",
                    rule.text()
                ),
            )
            .with_note(format!(
                "{} matches node addresses by address; the intents' address groups exclude nodes, and the written ClusterProfile declares `nodeCIDRs: []`",
                source.target
            ))
            .with_help("pass the nodes' networks with `--node-cidrs` (the INTERNAL-IP column of `kubectl get nodes -o wide`)"),
            left_out: false,
            at: rule.index.map(|i| (i, rule.rule.clone(), "an address rule")),
            span: None,
        });
    }
    out.push(Peer::Cidr {
        net: cidr,
        except: except.to_vec(),
    });
    if source.target != Target::Cilium {
        for pods in &source.pod_networks {
            if !(cidr.contains(pods) || pods.contains(&cidr)) {
                continue;
            }
            let covers =
                cidr.contains(pods) && !except.iter().any(|e| e.contains(pods) || pods.contains(e));
            if covers {
                out.push(Peer::Pods {
                    ns: Ns::Labels(Sel::new()),
                    pods: Sel::new(),
                });
            } else {
                found.push(Found::left_out(
                    rule,
                    format!(
                        "the block {cidr} matches some pod addresses of {pods} on {}: an intent selects pods by labels, never by address",
                        source.target
                    ),
                ));
            }
        }
    }
    out
}

/// One rule of one side.
#[derive(Clone, Debug)]
pub(crate) struct SideRule {
    /// A deny rule (Calico); else an allow.
    pub(crate) deny: bool,
    pub(crate) namespace: String,
    pub(crate) direction: Direction,
    pub(crate) subject: Sel,
    pub(crate) peer: Peer,
    pub(crate) ports: Ports,
    pub(crate) origin: Origin,
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
        Protocol::Icmp => "icmp",
        Protocol::IcmpV6 => "icmpv6",
    }
}

fn port_text(p: &PortItem) -> String {
    match p {
        PortItem::Range(pr, a, b) if a == b => format!("{a}/{}", protocol_name(*pr)),
        PortItem::Range(pr, a, b) => format!("{a}-{b}/{}", protocol_name(*pr)),
        PortItem::Named(pr, n) => format!("{n}/{}", protocol_name(*pr)),
        PortItem::All(pr) => protocol_name(*pr).to_string(),
    }
}

/// The ports both allow: `Ok(Some(empty))` for none; `Err` when a named port meets a
/// number or another name (the intersection depends on each destination pod).
fn intersect_ports(a: &Ports, b: &Ports) -> Result<Ports, ()> {
    let (a, b) = match (a, b) {
        (None, x) | (x, None) => return Ok(x.clone()),
        (Some(a), Some(b)) => (a, b),
    };
    let mut out = BTreeSet::new();
    for x in a {
        for y in b {
            let proto = |p: &PortItem| match p {
                PortItem::Range(p, ..) | PortItem::Named(p, _) | PortItem::All(p) => *p,
            };
            if proto(x) != proto(y) {
                continue;
            }
            match (x, y) {
                (PortItem::All(_), o) | (o, PortItem::All(_)) => {
                    out.insert(o.clone());
                }
                (PortItem::Range(p, a1, b1), PortItem::Range(_, a2, b2)) => {
                    let (lo, hi) = ((*a1).max(*a2), (*b1).min(*b2));
                    if lo <= hi {
                        out.insert(PortItem::Range(*p, lo, hi));
                    }
                }
                (PortItem::Named(_, n), PortItem::Named(_, m)) if n == m => {
                    out.insert(x.clone());
                }
                _ => return Err(()),
            }
        }
    }
    Ok(Some(out.into_iter().collect()))
}

/// A group of an intent.
type Group = Peer;

/// One intent to write.
struct IntentOut {
    deny: bool,
    set: String,
    name: String,
    from: Group,
    to: Group,
    ports: Ports,
    comment: String,
}

struct Importer<'a> {
    options: &'a Options,
    found: Vec<Found>,
}

impl Importer<'_> {
    fn ns_labels(&self, ns: &str) -> BTreeMap<String, String> {
        let mut l = self.options.namespaces.get(ns).cloned().unwrap_or_default();
        l.insert(NAMESPACE_NAME_LABEL.into(), ns.into());
        l
    }

    /// The pods of namespace `x` a peer selects (`None`: none).
    fn restrict_to(&self, peer: &Peer, x: &str) -> Option<Sel> {
        match peer {
            Peer::Pods {
                ns: Ns::Name(n),
                pods,
            } => (n == x).then(|| pods.clone()),
            Peer::Pods {
                ns: Ns::Labels(l),
                pods,
            } => sel::matches(l, &self.ns_labels(x)).then(|| pods.clone()),
            Peer::Anywhere => Some(Sel::new()),
            Peer::Cidr { .. } | Peer::World => None,
        }
    }
}

/// Why a rule allowing every peer is left out when node networks are declared.
const NODES_LOST: &str = "the rule allows every peer, node addresses included; outside the namespaces whose other side is isolated that is every address and every other pod, which intents can write only as `world` and pod groups, both without nodes (only `anywhere` names nodes, and it would also open the isolated side)";

/// Whether splitting `peer` outside the namespaces `isolated` would lose the node
/// addresses the source allows: `anywhere` split while node networks are declared.
fn nodes_lost(peer: &Peer, isolated: &BTreeSet<String>, source: &Source) -> bool {
    matches!(peer, Peer::Anywhere) && !isolated.is_empty() && !source.node_networks.is_empty()
}

/// The part of a peer outside the namespaces `isolated` (addresses included).
fn outside(peer: &Peer, isolated: &BTreeSet<String>) -> Vec<Peer> {
    let not_in = || Req::not_in(NAMESPACE_NAME_LABEL, isolated.iter().cloned());
    match peer {
        Peer::Cidr { .. } | Peer::World => vec![peer.clone()],
        Peer::Anywhere if isolated.is_empty() => vec![Peer::Anywhere],
        Peer::Anywhere => vec![
            Peer::World,
            Peer::Pods {
                ns: Ns::Labels(Sel::from([not_in()])),
                pods: Sel::new(),
            },
        ],
        Peer::Pods {
            ns: Ns::Name(n), ..
        } => {
            if isolated.contains(n) {
                vec![]
            } else {
                vec![peer.clone()]
            }
        }
        Peer::Pods {
            ns: Ns::Labels(l),
            pods,
        } => {
            if isolated.is_empty() {
                return vec![peer.clone()];
            }
            let mut l = l.clone();
            // A name list stays a name list: drop the isolated names from it.
            let names_in = l
                .iter()
                .find(|r| r.key == NAMESPACE_NAME_LABEL && r.op == sel::Op::In)
                .cloned();
            match names_in {
                Some(r) => {
                    l.remove(&r);
                    let kept: netpolc_ir::sorted::SortedSet<String> = r
                        .values
                        .iter()
                        .filter(|v| !isolated.contains(*v))
                        .cloned()
                        .collect();
                    if kept.is_empty() {
                        return vec![];
                    }
                    l.insert(Req { values: kept, ..r });
                }
                None => {
                    l.insert(not_in());
                }
            }
            if sel::satisfiable(&l) {
                vec![Peer::Pods {
                    ns: Ns::Labels(l),
                    pods: pods.clone(),
                }]
            } else {
                vec![]
            }
        }
    }
}

/// Imports manifests (already read into objects; `List`s are unpacked). Errors are
/// input errors (exit 2); their `object` indexes the unpacked objects.
///
/// # Errors
/// An [`InputError`] naming the object and field when a manifest cannot be read.
pub fn import(objects: &[Value], options: &Options) -> Result<Imported, Box<InputError>> {
    import_with(&crate::dump::flatten(objects.to_vec()), None, options)
}

/// [`import`] of manifests read with positions: errors point at the text
/// ([`InputError::to_diagnostic`] with the same manifests).
///
/// # Errors
/// As [`import`].
pub fn import_manifests(
    manifests: &Manifests,
    options: &Options,
) -> Result<Imported, Box<InputError>> {
    import_with(&manifests.objects, Some(manifests), options)
}

/// The networks an import assumes: the options' or the defaults.
fn networks(options: &Options) -> (Vec<IpNet>, Vec<IpNet>) {
    let or_default = |given: &Option<Vec<IpNet>>, default: &str| match given {
        Some(n) if !n.is_empty() => n.clone(),
        _ => default.parse().into_iter().collect(),
    };
    (
        or_default(&options.pod_networks, DEFAULT_POD_CIDR),
        or_default(&options.service_networks, DEFAULT_SERVICE_CIDR),
    )
}

fn import_with(
    objects: &[Value],
    manifests: Option<&Manifests>,
    options: &Options,
) -> Result<Imported, Box<InputError>> {
    let (pod_networks, service_networks) = networks(options);
    let source = Source {
        target: options.target,
        pod_networks: pod_networks.clone(),
        node_networks: options.node_networks.clone().unwrap_or_default(),
        nodes_unknown: options.node_networks.is_none(),
        cluster_networks: pod_networks
            .iter()
            .chain(&service_networks)
            .chain(options.node_networks.iter().flatten())
            .copied()
            .collect(),
    };
    let mut im = Importer {
        options,
        found: Vec::new(),
    };
    let node = |i: usize| manifests.and_then(|m| m.node(i));
    let mut reads = Vec::new();
    let mut calico = Vec::new();
    let mut cilium_objects = Vec::new();
    let mut ids: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for (idx, o) in objects.iter().enumerate() {
        let api = o["apiVersion"].as_str().unwrap_or_default();
        let kind = o["kind"].as_str().unwrap_or_default();
        let id = crate::object_id(o);
        let root = FieldPath::root();
        let wrong_source = |what: &str, flag: &str| {
            Bad::new(
                codes::WRONG_SOURCE,
                &root.key("apiVersion"),
                format!(
                    "a {what} object, but the source is read as {} (pass `--as {flag}`)",
                    options.target
                ),
                format!("{what} API"),
                format!("pass `--as {flag}`, or import the {what} objects separately"),
            )
            .in_object(idx, o)
        };
        let known = match (api, kind) {
            ("networking.k8s.io/v1", "NetworkPolicy") => {
                reads.push(
                    k8s::read(o, idx, &source, &mut im.found).map_err(|b| b.in_object(idx, o))?,
                );
                true
            }
            ("projectcalico.org/v3" | "crd.projectcalico.org/v1", _) => {
                if options.target != Target::Calico {
                    return Err(wrong_source("Calico", "calico"));
                }
                calico.push((idx, o, node(idx)));
                true
            }
            ("cilium.io/v2", "CiliumNetworkPolicy" | "CiliumClusterwideNetworkPolicy") => {
                if options.target != Target::Cilium {
                    return Err(wrong_source("Cilium", "cilium"));
                }
                cilium_objects.push((idx, o, node(idx)));
                true
            }
            ("cilium.io/v2", _) => {
                im.found.push(Found {
                    diagnostic: Diagnostic::error(
                        "NP9002",
                        format!("{id}: left out: `{api}` `{kind}` objects are not imported"),
                    )
                    .with_help("keep the object as it is next to the imported intents, or write it as intents by hand; `netpolc eval` shows what it allows"),
                    left_out: true,
                    at: Some((idx, "kind".into(), "not imported")),
                    span: None,
                });
                false
            }
            _ => return Err(not_a_policy(o).in_object(idx, o)),
        };
        if known {
            let key = (
                format!("{api} {kind}"),
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
            if let Some(&first) = ids.get(&key) {
                let mut e = Bad::new(
                    codes::DUPLICATE,
                    &root.key("metadata").key("name"),
                    "defined more than once",
                    "the second definition",
                    "keep one object of this kind, namespace and name: `kubectl apply` keeps only the last",
                )
                .in_object(idx, o);
                e.also = Some((first, "the first definition".into()));
                return Err(e);
            }
            ids.insert(key, idx);
        }
    }
    reads.extend(calico::read(&calico, &source, &mut im)?);
    reads.extend(cilium::read(&cilium_objects, &source, &mut im)?);
    reads.sort_by(|a, b| (&a.display, &a.namespace).cmp(&(&b.display, &b.namespace)));

    // Isolation per namespace and direction, and the rules of each side.
    let mut isolated: BTreeMap<Direction, BTreeSet<String>> = BTreeMap::new();
    let mut subjects: BTreeMap<(String, Direction), Vec<(Sel, String)>> = BTreeMap::new();
    let mut rules: BTreeMap<(String, Direction), Vec<SideRule>> = BTreeMap::new();
    let mut managed: BTreeSet<String> = BTreeSet::new();
    for r in &reads {
        managed.insert(r.namespace.clone());
        for (d, on) in [
            (Direction::Ingress, r.ingress),
            (Direction::Egress, r.egress),
        ] {
            if on {
                isolated.entry(d).or_default().insert(r.namespace.clone());
                subjects
                    .entry((r.namespace.clone(), d))
                    .or_default()
                    .push((r.subject.clone(), r.display.clone()));
            }
        }
        for rule in r.rules.iter().filter(|r| !r.deny) {
            rules
                .entry((rule.namespace.clone(), rule.direction))
                .or_default()
                .push(rule.clone());
        }
    }
    // Pods no policy selects stay open: opened to `anywhere`.
    for ((ns, d), sels) in &subjects {
        let only: Vec<Sel> = sels.iter().map(|(s, _)| s.clone()).collect();
        let origin = Origin {
            object: format!("namespace {ns}"),
            name: format!("unselected-{}", direction_name(*d)),
            rule: format!("pods no {} policy selects", direction_name(*d)),
            index: None,
        };
        match sel::complement_of_union(&only, MAX_COMPLEMENT) {
            Some(open) => {
                for c in open {
                    rules.entry((ns.clone(), *d)).or_default().push(SideRule {
                        deny: false,
                        namespace: ns.clone(),
                        direction: *d,
                        subject: c,
                        peer: Peer::Anywhere,
                        ports: None,
                        origin: origin.clone(),
                    });
                }
            }
            None => im.found.push(Found::left_out(
                &origin,
                format!(
                    "the pods no policy selects take more than {MAX_COMPLEMENT} label conjunctions"
                ),
            )),
        }
    }
    let empty = BTreeSet::new();
    let in_iso = isolated.get(&Direction::Ingress).unwrap_or(&empty);
    let eg_iso = isolated.get(&Direction::Egress).unwrap_or(&empty);
    let side = |ns: &str, d: Direction| -> &[SideRule] {
        rules
            .get(&(ns.to_string(), d))
            .map(Vec::as_slice)
            .unwrap_or_default()
    };

    let mut intents: Vec<IntentOut> = Vec::new();
    // Deny rules: a deny intent of the same flows (deny beats allow; the proof checks
    // that the source's order does not say otherwise).
    for r in &reads {
        for d in r.rules.iter().filter(|r| r.deny) {
            let (from, to) = match d.direction {
                Direction::Egress => (own(&d.namespace, &d.subject), d.peer.clone()),
                Direction::Ingress => (d.peer.clone(), own(&d.namespace, &d.subject)),
            };
            intents.push(IntentOut {
                deny: true,
                set: d.namespace.clone(),
                name: format!(
                    "{}-deny-{}-{}",
                    d.origin.name,
                    direction_name(d.direction),
                    rule_index(&d.origin)
                ),
                from,
                to,
                ports: d.ports.clone(),
                comment: d.origin.text(),
            });
        }
    }
    // Egress rules towards addresses and namespaces whose ingress is open.
    for x in eg_iso {
        for e in side(x, Direction::Egress) {
            if nodes_lost(&e.peer, in_iso, &source) {
                im.found
                    .push(Found::left_out(&e.origin, NODES_LOST.to_string()));
                continue;
            }
            for (k, to) in outside(&e.peer, in_iso).into_iter().enumerate() {
                intents.push(IntentOut {
                    deny: false,
                    set: x.clone(),
                    name: format!("{}-egress-{}-{k}", e.origin.name, rule_index(&e.origin)),
                    from: own(x, &e.subject),
                    to,
                    ports: e.ports.clone(),
                    comment: e.origin.text(),
                });
            }
        }
    }
    // Ingress rules from addresses and namespaces whose egress is open.
    for y in in_iso {
        for i in side(y, Direction::Ingress) {
            if nodes_lost(&i.peer, eg_iso, &source) {
                im.found
                    .push(Found::left_out(&i.origin, NODES_LOST.to_string()));
                continue;
            }
            for (k, from) in outside(&i.peer, eg_iso).into_iter().enumerate() {
                intents.push(IntentOut {
                    deny: false,
                    set: y.clone(),
                    name: format!("{}-ingress-{}-{k}", i.origin.name, rule_index(&i.origin)),
                    from,
                    to: own(y, &i.subject),
                    ports: i.ports.clone(),
                    comment: i.origin.text(),
                });
            }
        }
    }
    // Both sides isolated: the intersections.
    let mut used: BTreeSet<(String, String)> = BTreeSet::new();
    for x in eg_iso {
        for e in side(x, Direction::Egress) {
            for y in in_iso {
                let Some(to_peer) = im.restrict_to(&e.peer, y) else {
                    continue;
                };
                for i in side(y, Direction::Ingress) {
                    let Some(from_peer) = im.restrict_to(&i.peer, x) else {
                        continue;
                    };
                    let (Some(from), Some(to)) = (
                        sel::and(&e.subject, &from_peer),
                        sel::and(&i.subject, &to_peer),
                    ) else {
                        continue;
                    };
                    let ports = match intersect_ports(&e.ports, &i.ports) {
                        Ok(Some(p)) if p.is_empty() => continue,
                        Ok(p) => p,
                        Err(()) => {
                            used.insert((e.origin.text(), y.clone()));
                            used.insert((i.origin.text(), x.clone()));
                            im.found.push(Found::left_out(
                                &e.origin,
                                format!(
                                    "with {}: a named port meets a port number or another name; which flows both allow depends on each destination pod's ports",
                                    i.origin.text()
                                ),
                            ));
                            continue;
                        }
                    };
                    used.insert((e.origin.text(), y.clone()));
                    used.insert((i.origin.text(), x.clone()));
                    intents.push(IntentOut {
                        deny: false,
                        set: x.clone(),
                        name: format!(
                            "{}-egress-{}-{}-ingress-{}",
                            e.origin.name,
                            rule_index(&e.origin),
                            i.origin.name,
                            rule_index(&i.origin)
                        ),
                        from: own(x, &from),
                        to: Peer::Pods {
                            ns: Ns::Name(y.clone()),
                            pods: to,
                        },
                        ports,
                        comment: format!("{} and {}", e.origin.text(), i.origin.text()),
                    });
                }
            }
        }
    }
    // Dead half-rules: a rule naming pods of a namespace whose other side allows none of
    // its flows, and that yields no intent at all.
    let produced: BTreeSet<&str> = intents
        .iter()
        .flat_map(|i| i.comment.split(" and "))
        .collect();
    let mut dead = Vec::new();
    for (d, mine, theirs, other_dir) in [
        (Direction::Ingress, in_iso, eg_iso, Direction::Egress),
        (Direction::Egress, eg_iso, in_iso, Direction::Ingress),
    ] {
        for y in mine {
            for r in side(y, d) {
                if !matches!(r.peer, Peer::Pods { .. })
                    || produced.contains(r.origin.text().as_str())
                {
                    continue;
                }
                for x in theirs {
                    let Some(peer_pods) = im.restrict_to(&r.peer, x) else {
                        continue;
                    };
                    if used.contains(&(r.origin.text(), x.clone())) {
                        continue;
                    }
                    // The objects of the other side that isolate those pods.
                    let blockers: Vec<String> = subjects
                        .get(&(x.clone(), other_dir))
                        .into_iter()
                        .flatten()
                        .filter(|(s, _)| sel::and(s, &peer_pods).is_some())
                        .map(|(_, name)| name.clone())
                        .collect();
                    if blockers.is_empty() {
                        continue;
                    }
                    dead.push((r.clone(), x.clone(), peer_pods, blockers));
                }
            }
        }
    }
    let mut diagnostics_dead = Vec::new();
    for (r, x, peer_pods, blockers) in dead {
        let (from, to) = match r.direction {
            Direction::Ingress => (
                Peer::Pods {
                    ns: Ns::Name(x.clone()),
                    pods: peer_pods,
                },
                Peer::Pods {
                    ns: Ns::Name(r.namespace.clone()),
                    pods: r.subject.clone(),
                },
            ),
            Direction::Egress => (
                Peer::Pods {
                    ns: Ns::Name(r.namespace.clone()),
                    pods: r.subject.clone(),
                },
                Peer::Pods {
                    ns: Ns::Name(x.clone()),
                    pods: peer_pods,
                },
            ),
        };
        let set = match r.direction {
            Direction::Ingress => x.clone(),
            Direction::Egress => r.namespace.clone(),
        };
        let mut scratch = SetOut {
            namespace: set.clone(),
            ..SetOut::default()
        };
        let (fg, tg) = (scratch.group(&from), scratch.group(&to));
        let defs: Vec<String> = scratch
            .groups
            .iter()
            .map(|(n, d)| format!("`{n}: {d}`"))
            .collect();
        let suggestion = format!(
            "`- {{name: {}, from: {fg}, to: {tg}{}}}`{}",
            dns_label(
                &[&format!(
                    "{}-{}",
                    r.origin.name,
                    direction_name(r.direction)
                )],
                60
            ),
            ports_yaml(&r.ports),
            if defs.is_empty() {
                String::new()
            } else {
                format!(" with the groups {}", defs.join(", "))
            }
        );
        let other = match r.direction {
            Direction::Ingress => "egress",
            Direction::Egress => "ingress",
        };
        diagnostics_dead.push(located(
            Diagnostic::warning(
                "NP9101",
                format!(
                    "{}: can never be used: {} isolate{} the {other} of those pods in `{x}` and no {other} rule there allows these flows",
                    r.origin.text(),
                    blockers.join(", "),
                    if blockers.len() == 1 { "s" } else { "" },
                ),
            )
            .with_note("the imported intents keep the real meaning: these flows stay denied")
            .with_help(format!(
                "if the flows were meant to pass, add to the IntentSet of `{set}`: {suggestion}"
            )),
            r.origin.index.map(|i| (i, r.origin.rule.as_str())),
            "never used",
            manifests,
        ));
    }
    // Broad allows: an egress `ipBlock` of every address.
    let mut broad = Vec::new();
    for x in eg_iso {
        for e in side(x, Direction::Egress) {
            if let Peer::Cidr { net, except } = &e.peer {
                if net.prefix_len() == 0 {
                    let pods = if options.target == Target::Cilium {
                        ""
                    } else {
                        " and, as this CNI matches pod addresses by `ipBlock`, every pod"
                    };
                    let ports = match &e.ports {
                        None => "on every port".to_string(),
                        Some(p) => format!(
                            "on {}",
                            p.iter().map(port_text).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    let mut d = Diagnostic::warning(
                        "NP9102",
                        format!(
                            "{}: allows egress to every address{pods}, {ports}",
                            e.origin.text()
                        ),
                    );
                    if !except.is_empty() {
                        d = d.with_note(format!(
                            "its `except` ({}) only narrows this allow: it blocks nothing that another rule allows",
                            except.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                        ));
                    }
                    broad.push(located(
                        d.with_help(
                            "to block addresses, use a deny intent (the preset `block-cloud-metadata`) next to the allows you mean",
                        ),
                        e.origin.index.map(|i| (i, e.origin.rule.as_str())),
                        "every address",
                        manifests,
                    ));
                }
            }
        }
    }

    // Write the sets.
    let mut sets: BTreeMap<String, SetOut> = BTreeMap::new();
    for ns in &managed {
        sets.insert(
            ns.clone(),
            SetOut {
                namespace: ns.clone(),
                ingress: in_iso.contains(ns),
                egress: eg_iso.contains(ns),
                ..SetOut::default()
            },
        );
    }
    let count = intents.len();
    for i in intents {
        if let Some(s) = sets.get_mut(&i.set) {
            s.add(i);
        }
    }
    let mut files = Vec::new();
    for (ns, s) in &sets {
        files.push((format!("{ns}.yaml"), s.text(&im.ns_labels(ns))));
    }
    let mut profile = String::from(
        "# Written by `netpolc import`: set the networks to your cluster's; they decide what\n\
         # CIDR groups and `world` mean.\n\
         apiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\nspec:\n",
    );
    let (pods, services) = networks(options);
    let list = |nets: &[IpNet]| {
        nets.iter()
            .map(|n| q(&n.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if options.pod_networks.as_ref().is_none_or(Vec::is_empty) {
        profile.push_str("  # Not given to `netpolc import` (--pod-cidrs): the default.\n");
    }
    let _ = writeln!(profile, "  podCIDRs: [{}]", list(&pods));
    if options.service_networks.as_ref().is_none_or(Vec::is_empty) {
        profile.push_str("  # Not given to `netpolc import` (--service-cidrs): the default.\n");
    }
    let _ = writeln!(profile, "  serviceCIDRs: [{}]", list(&services));
    match &options.node_networks {
        Some(nets) => {
            let list: Vec<String> = nets.iter().map(|n| q(&n.to_string())).collect();
            let _ = writeln!(profile, "  nodeCIDRs: [{}]", list.join(", "));
        }
        None => profile.push_str(
            "  # Not given to `netpolc import` (--node-cidrs): set the nodes' networks here.\n  nodeCIDRs: []\n",
        ),
    }
    let unmanaged: Vec<(&String, &BTreeMap<String, String>)> = options
        .namespaces
        .iter()
        .filter(|(n, _)| !managed.contains(*n))
        .collect();
    if !unmanaged.is_empty() {
        profile.push_str("  namespaces:\n");
        for (n, l) in unmanaged {
            let _ = writeln!(profile, "    {}: {}", q(n), labels_yaml(l, n));
        }
    }
    files.push(("cluster-profile.yaml".into(), profile));
    files.sort();
    let left_out = im.found.iter().filter(|f| f.left_out).count();
    let mut diagnostics: Vec<Diagnostic> = im
        .found
        .into_iter()
        .map(|f| match (&f.at, f.span.filter(|_| manifests.is_some())) {
            (Some((_, _, label)), Some(span)) => f.diagnostic.with_label(span, *label),
            (Some((i, rule, label)), None) => {
                located(f.diagnostic, Some((*i, rule.as_str())), label, manifests)
            }
            (None, _) => f.diagnostic,
        })
        .collect();
    diagnostics.extend(diagnostics_dead);
    diagnostics.extend(broad);
    Ok(Imported {
        files,
        diagnostics,
        left_out,
        intents: count,
    })
}

/// Why an object is not read, and what it probably should be.
fn not_a_policy(o: &Value) -> Bad {
    let root = FieldPath::root();
    let api = &o["apiVersion"];
    let kind = &o["kind"];
    let help = "import reads networking.k8s.io/v1 NetworkPolicy, projectcalico.org/v3 (or crd.projectcalico.org/v1) policies, tiers and network sets, and cilium.io/v2 CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy";
    let Some(kind_s) = kind.as_str() else {
        return Bad::new(
            codes::NOT_A_POLICY,
            &root.key("kind"),
            "an object without a `kind`",
            "no `kind` here",
            help,
        );
    };
    let Some(api_s) = api.as_str() else {
        return Bad::new(
            codes::NOT_A_POLICY,
            &root.key("apiVersion"),
            format!("a `{kind_s}` without an `apiVersion`"),
            "no `apiVersion` here",
            help,
        );
    };
    if kind_s == "NetworkPolicy" && api_s.starts_with("networking.k8s.io/") {
        return Bad::new(
            codes::NOT_A_POLICY,
            &root.key("apiVersion"),
            format!("`{api_s}` is not an API version of NetworkPolicy that import reads"),
            "expected `networking.k8s.io/v1`",
            "write `apiVersion: networking.k8s.io/v1` (the only version Kubernetes serves)",
        );
    }
    if api_s.starts_with("cilium.io/") || kind_s.starts_with("Cilium") {
        return Bad::new(
            codes::NOT_A_POLICY,
            &root.key("apiVersion"),
            format!("`{api_s}` `{kind_s}` is not a Cilium policy that import reads"),
            "expected `cilium.io/v2`",
            "write `apiVersion: cilium.io/v2` with kind CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy",
        );
    }
    Bad::new(
        codes::NOT_A_POLICY,
        &root.key("kind"),
        format!("`{api_s}` `{kind_s}` is not a network policy"),
        "not a network policy",
        help,
    )
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}

/// `3` of `spec.egress[3]`.
fn rule_index(o: &Origin) -> String {
    o.rule
        .split('[')
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap_or("0")
        .to_string()
}

fn own(ns: &str, pods: &Sel) -> Peer {
    Peer::Pods {
        ns: Ns::Name(ns.to_string()),
        pods: pods.clone(),
    }
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn labels_yaml(l: &BTreeMap<String, String>, ns: &str) -> String {
    let parts: Vec<String> = l
        .iter()
        .filter(|(k, v)| !(k.as_str() == NAMESPACE_NAME_LABEL && v.as_str() == ns))
        .map(|(k, v)| format!("{}: {}", q(k), q(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

fn ports_yaml(p: &Ports) -> String {
    match p {
        None => String::new(),
        Some(p) => format!(
            ", ports: [{}]",
            p.iter()
                .map(|x| q(&port_text(x)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A group's name and its definition (`None` for the built-in groups).
fn group_spec(g: &Group, set: &str) -> (String, Option<String>) {
    match g {
        Peer::Anywhere => ("anywhere".into(), None),
        Peer::World => ("world".into(), None),
        Peer::Pods {
            ns: Ns::Name(n),
            pods,
        } if n == set && pods.is_empty() => ("all".into(), None),
        Peer::Pods {
            ns: Ns::Name(n),
            pods,
        } if n == set => (
            sel::name_of(pods),
            Some(format!("{{selector: {}}}", sel::to_yaml(pods))),
        ),
        Peer::Pods {
            ns: Ns::Name(n),
            pods,
        } => {
            let base = if pods.is_empty() {
                format!("ns-{n}")
            } else {
                format!("{}-in-{n}", sel::name_of(pods))
            };
            let spec = if pods.is_empty() {
                format!("{{namespaces: [{}]}}", q(n))
            } else {
                format!(
                    "{{selector: {}, namespaces: [{}]}}",
                    sel::to_yaml(pods),
                    q(n)
                )
            };
            (base, Some(spec))
        }
        Peer::Pods {
            ns: Ns::Labels(l),
            pods,
        } if names_only(l).is_some() => {
            let names = names_only(l).unwrap_or_default();
            let list: Vec<String> = names.iter().map(|n| q(n)).collect();
            let nsname = format!("ns-{}", names.join("-"));
            let base = if pods.is_empty() {
                nsname
            } else {
                format!("{}-in-{nsname}", sel::name_of(pods))
            };
            let spec = if pods.is_empty() {
                format!("{{namespaces: [{}]}}", list.join(", "))
            } else {
                format!(
                    "{{selector: {}, namespaces: [{}]}}",
                    sel::to_yaml(pods),
                    list.join(", ")
                )
            };
            (base, Some(spec))
        }
        Peer::Pods {
            ns: Ns::Labels(l),
            pods,
        } => {
            let nsname = if l.is_empty() {
                "all-namespaces".to_string()
            } else {
                format!("ns-{}", sel::name_of(l))
            };
            let base = if pods.is_empty() {
                nsname
            } else {
                format!("{}-in-{nsname}", sel::name_of(pods))
            };
            let spec = if pods.is_empty() {
                format!("{{namespaces: {}}}", sel::to_yaml(l))
            } else {
                format!(
                    "{{selector: {}, namespaces: {}}}",
                    sel::to_yaml(pods),
                    sel::to_yaml(l)
                )
            };
            (base, Some(spec))
        }
        Peer::Cidr { net, except } => {
            let spec = if except.is_empty() {
                format!("{{cidrs: [{}]}}", q(&net.to_string()))
            } else {
                let ex: Vec<String> = except.iter().map(|e| q(&e.to_string())).collect();
                format!(
                    "{{cidrs: [{{cidr: {}, except: [{}]}}]}}",
                    q(&net.to_string()),
                    ex.join(", ")
                )
            };
            (format!("cidr-{net}"), Some(spec))
        }
    }
}

/// The names of a namespace selector that is exactly `kubernetes.io/metadata.name In
/// [...]`.
fn names_only(l: &Sel) -> Option<Vec<String>> {
    match l.iter().collect::<Vec<_>>().as_slice() {
        [r] if r.key == NAMESPACE_NAME_LABEL && r.op == sel::Op::In => {
            Some(r.values.iter().cloned().collect())
        }
        _ => None,
    }
}

const BUILTINS: [&str; 6] = [
    "all",
    "anywhere",
    "world",
    "kube-dns",
    "kube-apiserver",
    "host",
];

/// One IntentSet being written.
#[derive(Default)]
struct SetOut {
    namespace: String,
    ingress: bool,
    egress: bool,
    /// name → definition.
    groups: BTreeMap<String, String>,
    /// definition → name.
    by_spec: BTreeMap<String, String>,
    intents: Vec<(String, String)>,
    names: BTreeSet<String>,
    /// `from to ports` → index in `intents`.
    seen: BTreeMap<String, usize>,
}

impl SetOut {
    fn group(&mut self, g: &Group) -> String {
        let (base, spec) = group_spec(g, &self.namespace);
        let Some(spec) = spec else {
            return base;
        };
        if let Some(n) = self.by_spec.get(&spec) {
            return n.clone();
        }
        let mut base = dns_label(&[&base], 50);
        if BUILTINS.contains(&base.as_str()) {
            base.push_str("-pods");
        }
        let mut name = base.clone();
        let mut k = 2;
        while self.groups.contains_key(&name) {
            name = format!("{base}-{k}");
            k += 1;
        }
        self.groups.insert(name.clone(), spec.clone());
        self.by_spec.insert(spec, name.clone());
        name
    }

    fn add(&mut self, i: IntentOut) {
        let from = self.group(&i.from);
        let to = self.group(&i.to);
        let action = if i.deny { ", action: deny" } else { "" };
        let key = format!("{from} {to}{}{action}", ports_yaml(&i.ports));
        if let Some(&k) = self.seen.get(&key) {
            // The same flows again: one intent, naming every source.
            let c = &mut self.intents[k].0;
            c.push_str("\n  # ");
            c.push_str(&i.comment);
            return;
        }
        self.seen.insert(key, self.intents.len());
        let base = dns_label(&[&i.name], 58);
        let mut name = base.clone();
        let mut k = 2;
        while self.names.contains(&name) {
            name = format!("{base}-{k}");
            k += 1;
        }
        self.names.insert(name.clone());
        let line = format!(
            "  - {{name: {name}, from: {from}, to: {to}{}{action}}}",
            ports_yaml(&i.ports)
        );
        self.intents.push((i.comment, line));
    }

    fn text(&self, labels: &BTreeMap<String, String>) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# Written by `netpolc import` from the NetworkPolicies of namespace `{}`.",
            self.namespace
        );
        s.push_str("apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\n");
        let _ = writeln!(s, "metadata: {{name: {}}}", q(&self.namespace));
        s.push_str("spec:\n");
        let _ = writeln!(s, "  namespace: {}", q(&self.namespace));
        let l = labels_yaml(labels, &self.namespace);
        if l != "{}" {
            let _ = writeln!(s, "  namespaceLabels: {l}");
        }
        let iso: Vec<&str> = [(self.ingress, "ingress"), (self.egress, "egress")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        if !iso.is_empty() {
            let _ = writeln!(s, "  isolate: [{}]", iso.join(", "));
        }
        if !self.groups.is_empty() {
            s.push_str("  groups:\n");
            for (n, spec) in &self.groups {
                let _ = writeln!(s, "    {n}: {spec}");
            }
        }
        if !self.intents.is_empty() {
            s.push_str("  intents:\n");
            for (comment, line) in &self.intents {
                let _ = writeln!(s, "  # {comment}");
                let _ = writeln!(s, "{line}");
            }
        }
        s
    }
}

/// The outcome of proving an import.
#[derive(Clone, Debug, Default)]
pub struct ProofOutcome {
    /// Disagreements between the source manifests and the intents, as diagnostics.
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads the intents written under `dir` with the normal loader, compiles them, renders
/// them to the source's back end (verified like `build`), and proves that the source
/// manifests, as `target` enforces them, mean what the intents mean: on the model
/// derived from the intents and, when given, on the cluster's model. With
/// `compare_source` false (something was left out, so they differ by design) only the
/// compiled intents are checked.
///
/// # Errors
/// When the written intents do not compile (an importer bug, with the diagnostics).
pub fn prove(
    dir: &Path,
    objects: &[Value],
    target: Target,
    cluster: Option<&netpolc_ir::model::ClusterModel>,
    compare_source: bool,
) -> Result<ProofOutcome, String> {
    // The folder as the root and as the input: absolute, or the loader would look for
    // `out/out` when `--out` is relative.
    let dir = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let loaded = crate::load::policies(&dir, &dir).map_err(|d| d.message.clone())?;
    let compiled = crate::compile(&loaded);
    let Some(program) = compiled.program else {
        return Err(netpolc_source::render_human(
            &loaded.sources,
            &compiled.diagnostics,
        ));
    };
    let model = netpolc_ir::derive::derive(&program);
    let source: Vec<Value> = crate::dump::flatten(objects.to_vec())
        .into_iter()
        .filter(|o| {
            let api = o["apiVersion"].as_str().unwrap_or_default();
            api == "networking.k8s.io/v1"
                || (target == Target::Calico
                    && (api == "projectcalico.org/v3" || api == "crd.projectcalico.org/v1"))
                || (target == Target::Cilium && api == "cilium.io/v2")
        })
        .collect();
    let mut out = ProofOutcome::default();
    // SCTP rules in the source mean the agents enforce SCTP: render them.
    let mut render_options = crate::Options::default();
    render_options.cilium.sctp = true;
    let rendered = match crate::render(&program, target, &render_options) {
        Ok(r) => r.objects,
        Err(d) => {
            return Err(netpolc_source::render_human(&loaded.sources, &d));
        }
    };
    let mut models = vec![("the model derived from the intents", model)];
    if let Some(c) = cluster {
        let mut c = c.clone();
        c.ports = crate::dump::ports(&source, &c);
        c.externals = crate::dump::externals(&source, &c, &[]);
        models.push(("the cluster dump", c));
    }
    for (what, model) in &models {
        for (label, objs) in [
            ("source manifests", &source),
            ("compiled intents", &rendered),
        ] {
            if label == "source manifests" && !compare_source {
                continue;
            }
            let report = crate::verify::prove(&program, model, &[(target, objs.clone())], 10)?;
            for d in report.disagreements {
                out.diagnostics.push(
                    Diagnostic::error(
                        "NP9003",
                        format!(
                            "not proved equal on {what}: {} ({label} on {target}) {}; the imported intents {}",
                            d.flow, d.emitted, d.intended
                        ),
                    )
                    .with_help("report this as a netpolc bug, with the manifests"),
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_intersect() {
        let tcp = |a, b| PortItem::Range(Protocol::Tcp, a, b);
        let a = Some(vec![tcp(80, 90)]);
        let b = Some(vec![tcp(85, 100), PortItem::All(Protocol::Udp)]);
        assert_eq!(intersect_ports(&a, &b), Ok(Some(vec![tcp(85, 90)])));
        assert_eq!(intersect_ports(&None, &b), Ok(b.clone()));
        let named = Some(vec![PortItem::Named(Protocol::Tcp, "http".into())]);
        assert_eq!(intersect_ports(&named, &a), Err(()));
        let all_tcp = Some(vec![PortItem::All(Protocol::Tcp)]);
        assert_eq!(intersect_ports(&named, &all_tcp), Ok(named.clone()));
        assert_eq!(
            intersect_ports(&a, &Some(vec![PortItem::All(Protocol::Udp)])),
            Ok(Some(vec![]))
        );
    }

    #[test]
    fn outside_isolated_namespaces() {
        let iso = BTreeSet::from(["x".to_string()]);
        assert!(outside(
            &Peer::Pods {
                ns: Ns::Name("x".into()),
                pods: Sel::new()
            },
            &iso
        )
        .is_empty());
        assert_eq!(outside(&Peer::Anywhere, &iso).len(), 2);
    }
}
