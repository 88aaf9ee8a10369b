//! The cluster model every evaluator runs on: namespaces, pods, external addresses and
//! flows between them, plus the verdict type all evaluators return.
//!
//! The model is shared by the intended-meaning evaluator ([`crate::eval`]) and by each
//! back end's evaluator of its *emitted manifests*, so that their verdicts can be compared
//! flow by flow.

use crate::Protocol;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// A pod in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    /// Namespace.
    pub namespace: String,
    /// Name (unique within the namespace).
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Pod IP (inside the profile's pod CIDRs).
    pub ip: IpAddr,
    /// Named container ports: name → (protocol, number).
    pub named_ports: BTreeMap<String, (Protocol, u16)>,
}

/// A cluster: namespaces with labels, pods, and external addresses of interest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterModel {
    /// Namespace name → labels (always including `kubernetes.io/metadata.name`).
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// Pods, sorted by (namespace, name).
    pub pods: Vec<Pod>,
    /// External (non-cluster) addresses, sorted.
    pub externals: Vec<IpAddr>,
    /// Addresses of the Kubernetes API server endpoints (a subset of `externals`).
    pub api_server: Vec<IpAddr>,
    /// Ports worth probing, per protocol, sorted.
    pub ports: Vec<(Protocol, u16)>,
}

impl ClusterModel {
    /// The labels of a pod's namespace (empty if the namespace is unknown).
    pub fn namespace_labels(&self, pod: &Pod) -> BTreeMap<String, String> {
        self.namespaces
            .get(&pod.namespace)
            .cloned()
            .unwrap_or_default()
    }

    /// Every flow of the model: each ordered pair of distinct endpoints (pod→pod,
    /// pod→external, external→pod) on each probed port.
    pub fn flows(&self) -> Vec<Flow> {
        let mut endpoints: Vec<Endpoint> = (0..self.pods.len()).map(Endpoint::Pod).collect();
        endpoints.extend(self.externals.iter().map(|ip| Endpoint::External(*ip)));
        let mut out = Vec::new();
        for src in &endpoints {
            for dst in &endpoints {
                if src == dst || (!src.is_pod() && !dst.is_pod()) {
                    continue;
                }
                for &(protocol, port) in &self.ports {
                    out.push(Flow {
                        src: *src,
                        dst: *dst,
                        protocol,
                        port,
                    });
                }
            }
        }
        out
    }

    /// Human name of an endpoint: `ns/pod` or the address.
    pub fn endpoint_name(&self, e: &Endpoint) -> String {
        match e {
            Endpoint::Pod(i) => format!("{}/{}", self.pods[*i].namespace, self.pods[*i].name),
            Endpoint::External(ip) => ip.to_string(),
        }
    }

    /// `src -> dst port/proto`.
    pub fn flow_name(&self, f: &Flow) -> String {
        format!(
            "{} -> {} {}/{}",
            self.endpoint_name(&f.src),
            self.endpoint_name(&f.dst),
            f.port,
            f.protocol
        )
    }
}

/// One end of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// Index into [`ClusterModel::pods`].
    Pod(usize),
    /// An address outside the cluster.
    External(IpAddr),
}

impl Endpoint {
    /// Whether this is a pod.
    pub fn is_pod(&self) -> bool {
        matches!(self, Endpoint::Pod(_))
    }
}

/// A connection attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Flow {
    /// Who connects.
    pub src: Endpoint,
    /// To whom.
    pub dst: Endpoint,
    /// Protocol.
    pub protocol: Protocol,
    /// Destination port.
    pub port: u16,
}

/// What decided one side of a flow.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decision {
    /// The emitted object (`Kind namespace/name`) or, for the intended meaning, the
    /// intent set.
    pub object: String,
    /// The rule within it (e.g. `spec.egress[0]`) or the intent name.
    pub rule: String,
    /// The intent the object names in its provenance annotation, if any.
    pub intent: Option<String>,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.object, self.rule)?;
        if let Some(i) = &self.intent {
            write!(f, " (intent {i})")?;
        }
        Ok(())
    }
}

/// The verdict of one side (egress of the source, ingress of the destination).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// No pod on this side (an external address): nothing to enforce.
    NotApplicable,
    /// The pod is not isolated in this direction and nothing denies.
    Open,
    /// Allowed by a rule.
    Allowed(Decision),
    /// Denied by an explicit deny rule.
    Denied(Decision),
    /// Isolated and no rule allows (the isolating objects are named).
    DefaultDeny(Vec<String>),
}

impl Side {
    /// Whether this side lets the flow through.
    pub fn allows(&self) -> bool {
        matches!(self, Side::NotApplicable | Side::Open | Side::Allowed(_))
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Side::NotApplicable => f.write_str("n/a"),
            Side::Open => f.write_str("open (not isolated)"),
            Side::Allowed(d) => write!(f, "allowed by {d}"),
            Side::Denied(d) => write!(f, "denied by {d}"),
            Side::DefaultDeny(objs) if objs.is_empty() => f.write_str("default deny"),
            Side::DefaultDeny(objs) => write!(f, "default deny (isolated by {})", objs.join(", ")),
        }
    }
}

/// Both sides of a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The source's egress side.
    pub egress: Side,
    /// The destination's ingress side.
    pub ingress: Side,
}

impl Verdict {
    /// Whether the connection is allowed: both sides must allow.
    pub fn allowed(&self) -> bool {
        self.egress.allows() && self.ingress.allows()
    }
}

/// Something that decides flows on a model: the intended meaning or a back end's
/// evaluator of its emitted manifests.
pub trait Evaluator {
    /// A short name (`intended`, `kubernetes`, `calico`, `cilium`).
    fn name(&self) -> &'static str;
    /// The verdict for one flow.
    fn verdict(&self, model: &ClusterModel, flow: &Flow) -> Verdict;
}
