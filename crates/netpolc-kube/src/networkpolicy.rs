//! The one reader of `networking.k8s.io/v1` NetworkPolicy manifests.
//!
//! [`read`] deserialises an object into `k8s_openapi`'s `NetworkPolicy`, refuses every
//! field that type does not have (k8s-openapi ignores them; the API server with strict
//! field validation refuses them, and a typo such as `ingres` would otherwise silently
//! mean "no rules"), checks it as the API server's validation does (`ValidateNetworkPolicy`:
//! peers, ports, CIDRs, label selectors, names), applies the API server's defaulting
//! (`policyTypes`, the TCP protocol) and returns a [`NetworkPolicy`]: the form every back
//! end's evaluator reads, each with its own CNI's semantics. An object the API server would
//! refuse can never reach a CNI, so every evaluator refuses it, with the same message.
//!
//! Messages start with the object (`NetworkPolicy `shop/web``) and name the field
//! (`spec.ingress[0].from[1].ipBlock.cidr`).
//!
//! ```
//! # use serde_json::json;
//! let np = json!({
//!     "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
//!     "metadata": {"name": "web", "namespace": "shop"},
//!     "spec": {"podSelector": {}, "ingres": [{}]}
//! });
//! let e = netpolc_kube::networkpolicy::read(&np).unwrap_err();
//! assert_eq!(e, "NetworkPolicy `shop/web`: spec.ingres: unknown field `ingres`");
//! ```

use crate::names::{
    is_dns_label, is_dns_subdomain, is_label_value, is_port_name, is_qualified_name,
};
use ipnet::IpNet;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netpolc_doc::Tree;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// `networking.k8s.io/v1`.
pub const API_VERSION: &str = "networking.k8s.io/v1";
/// `NetworkPolicy`.
pub const KIND: &str = "NetworkPolicy";

/// A NetworkPolicy as the API server stores it: valid, with `policyTypes` and protocols
/// defaulted. Rules keep their order and index (`spec.ingress[i]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.annotations` (netpolc's provenance annotations among them).
    pub annotations: BTreeMap<String, String>,
    /// `spec.podSelector` (absent: every pod of the namespace).
    pub pod_selector: LabelSelector,
    /// `spec.policyTypes` after the API server's defaulting: `Ingress`, plus `Egress`
    /// iff there are egress rules, when absent or empty.
    pub policy_types: PolicyTypes,
    /// `spec.ingress`, as written (also when `policyTypes` lacks `Ingress`: Cilium
    /// enforces them anyway).
    pub ingress: Vec<Rule>,
    /// `spec.egress`, as written.
    pub egress: Vec<Rule>,
}

/// The effective `policyTypes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyTypes {
    /// `Ingress` is listed (or defaulted).
    pub ingress: bool,
    /// `Egress` is listed (or defaulted).
    pub egress: bool,
}

/// One ingress or egress rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    /// `from` / `to`; empty (absent or `[]`): every peer.
    pub peers: Vec<Peer>,
    /// `ports`; empty (absent or `[]`): every port of every protocol.
    pub ports: Vec<Port>,
}

/// One peer: selectors or a block, never both (the API server refuses a mix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Pods; at least one of the two selectors is present.
    Pods {
        /// `namespaceSelector`; `None`: the policy's own namespace.
        namespace_selector: Option<LabelSelector>,
        /// `podSelector`; `None`: every pod.
        pod_selector: Option<LabelSelector>,
    },
    /// `ipBlock`, host bits masked as Kubernetes parses it; each hole lies inside.
    IpBlock {
        /// `cidr`.
        cidr: IpNet,
        /// `except`.
        except: Vec<IpNet>,
    },
}

/// One `ports` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// `protocol`, TCP when absent.
    pub protocol: Protocol,
    /// `port` and `endPort`.
    pub port: PortMatch,
}

/// A NetworkPolicy protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    /// `TCP`.
    Tcp,
    /// `UDP`.
    Udp,
    /// `SCTP`.
    Sctp,
}

impl Protocol {
    /// The name as written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// What a `ports` entry matches of its protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortMatch {
    /// No `port`: every port.
    All,
    /// `port` alone (`a == b`) or with `endPort`: an inclusive range within 1–65535.
    Range(u16, u16),
    /// A named port, resolved on the destination pod.
    Named(String),
}

/// A label selector, checked: keys are qualified names, values label values, and
/// operators have the values they need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// `matchLabels`.
    pub match_labels: BTreeMap<String, String>,
    /// `matchExpressions`, in order.
    pub match_expressions: Vec<Expression>,
}

impl LabelSelector {
    /// Whether it has no term (matches everything).
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }
}

