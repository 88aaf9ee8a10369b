//! A typed NetworkPolicy serialised with its keys in reading order ([`Ranked`]): what
//! the tree it serialises to becomes once tidied (`emit::tidy`), with no tree. The YAML
//! emitter writes from it what `text` leaves to the emitter (a string of several lines
//! outside ASCII); `text`'s tests hold its text to what the emitter writes from this.
//!
//! `k8s_openapi` serialises fields in name order (`annotations` before `name`, `egress`
//! before `podSelector`); netpolc writes identity first, then the subject, the
//! directions and the rules (`emit::rank`). Each wrapper here writes the fields of one
//! type in that order, skipping what is absent as `k8s_openapi` does. Metadata beyond the
//! name, namespace, labels and annotations (which netpolc never sets) is refused, so
//! that the emitter falls back to the tree; debug builds compare every object with its
//! tidied tree written (`emit::Packed::new`).

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::Resource as _;
use serde::ser::{Error as _, Serialize, SerializeSeq, SerializeStruct, Serializer};

/// `policy`, keys in reading order.
pub(crate) struct Ranked<'a>(pub(crate) &'a NetworkPolicy);

/// The items of a list, each wrapped (no list of wrappers is built).
struct Each<'a, T, W>(&'a [T], fn(&'a T) -> W);

impl<'a, T, W: Serialize> Serialize for Each<'a, T, W> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&(self.1)(item))?;
        }
        seq.end()
    }
}

/// How many of `present` are there: a struct announces its field count.
pub(crate) fn count(present: &[bool]) -> usize {
    present.iter().filter(|p| **p).count()
}

/// Writes `key: value` when the value is there.
fn field<S: SerializeStruct, T: Serialize + ?Sized>(
    st: &mut S,
    key: &'static str,
    value: Option<&T>,
) -> Result<(), S::Error> {
    match value {
        Some(v) => st.serialize_field(key, v),
        None => Ok(()),
    }
}

impl Serialize for Ranked<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let np = self.0;
        let mut st = s.serialize_struct(NetworkPolicy::KIND, 3 + usize::from(np.spec.is_some()))?;
        st.serialize_field("apiVersion", NetworkPolicy::API_VERSION)?;
        st.serialize_field("kind", NetworkPolicy::KIND)?;
        st.serialize_field("metadata", &Meta(&np.metadata))?;
        field(&mut st, "spec", np.spec.as_ref().map(Spec).as_ref())?;
        st.end()
    }
}

/// The metadata fields netpolc writes, borrowed from an `ObjectMeta`.
pub(crate) struct Written<'a> {
    pub(crate) name: &'a Option<String>,
    pub(crate) namespace: &'a Option<String>,
    pub(crate) labels: &'a Option<std::collections::BTreeMap<String, String>>,
    pub(crate) annotations: &'a Option<std::collections::BTreeMap<String, String>>,
}

impl Written<'_> {
    /// How many of the fields are set.
    pub(crate) fn len(&self) -> usize {
        count(&[
            self.name.is_some(),
            self.namespace.is_some(),
            self.labels.is_some(),
            self.annotations.is_some(),
        ])
    }
}

/// The name, namespace, labels and annotations of `meta`, or `None` when it holds any
/// other field (netpolc never sets one: the emitter and [`crate::text`] refuse it).
pub(crate) fn written(meta: &ObjectMeta) -> Option<Written<'_>> {
    // Every field named: a field added to `ObjectMeta` fails to compile here.
    let ObjectMeta {
        annotations,
        creation_timestamp,
        deletion_grace_period_seconds,
        deletion_timestamp,
        finalizers,
        generate_name,
        generation,
        labels,
        managed_fields,
        name,
        namespace,
        owner_references,
        resource_version,
        self_link,
        uid,
    } = meta;
    let other = creation_timestamp.is_some()
        || deletion_grace_period_seconds.is_some()
        || deletion_timestamp.is_some()
        || finalizers.is_some()
        || generate_name.is_some()
        || generation.is_some()
        || managed_fields.is_some()
        || owner_references.is_some()
        || resource_version.is_some()
        || self_link.is_some()
        || uid.is_some();
    (!other).then_some(Written {
        name,
        namespace,
        labels,
        annotations,
    })
}

struct Meta<'a>(&'a ObjectMeta);

impl Serialize for Meta<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(meta) = written(self.0) else {
            return Err(S::Error::custom(
                "metadata beyond the name, namespace, labels and annotations",
            ));
        };
        let mut st = s.serialize_struct("ObjectMeta", meta.len())?;
        field(&mut st, "name", meta.name.as_ref())?;
        field(&mut st, "namespace", meta.namespace.as_ref())?;
        field(&mut st, "labels", meta.labels.as_ref())?;
        field(&mut st, "annotations", meta.annotations.as_ref())?;
        st.end()
    }
}

struct Spec<'a>(&'a NetworkPolicySpec);