/// One `matchExpressions` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression {
    /// `key`.
    pub key: String,
    /// `operator`.
    pub operator: Operator,
    /// `values`: non-empty for `In`/`NotIn`, empty otherwise.
    pub values: Vec<String>,
}

/// A label selector operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operator {
    /// `In`.
    In,
    /// `NotIn`.
    NotIn,
    /// `Exists`.
    Exists,
    /// `DoesNotExist`.
    DoesNotExist,
}

/// Reads one `networking.k8s.io/v1` NetworkPolicy object.
///
/// # Errors
/// A message naming the object and the field, for a field k8s-openapi's type does not
/// have, a value of the wrong type, or anything the API server's validation refuses.
///
/// Generic over the tree ([`Tree`]): a `serde_json::Value`, or the document the pipeline
/// reads an emitted text as; the same reading, the same messages.
pub fn read<T: Tree>(object: &T) -> Result<NetworkPolicy, String> {
    match plain::read(object) {
        Some(np) => Ok(np),
        None => deserialised(&object.value()),
    }
}

/// [`read`] through k8s-openapi's types: the reference [`plain::read`] agrees with, and
/// the reading of every object it does not read.
fn deserialised(object: &Value) -> Result<NetworkPolicy, String> {
    // Named only when something is wrong.
    let fail = |e: String| format!("{}: {e}", who(object));
    let mut unknown: Vec<String> = Vec::new();
    let np: net::NetworkPolicy = serde_ignored::deserialize(object, |path| {
        let path = path_text(&path);
        // `status` (the NetworkPolicyStatus of Kubernetes 1.24–1.26, never enforced) is
        // still in dumps of those clusters: it says nothing about what is allowed.
        if path != "status" && !path.starts_with("status.") {
            unknown.push(path);
        }
    })
    .map_err(|e| fail(format!("not a valid NetworkPolicy: {e}")))?;
    if let Some(path) = unknown.first() {
        let field = path.rsplit('.').next().unwrap_or(path);
        return Err(fail(format!("{path}: unknown field `{field}`")));
    }
    check(np).map_err(fail)
}

/// [`read`] of an object with only the fields, types and values that read without a
/// word: every object netpolc writes, and most others.
///
/// Deserialising into k8s-openapi's types through `serde_ignored` (which tracks the path
/// of every field to report the unknown ones) and then converting them cost several
/// times the walk of the tree: a render reads every object it writes. The walk here reads
/// the tree straight into a [`NetworkPolicy`] and gives `None` for anything it is not
/// sure [`read`] accepts the same way (a field it does not list, a `null`, a number where
/// a string goes, anything the validation refuses, ...): then `read` deserialises, and
/// its message is the one given. When it gives `Some`, `read` would return that same
/// value (the tests compare both readings of every object they read, and of random
/// edits of objects).
mod plain {
    use super::{
        is_dns_label, is_dns_subdomain, is_label_value, is_port_name, is_qualified_name, parse_net,
        At, Expression, LabelSelector, NetworkPolicy, Operator, Peer, PolicyTypes, Port, PortMatch,
        Protocol, Rule, API_VERSION, KIND,
    };
    use netpolc_doc::Tree;
    use std::collections::BTreeMap;

    pub(super) fn read<T: Tree>(object: &T) -> Option<NetworkPolicy> {
        let mut metadata = None;
        let mut spec = None;
        for (k, v) in object.entries()? {
            match k {
                // k8s-openapi checks them when present.
                "apiVersion" => (v.as_str()? == API_VERSION).then_some(())?,
                "kind" => (v.as_str()? == KIND).then_some(())?,
                "metadata" => metadata = Some(v.entries().map(|_| v)?),
                "spec" => spec = Some(v.entries().map(|_| v)?),
                _ => return None,
            }
        }
        let mut name = None;
        let mut namespace = None;
        let mut annotations = BTreeMap::new();
        for (k, v) in metadata?.entries()? {
            match k {
                "name" => name = Some(v.as_str()?),
                "namespace" => namespace = Some(v.as_str()?),
                // Read (a map of strings), not kept.
                "labels" => {
                    for (_, v) in v.entries()? {
                        v.as_str()?;
                    }
                }
                "annotations" => annotations = strings(v)?,
                _ => return None,
            }
        }
        let (name, namespace) = (name?, namespace?);
        if !is_dns_subdomain(name) || !is_dns_label(namespace) {
            return None;
        }
        let mut pod_selector = LabelSelector::default();
        let mut types = None;
        let mut ingress = Vec::new();
        let mut egress = Vec::new();
        // No `spec`: every field absent.
        if let Some(spec) = spec {
            for (k, v) in spec.entries()? {
                match k {
                    "podSelector" => pod_selector = selector(v)?,
                    "policyTypes" => types = Some(v.as_array()?),
                    "ingress" => ingress = rules(v, "from")?,
                    "egress" => egress = rules(v, "to")?,
                    _ => return None,
                }
            }
        }
        let policy_types = match types {
            None => None,
            Some([]) => None,
            Some(t) if t.len() > 2 => return None,
            Some(t) => {
                let mut p = PolicyTypes {
                    ingress: false,
                    egress: false,
                };
                for t in t {
                    match t.as_str()? {
                        "Ingress" => p.ingress = true,
                        "Egress" => p.egress = true,
                        _ => return None,
                    }
                }
                Some(p)
            }
        };
        Some(NetworkPolicy {
            namespace: namespace.to_string(),
            name: name.to_string(),
            annotations,
            pod_selector,
            // The API server's defaulting.
            policy_types: policy_types.unwrap_or(PolicyTypes {
                ingress: true,
                egress: !egress.is_empty(),
            }),
            ingress,
            egress,
        })
    }

    /// A map of strings.
    fn strings<T: Tree>(v: &T) -> Option<BTreeMap<String, String>> {
        // Inserted one at a time: most hold one or two entries, for which collecting
        // (into a vector, sorted, then built) costs more.
        let mut out = BTreeMap::new();
        for (k, v) in v.entries()? {
            out.insert(k.to_string(), v.as_str()?.to_string());
        }
        Some(out)
    }

    /// A list of strings.
    fn string_list<T: Tree>(v: &T) -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    /// The ingress (`peers` `from`) or egress (`to`) rules.
    fn rules<T: Tree>(v: &T, peers_field: &str) -> Option<Vec<Rule>> {
        let list = v.as_array()?;
        let mut out = Vec::with_capacity(list.len());
        for r in list {
            let mut rule = Rule::default();
            for (k, v) in r.entries()? {
                if k == peers_field {
                    rule.peers = v.as_array()?.iter().map(peer).collect::<Option<_>>()?;
                } else if k == "ports" {
                    rule.ports = v.as_array()?.iter().map(port).collect::<Option<_>>()?;
                } else {
                    return None;
                }
            }
            out.push(rule);
        }
        Some(out)
    }

    fn peer<T: Tree>(v: &T) -> Option<Peer> {
        let mut block = None;
        let mut pods = None;
        let mut namespaces = None;
        for (k, v) in v.entries()? {
            match k {
                "ipBlock" => block = Some(v.entries().map(|_| v)?),
                "podSelector" => pods = Some(selector(v)?),
                "namespaceSelector" => namespaces = Some(selector(v)?),
                _ => return None,
            }
        }
        match (block, pods, namespaces) {
            (Some(block), None, None) => {
                let mut cidr = None;
                let mut except = Vec::new();
                for (k, v) in block.entries()? {
                    match k {
                        "cidr" => cidr = Some(v.as_str()?),
                        "except" => except = v.as_array()?.iter().collect(),
                        _ => return None,
                    }
                }
                // The path is written out only for a message, which is not made here.
                let at = At::Text("");
                let cidr_text = cidr?;
                let cidr = parse_net(at, cidr_text).ok()?;
                let except = except
                    .into_iter()
                    .map(|e| {
                        let hole = parse_net(at, e.as_str()?).ok()?;
                        (cidr.contains(&hole) && hole.prefix_len() > cidr.prefix_len())
                            .then_some(hole)
                    })
                    .collect::<Option<_>>()?;
                Some(Peer::IpBlock { cidr, except })
            }
            (Some(_), _, _) | (None, None, None) => None,
            (None, pods, namespaces) => Some(Peer::Pods {
                namespace_selector: namespaces,
                pod_selector: pods,
            }),
        }
    }

    fn port<T: Tree>(v: &T) -> Option<Port> {
        let mut protocol = Protocol::Tcp;
        let mut port = None;
        let mut end = None;
        for (k, v) in v.entries()? {
            match k {
                "protocol" => {
                    protocol = match v.as_str()? {
                        "TCP" => Protocol::Tcp,
                        "UDP" => Protocol::Udp,
                        "SCTP" => Protocol::Sctp,
                        _ => return None,
                    }
                }
                "port" => port = Some(v),
                "endPort" => end = Some(number(v)?),
                _ => return None,
            }
        }
        let port = match (port, end) {
            (None, None) => PortMatch::All,
            (Some(p), None) if p.is_string() => {
                let name = p.as_str()?;
                if !is_port_name(name) {
                    return None;
                }
                PortMatch::Named(name.to_string())
            }
            (Some(n), end) => {
                let n = number(n)?;
                let e = end.unwrap_or(n);
                if e < n {
                    return None;
                }
                PortMatch::Range(n, e)
            }
            (None, Some(_)) => return None,
        };
        Some(Port { protocol, port })
    }