impl Serialize for Spec<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let NetworkPolicySpec {
            egress,
            ingress,
            pod_selector,
            policy_types,
        } = self.0;
        let mut st = s.serialize_struct(
            "NetworkPolicySpec",
            count(&[
                pod_selector.is_some(),
                policy_types.is_some(),
                ingress.is_some(),
                egress.is_some(),
            ]),
        )?;
        field(
            &mut st,
            "podSelector",
            pod_selector.as_ref().map(Selector).as_ref(),
        )?;
        field(&mut st, "policyTypes", policy_types.as_ref())?;
        let ingress = ingress.as_deref().map(|r| Each(r, crate::ranked::ingress));
        field(&mut st, "ingress", ingress.as_ref())?;
        let egress = egress.as_deref().map(|r| Each(r, crate::ranked::egress));
        field(&mut st, "egress", egress.as_ref())?;
        st.end()
    }
}

/// A rule's peers, ranked.
type Peers<'a> = Each<'a, NetworkPolicyPeer, Peer<'a>>;

/// The peers of a rule, ranked.
fn peers(peers: Option<&Vec<NetworkPolicyPeer>>) -> Option<Peers<'_>> {
    peers.map(|p| Each(p, Peer))
}

/// The ports of a rule, ranked.
fn ports(ports: Option<&Vec<NetworkPolicyPort>>) -> Option<Each<'_, NetworkPolicyPort, Port<'_>>> {
    ports.map(|p| Each(p, Port))
}

/// A rule of either direction: its peers (`from` or `to`), then its ports.
struct Rule<'a> {
    peers_key: &'static str,
    peers: Option<&'a Vec<NetworkPolicyPeer>>,
    ports: Option<&'a Vec<NetworkPolicyPort>>,
}

fn ingress(rule: &NetworkPolicyIngressRule) -> Rule<'_> {
    let NetworkPolicyIngressRule { from, ports } = rule;
    Rule {
        peers_key: "from",
        peers: from.as_ref(),
        ports: ports.as_ref(),
    }
}

fn egress(rule: &NetworkPolicyEgressRule) -> Rule<'_> {
    let NetworkPolicyEgressRule { to, ports } = rule;
    Rule {
        peers_key: "to",
        peers: to.as_ref(),
        ports: ports.as_ref(),
    }
}

impl Serialize for Rule<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct(
            "NetworkPolicyRule",
            count(&[self.peers.is_some(), self.ports.is_some()]),
        )?;
        field(&mut st, self.peers_key, peers(self.peers).as_ref())?;
        field(&mut st, "ports", ports(self.ports).as_ref())?;
        st.end()
    }
}

struct Peer<'a>(&'a NetworkPolicyPeer);

impl Serialize for Peer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let NetworkPolicyPeer {
            ip_block,
            namespace_selector,
            pod_selector,
        } = self.0;
        let mut st = s.serialize_struct(
            "NetworkPolicyPeer",
            count(&[
                namespace_selector.is_some(),
                pod_selector.is_some(),
                ip_block.is_some(),
            ]),
        )?;
        field(
            &mut st,
            "namespaceSelector",
            namespace_selector.as_ref().map(Selector).as_ref(),
        )?;
        field(
            &mut st,
            "podSelector",
            pod_selector.as_ref().map(Selector).as_ref(),
        )?;
        field(&mut st, "ipBlock", ip_block.as_ref().map(Block).as_ref())?;
        st.end()
    }
}

struct Block<'a>(&'a IPBlock);

impl Serialize for Block<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let IPBlock { cidr, except } = self.0;
        let mut st = s.serialize_struct("IPBlock", 1 + usize::from(except.is_some()))?;
        st.serialize_field("cidr", cidr)?;
        field(&mut st, "except", except.as_ref())?;
        st.end()
    }
}

struct Port<'a>(&'a NetworkPolicyPort);

impl Serialize for Port<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let NetworkPolicyPort {
            end_port,
            port,
            protocol,
        } = self.0;
        let mut st = s.serialize_struct(
            "NetworkPolicyPort",
            count(&[protocol.is_some(), port.is_some(), end_port.is_some()]),
        )?;
        field(&mut st, "protocol", protocol.as_ref())?;
        field(&mut st, "port", port.as_ref())?;
        field(&mut st, "endPort", end_port.as_ref())?;
        st.end()
    }
}

struct Selector<'a>(&'a LabelSelector);

impl Serialize for Selector<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let LabelSelector {
            match_expressions,
            match_labels,
        } = self.0;
        let mut st = s.serialize_struct(
            "LabelSelector",
            count(&[match_labels.is_some(), match_expressions.is_some()]),
        )?;
        field(&mut st, "matchLabels", match_labels.as_ref())?;
        // A requirement's own fields (`key`, `operator`, `values`) are already in order.
        field(&mut st, "matchExpressions", match_expressions.as_ref())?;
        st.end()
    }
}