    /// A port number: an integer JSON number in 1-65535 (k8s-openapi's `i32` and
    /// `IntOrString` take integers only).
    fn number<T: Tree>(v: &T) -> Option<u16> {
        v.as_i64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| *n >= 1)
    }

    fn selector<T: Tree>(v: &T) -> Option<LabelSelector> {
        let mut s = LabelSelector::default();
        for (k, v) in v.entries()? {
            match k {
                "matchLabels" => {
                    s.match_labels = strings(v)?;
                    let valid = s
                        .match_labels
                        .iter()
                        .all(|(k, v)| is_qualified_name(k) && is_label_value(v));
                    if !valid {
                        return None;
                    }
                }
                "matchExpressions" => {
                    s.match_expressions = v
                        .as_array()?
                        .iter()
                        .map(expression)
                        .collect::<Option<_>>()?;
                }
                _ => return None,
            }
        }
        Some(s)
    }

    fn expression<T: Tree>(v: &T) -> Option<Expression> {
        let mut key = None;
        let mut operator = None;
        let mut values = Vec::new();
        for (k, v) in v.entries()? {
            match k {
                "key" => key = Some(v.as_str()?),
                "operator" => operator = Some(v.as_str()?),
                "values" => values = string_list(v)?,
                _ => return None,
            }
        }
        let key = key?;
        if !is_qualified_name(key) || !values.iter().all(|v| is_label_value(v)) {
            return None;
        }
        let operator = match operator? {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            _ => return None,
        };
        let needs_values = matches!(operator, Operator::In | Operator::NotIn);
        (needs_values != values.is_empty()).then(|| Expression {
            key: key.to_string(),
            operator,
            values,
        })
    }
}

/// The object as messages name it: `NetworkPolicy `namespace/name``, as far as known.
fn who(object: &Value) -> String {
    let field = |f: &str| {
        object
            .get("metadata")
            .and_then(|m| m.get(f))
            .and_then(Value::as_str)
    };
    match (field("namespace"), field("name")) {
        (Some(ns), Some(name)) => format!("{KIND} `{ns}/{name}`"),
        (None, Some(name)) => format!("{KIND} `{name}`"),
        _ => KIND.to_string(),
    }
}

/// `spec.ingress[0].from`: the path of a field, as the other messages write it.
fn path_text(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", path_text(parent)),
        Path::Map { parent, key } => {
            let parent = path_text(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => path_text(parent),
    }
}

/// Where a field is (`spec.ingress[0].from[1]`), written out only for a message: most
/// objects have no error, and writing every peer's, port's and label's path cost more
/// than checking them.
#[derive(Clone, Copy)]
enum At<'a> {
    /// A path written out already.
    Text(&'a str),
    /// `parent.field`.
    Field(&'a At<'a>, &'a str),
    /// `parent[index]`.
    Index(&'a At<'a>, usize),
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Text(t) => f.write_str(t),
            At::Field(parent, field) => write!(f, "{parent}.{field}"),
            At::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

fn check(np: net::NetworkPolicy) -> Result<NetworkPolicy, String> {
    let meta = np.metadata;
    let name = meta.name.ok_or("metadata.name is required")?;
    if !is_dns_subdomain(&name) {
        return Err(format!(
            "metadata.name: `{name}` is not a DNS-1123 subdomain"
        ));
    }
    let namespace = meta
        .namespace
        .ok_or("metadata.namespace is required to evaluate it")?;
    if !is_dns_label(&namespace) {
        return Err(format!(
            "metadata.namespace: `{namespace}` is not a DNS-1123 label"
        ));
    }
    let spec = np.spec.unwrap_or_default();
    let pod_selector = selector(At::Text("spec.podSelector"), spec.pod_selector.as_ref())?;
    let ingress = rules("spec.ingress", "from", spec.ingress.unwrap_or_default())?;
    let egress = rules("spec.egress", "to", spec.egress.unwrap_or_default())?;
    let types = spec.policy_types.unwrap_or_default();
    if types.len() > 2 {
        return Err("spec.policyTypes: may not list more than two types".into());
    }
    let mut policy_types = PolicyTypes {
        ingress: false,
        egress: false,
    };
    for (i, t) in types.iter().enumerate() {
        match t.as_str() {
            "Ingress" => policy_types.ingress = true,
            "Egress" => policy_types.egress = true,
            other => {
                return Err(format!(
                    "spec.policyTypes[{i}]: unknown policy type `{other}` (Ingress or Egress)"
                ))
            }
        }
    }
    if types.is_empty() {
        // The API server's defaulting.
        policy_types = PolicyTypes {
            ingress: true,
            egress: !egress.is_empty(),
        };
    }
    Ok(NetworkPolicy {
        namespace,
        name,
        annotations: meta.annotations.unwrap_or_default(),
        pod_selector,
        policy_types,
        ingress,
        egress,
    })
}

/// The ingress (`peer_field` `from`) or egress (`to`) rules at `path`.
fn rules<R: RuleFields>(path: &str, peer_field: &str, list: Vec<R>) -> Result<Vec<Rule>, String> {
    let mut out = Vec::with_capacity(list.len());
    let path = At::Text(path);
    for (i, r) in list.into_iter().enumerate() {
        let at = At::Index(&path, i);
        let (peers, ports) = r.fields();
        let peers_at = At::Field(&at, peer_field);
        let peers = peers
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(j, p)| peer(At::Index(&peers_at, j), p))
            .collect::<Result<_, _>>()?;
        let ports_at = At::Field(&at, "ports");
        let ports = ports
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(j, p)| port(At::Index(&ports_at, j), p))
            .collect::<Result<_, _>>()?;
        out.push(Rule { peers, ports });
    }
    Ok(out)
}

/// The peers and ports of an ingress or egress rule.
trait RuleFields {
    fn fields(
        self,
    ) -> (
        Option<Vec<net::NetworkPolicyPeer>>,
        Option<Vec<net::NetworkPolicyPort>>,
    );
}

impl RuleFields for net::NetworkPolicyIngressRule {
    fn fields(
        self,
    ) -> (
        Option<Vec<net::NetworkPolicyPeer>>,
        Option<Vec<net::NetworkPolicyPort>>,
    ) {
        (self.from, self.ports)
    }
}

impl RuleFields for net::NetworkPolicyEgressRule {
    fn fields(
        self,
    ) -> (
        Option<Vec<net::NetworkPolicyPeer>>,
        Option<Vec<net::NetworkPolicyPort>>,
    ) {
        (self.to, self.ports)
    }
}

fn peer(path: At<'_>, p: &net::NetworkPolicyPeer) -> Result<Peer, String> {
    match (&p.ip_block, &p.pod_selector, &p.namespace_selector) {
        (Some(block), None, None) => {
            let ip_block = At::Field(&path, "ipBlock");
            let cidr = parse_net(At::Field(&ip_block, "cidr"), &block.cidr)?;
            let mut except = Vec::new();
            let except_at = At::Field(&ip_block, "except");
            for (i, e) in block.except.iter().flatten().enumerate() {
                let at = At::Index(&except_at, i);
                let hole = parse_net(at, e)?;
                if !(cidr.contains(&hole) && hole.prefix_len() > cidr.prefix_len()) {
                    return Err(format!(
                        "{at}: `{e}` is not strictly inside `{}`",
                        block.cidr
                    ));
                }
                except.push(hole);
            }
            Ok(Peer::IpBlock { cidr, except })
        }
        (Some(_), _, _) => Err(format!(
            "{path}: `ipBlock` cannot be combined with a selector"
        )),
        (None, None, None) => Err(format!("{path}: a peer needs a selector or an ipBlock")),
        (None, pods, namespaces) => Ok(Peer::Pods {
            namespace_selector: namespaces
                .as_ref()
                .map(|s| selector(At::Field(&path, "namespaceSelector"), Some(s)))
                .transpose()?,
            pod_selector: pods
                .as_ref()
                .map(|s| selector(At::Field(&path, "podSelector"), Some(s)))
                .transpose()?,
        }),
    }
}

fn parse_net(path: At<'_>, text: &str) -> Result<IpNet, String> {
    // Kubernetes masks host bits when it parses a CIDR.
    let net = text
        .parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|_| format!("{path}: invalid CIDR `{text}`"))?;
    if crate::addr::is_v4_mapped(&net.addr()) {
        // Refused by the API server's strict validation; stored by older servers, and
        // read by a CNI as IPv4 or as IPv6 addresses: netpolc cannot say which.
        return Err(format!("{path}: {}", crate::addr::refusal(text)));
    }
    Ok(net)
}

fn port(path: At<'_>, p: &net::NetworkPolicyPort) -> Result<Port, String> {
    let protocol = match p.protocol.as_deref() {
        None | Some("TCP") => Protocol::Tcp,
        Some("UDP") => Protocol::Udp,
        Some("SCTP") => Protocol::Sctp,
        Some(other) => {
            return Err(format!(
                "{path}.protocol: unsupported protocol `{other}` (TCP, UDP or SCTP)"
            ))
        }
    };
    let number = |field: &str, n: i32| {
        u16::try_from(n)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("{path}.{field}: port `{n}` is not in 1-65535"))
    };
    let port = match (&p.port, p.end_port) {
        (None, None) => PortMatch::All,
        (None, Some(_)) => return Err(format!("{path}.endPort: needs a numeric `port`")),
        (Some(IntOrString::Int(n)), None) => {
            let n = number("port", *n)?;
            PortMatch::Range(n, n)
        }
        (Some(IntOrString::Int(n)), Some(e)) => {
            let (n, e) = (number("port", *n)?, number("endPort", e)?);
            if e < n {
                return Err(format!("{path}.endPort: `{e}` is below `port` `{n}`"));
            }
            PortMatch::Range(n, e)
        }
        (Some(IntOrString::String(name)), None) => {
            if !is_port_name(name) {
                return Err(format!(
                    "{path}.port: `{name}` is neither a number nor a port name (1-15 \
                     lower-case letters, digits and inner hyphens, with a letter)"
                ));
            }
            PortMatch::Named(name.clone())
        }
        (Some(IntOrString::String(_)), Some(_)) => {
            return Err(format!("{path}.endPort: not allowed with a named port"));
        }
    };
    Ok(Port { protocol, port })
}

fn selector(path: At<'_>, s: Option<&meta::LabelSelector>) -> Result<LabelSelector, String> {
    let Some(s) = s else {
        return Ok(LabelSelector::default());
    };
    let key = |at: At<'_>, k: &str| {
        if is_qualified_name(k) {
            Ok(())
        } else {
            Err(format!("{at}: `{k}` is not a valid label key"))
        }
    };
    let value = |at: At<'_>, v: &str| {
        if is_label_value(v) {
            Ok(())
        } else {
            Err(format!("{at}: `{v}` is not a valid label value"))
        }
    };
    let match_labels = s.match_labels.clone().unwrap_or_default();
    let labels_at = At::Field(&path, "matchLabels");
    for (k, v) in &match_labels {
        key(labels_at, k)?;
        value(At::Field(&labels_at, k), v)?;
    }
    let mut match_expressions = Vec::new();
    let expressions_at = At::Field(&path, "matchExpressions");
    for (i, e) in s.match_expressions.iter().flatten().enumerate() {
        let at = At::Index(&expressions_at, i);
        key(At::Field(&at, "key"), &e.key)?;
        let values = e.values.clone().unwrap_or_default();
        let values_at = At::Field(&at, "values");
        for (j, v) in values.iter().enumerate() {
            value(At::Index(&values_at, j), v)?;
        }
        let operator = match e.operator.as_str() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            other => {
                return Err(format!(
                    "{at}.operator: unknown operator `{other}` (In, NotIn, Exists or \
                     DoesNotExist)"
                ))
            }
        };
        match (operator, values.is_empty()) {
            (Operator::In | Operator::NotIn, true) => {
                return Err(format!("{at}.values: `{}` needs values", e.operator))
            }
            (Operator::Exists | Operator::DoesNotExist, false) => {
                return Err(format!("{at}.values: `{}` takes no values", e.operator))
            }
            _ => {}
        }
        match_expressions.push(Expression {
            key: e.key.clone(),
            operator,
            values,
        });
    }
    Ok(LabelSelector {
        match_labels,
        match_expressions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn np(spec: Value) -> Value {
        json!({
            "apiVersion": API_VERSION, "kind": KIND,
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": spec,
        })
    }

    fn err(spec: Value) -> String {
        read(&np(spec)).expect_err("refused")
    }

    #[test]
    fn unknown_fields_are_refused_wherever_they_are() {
        for (spec, path) in [
            (json!({"ingres": []}), "spec.ingres"),
            (
                json!({"ingress": [{"from": [{"podSelector": {"matchLabel": {}}}]}]}),
                "spec.ingress[0].from[0].podSelector.matchLabel",
            ),
            (
                json!({"egress": [{"ports": [{"prot": "TCP"}]}]}),
                "spec.egress[0].ports[0].prot",
            ),
        ] {
            let field = path.rsplit('.').next().unwrap();
            assert_eq!(
                err(spec),
                format!("NetworkPolicy `shop/web`: {path}: unknown field `{field}`")
            );
        }
        let mut top = np(json!({}));
        top["metadata"]["label"] = json!({});
        assert_eq!(
            read(&top).unwrap_err(),
            "NetworkPolicy `shop/web`: metadata.label: unknown field `label`"
        );
        // What a dump carries in metadata is known.
        let mut dumped = np(json!({"podSelector": {}}));
        dumped["metadata"]["uid"] = json!("1b4e28ba");
        dumped["metadata"]["resourceVersion"] = json!("7");
        dumped["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        dumped["metadata"]["managedFields"] = json!([{
            "manager": "kubectl", "operation": "Update", "apiVersion": API_VERSION,
            "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:podSelector": {}, "f:policyTypes": {}}}
        }]);
        assert!(read(&dumped).is_ok());
    }

    #[test]
    fn reads_and_defaults_like_the_api_server() {
        let p = read(&np(json!({
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{
                "from": [
                    {"namespaceSelector": {}, "podSelector": {"matchExpressions": [
                        {"key": "tier", "operator": "In", "values": ["a"]}]}},
                    {"ipBlock": {"cidr": "10.0.0.1/8", "except": ["10.1.0.0/16"]}}
                ],
                "ports": [{"port": 80}, {"protocol": "UDP", "port": 53, "endPort": 54},
                          {"port": "http"}, {"protocol": "SCTP"}]
            }],
            "egress": null
        })))
        .unwrap();
        assert_eq!(
            p.policy_types,
            PolicyTypes {
                ingress: true,
                egress: false
            }
        );
        assert_eq!(p.pod_selector.match_labels["app"], "web");
        let rule = &p.ingress[0];
        assert_eq!(
            rule.peers[1],
            Peer::IpBlock {
                cidr: "10.0.0.0/8".parse().unwrap(),
                except: vec!["10.1.0.0/16".parse().unwrap()]
            }
        );
        assert!(
            matches!(&rule.peers[0], Peer::Pods { namespace_selector: Some(n), pod_selector: Some(s) }
            if n.is_empty() && s.match_expressions[0].operator == Operator::In)
        );
        let ports: Vec<(Protocol, PortMatch)> = rule
            .ports
            .iter()
            .map(|p| (p.protocol, p.port.clone()))
            .collect();
        assert_eq!(
            ports,
            [
                (Protocol::Tcp, PortMatch::Range(80, 80)),
                (Protocol::Udp, PortMatch::Range(53, 54)),
                (Protocol::Tcp, PortMatch::Named("http".into())),
                (Protocol::Sctp, PortMatch::All),
            ]
        );
        let egress = read(&np(json!({"egress": [{}]}))).unwrap();
        assert!(egress.policy_types.ingress && egress.policy_types.egress);
        let declared = read(&np(json!({"policyTypes": ["Egress"], "ingress": [{}]}))).unwrap();
        assert!(!declared.policy_types.ingress && declared.policy_types.egress);
        assert_eq!(
            declared.ingress.len(),
            1,
            "kept: Cilium enforces them anyway"
        );
    }

    #[test]
    fn refuses_what_the_api_server_refuses() {
        for (spec, message) in [
            (
                json!({"ingress": [{"from": [{}]}]}),
                "spec.ingress[0].from[0]: a peer needs a selector or an ipBlock",
            ),
            (
                json!({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}),
                "spec.ingress[0].from[0]: `ipBlock` cannot be combined with a selector",
            ),
            (
                json!({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]}),
                "spec.egress[0].to[0].ipBlock.cidr: invalid CIDR `10.0.0.0/33`",
            ),
            (
                json!({"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}}]}]}),
                "spec.egress[0].to[0].ipBlock.except[0]: `11.0.0.0/16` is not strictly inside `10.0.0.0/8`",
            ),
            (
                json!({"ingress": [{"ports": [{"protocol": "ICMP"}]}]}),
                "spec.ingress[0].ports[0].protocol: unsupported protocol `ICMP` (TCP, UDP or SCTP)",
            ),
            (
                json!({"ingress": [{"ports": [{"port": 90, "endPort": 80}]}]}),
                "spec.ingress[0].ports[0].endPort: `80` is below `port` `90`",
            ),
            (
                json!({"ingress": [{"ports": [{"port": 0}]}]}),
                "spec.ingress[0].ports[0].port: port `0` is not in 1-65535",
            ),
            (
                json!({"ingress": [{"ports": [{"endPort": 80}]}]}),
                "spec.ingress[0].ports[0].endPort: needs a numeric `port`",
            ),
            (
                json!({"ingress": [{"ports": [{"port": "http", "endPort": 80}]}]}),
                "spec.ingress[0].ports[0].endPort: not allowed with a named port",
            ),
            (
                json!({"ingress": [{"ports": [{"port": "80"}]}]}),
                "spec.ingress[0].ports[0].port: `80` is neither a number nor a port name",
            ),
            (
                json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Has"}]}}),
                "spec.podSelector.matchExpressions[0].operator: unknown operator `Has`",
            ),
            (
                json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}),
                "spec.podSelector.matchExpressions[0].values: `In` needs values",
            ),
            (
                json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}}),
                "spec.podSelector.matchExpressions[0].values: `Exists` takes no values",
            ),
            (
                json!({"podSelector": {"matchLabels": {"a/b/c": "x"}}}),
                "spec.podSelector.matchLabels: `a/b/c` is not a valid label key",
            ),
            (
                json!({"podSelector": {"matchLabels": {"a": "-x"}}}),
                "spec.podSelector.matchLabels.a: `-x` is not a valid label value",
            ),
            (
                json!({"policyTypes": ["Ingres"]}),
                "spec.policyTypes[0]: unknown policy type `Ingres` (Ingress or Egress)",
            ),
            (json!(3), "not a valid NetworkPolicy: "),
        ] {
            let e = err(spec);
            assert!(
                e.starts_with(&format!("NetworkPolicy `shop/web`: {message}")),
                "{e}\n{message}"
            );
        }
        let no_ns = json!({"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "web"}});
        assert_eq!(
            read(&no_ns).unwrap_err(),
            "NetworkPolicy `web`: metadata.namespace is required to evaluate it"
        );
    }

    #[test]
    fn a_status_from_an_older_cluster_is_read() {
        let mut np = serde_json::json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
            "status": {"conditions": []}
        });
        assert!(read(&np).is_ok(), "{:?}", read(&np));
        np["statuz"] = serde_json::json!({});
        assert!(read(&np).unwrap_err().contains("unknown field `statuz`"));
    }

    /// An object with every field the plain reading reads, most of them more than once.
    fn rich() -> Value {
        json!({
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {
                "name": "web.allow-1",
                "namespace": "shop",
                "labels": {"app.kubernetes.io/managed-by": "netpolc"},
                "annotations": {"netpolc.dev/intent": "shop/a, shop/b", "x": ""}
            },
            "spec": {
                "podSelector": {
                    "matchLabels": {"app": "web", "example.com/tier": "a_1"},
                    "matchExpressions": [
                        {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                        {"key": "canary", "operator": "DoesNotExist"}
                    ]
                },
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [
                            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "bank"}},
                             "podSelector": {"matchLabels": {"app": "api"}}},
                            {"podSelector": {}},
                            {"namespaceSelector": {"matchExpressions": [
                                {"key": "team", "operator": "NotIn", "values": ["x"]},
                                {"key": "zone", "operator": "Exists"}]}}
                        ],
                        "ports": [
                            {"protocol": "TCP", "port": 8080},
                            {"protocol": "UDP", "port": 53, "endPort": 60},
                            {"port": "http"},
                            {"protocol": "SCTP"}
                        ]
                    },
                    {}
                ],
                "egress": [
                    {"to": [{"ipBlock": {"cidr": "10.0.0.1/8", "except": ["10.1.0.0/16", "10.2.0.0/16"]}},
                            {"ipBlock": {"cidr": "2001:db8::/32"}}],
                     "ports": []},
                    {"to": []}
                ]
            }
        })
    }

    /// The plain reading gives what deserialising gives, or nothing (then `read`
    /// deserialises): on the objects netpolc writes (which it reads) and on every edit of
    /// one, of types, values and keys.
    #[test]
    fn the_plain_reading_agrees_with_deserialising() {
        let object = rich();
        let full = deserialised(&object).expect("valid");
        assert_eq!(plain::read(&object), Some(full));
        let others = [
            Value::Null,
            json!(true),
            json!(0),
            json!(1),
            json!(-1),
            json!(65535),
            json!(65536),
            json!(2147483648u64),
            json!(80.0),
            json!(""),
            json!("x"),
            // Every word of the enums, in every place.
            json!("TCP"),
            json!("UDP"),
            json!("SCTP"),
            json!("Ingress"),
            json!("Egress"),
            json!("In"),
            json!("NotIn"),
            json!("Exists"),
            json!("DoesNotExist"),
            json!("10.0.0.0/8"),
            json!("10.1.2.0/24"),
            json!("::ffff:10.0.0.0/104"),
            json!("-x"),
            json!("a/b/c"),
            json!({}),
            json!([]),
            json!(["x"]),
            json!({"app": "web"}),
        ];
        let mut all = Vec::new();
        crate::edits::edits(&object, &others, &mut all);
        let mut read_plainly = 0;
        for o in &all {
            // The document the pipeline reads is read as its tree is.
            let doc = netpolc_doc::Doc::of_value(o);
            assert_eq!(plain::read(&doc), plain::read(o), "{o}");
            assert_eq!(read(&doc), read(o), "{o}");
            if let Some(p) = plain::read(o) {
                assert_eq!(Ok(p), deserialised(o), "{o}");
                read_plainly += 1;
            }
        }
        // Most edits change what is read, or make it invalid: many are still read.
        assert!(read_plainly > 100, "{read_plainly} of {}", all.len());
    }
}
