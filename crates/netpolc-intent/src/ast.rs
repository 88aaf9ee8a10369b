//! The intent language v1alpha1 as typed documents, read from the marked YAML tree.
//!
//! Every field that a later diagnostic may point at is a [`Spanned`] value. Unknown
//! fields are rejected (`deny_unknown_fields`). The language is documented for users in
//! `docs/intent-language.md`; keep the two in step.

use crate::yaml::Spanned;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

/// The only `apiVersion` this release reads.
pub const API_VERSION: &str = "netpolc.dev/v1alpha1";

/// `apiVersion` and `kind`, read first to pick the document type.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeMeta {
    /// Must be [`API_VERSION`].
    pub api_version: Option<Spanned<String>>,
    /// `IntentSet`, `ClusterIntentSet`, `ConnectivityTest` or `ClusterProfile`.
    pub kind: Option<Spanned<String>>,
}

/// `metadata` of every document.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// Name, unique per kind across the repository.
    pub name: Spanned<String>,
    /// Free-form labels (not rendered).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Free-form annotations (not rendered).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A whole document of kind `IntentSet`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IntentSetDoc {
    /// Always [`API_VERSION`].
    pub api_version: Spanned<String>,
    /// Always `IntentSet`.
    pub kind: Spanned<String>,
    /// Name.
    pub metadata: Metadata,
    /// Body.
    pub spec: Spanned<IntentSetSpec>,
}

/// The body of an `IntentSet`: the intents of one namespace.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IntentSetSpec {
    /// The namespace whose pods the set governs; when absent, the run's default
    /// namespace (`--namespace`, or Argo CD's `ARGOCD_APP_NAMESPACE`).
    pub namespace: Option<Spanned<String>>,
    /// The namespace's labels as they are in the cluster (for namespace selectors).
    #[serde(default)]
    pub namespace_labels: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Directions of default deny for every pod of the namespace.
    #[serde(default)]
    pub isolate: Vec<Spanned<String>>,
    /// Preset names.
    #[serde(default)]
    pub presets: Vec<Spanned<String>>,
    /// Named groups.
    #[serde(default)]
    pub groups: BTreeMap<Spanned<String>, Spanned<GroupDoc>>,
    /// Intents.
    #[serde(default)]
    pub intents: Vec<Spanned<IntentDoc>>,
}

/// A whole document of kind `ClusterIntentSet`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterIntentSetDoc {
    /// Always [`API_VERSION`].
    pub api_version: Spanned<String>,
    /// Always `ClusterIntentSet`.
    pub kind: Spanned<String>,
    /// Name.
    pub metadata: Metadata,
    /// Body.
    pub spec: Spanned<ClusterIntentSetSpec>,
}

/// The body of a `ClusterIntentSet`: a baseline for every managed namespace it selects.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterIntentSetSpec {
    /// Which managed namespaces it applies to (default: all of them).
    pub namespaces: Option<Spanned<NamespacesDoc>>,
    /// Directions of default deny.
    #[serde(default)]
    pub isolate: Vec<Spanned<String>>,
    /// Preset names.
    #[serde(default)]
    pub presets: Vec<Spanned<String>>,
    /// Named groups; pod groups used as peers must name their namespaces.
    #[serde(default)]
    pub groups: BTreeMap<Spanned<String>, Spanned<GroupDoc>>,
    /// Intents.
    #[serde(default)]
    pub intents: Vec<Spanned<IntentDoc>>,
}

/// A named group: pods (by labels, in namespaces), addresses, an entity or DNS names.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GroupDoc {
    /// Pod labels.
    pub selector: Option<Spanned<SelectorDoc>>,
    /// Namespaces by name (a list) or by labels (a selector).
    pub namespaces: Option<Spanned<NamespacesDoc>>,
    /// Address blocks.
    pub cidrs: Option<Vec<Spanned<CidrDoc>>>,
    /// An entity: `world`, `kube-apiserver`, `kube-dns`, `host`.
    pub entity: Option<Spanned<String>>,
    /// DNS names or patterns (egress only; Cilium only).
    pub fqdns: Option<Vec<Spanned<String>>>,
}

/// One intent: a connection from a group to a group on some ports.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IntentDoc {
    /// Name, unique within the set.
    pub name: Spanned<String>,
    /// Source group.
    pub from: Spanned<String>,
    /// Destination group.
    pub to: Spanned<String>,
    /// `allow` (default) or `deny`.
    pub action: Option<Spanned<String>>,
    /// Ports such as `8080/tcp`, `8000-8100/tcp`, `http/tcp`, `udp`, `icmp:8`; absent
    /// means every protocol and port.
    pub ports: Option<Spanned<Vec<Spanned<String>>>>,
    /// L7 HTTP constraints (Cilium only).
    #[serde(default)]
    pub http: Vec<Spanned<HttpDoc>>,
    /// Free text, not rendered.
    pub description: Option<String>,
}

/// An L7 HTTP match.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpDoc {
    /// Method (regex), e.g. `GET`.
    pub method: Option<Spanned<String>>,
    /// Path (regex), e.g. `/api/.*`.
    pub path: Option<Spanned<String>>,
}

/// A whole document of kind `ConnectivityTest`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectivityTestDoc {
    /// Always [`API_VERSION`].
    pub api_version: Spanned<String>,
    /// Always `ConnectivityTest`.
    pub kind: Spanned<String>,
    /// Name.
    pub metadata: Metadata,
    /// Body.
    pub spec: ConnectivityTestSpec,
}

/// The body of a `ConnectivityTest`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectivityTestSpec {
    /// The namespace whose intent set's groups bare names refer to (default: the only
    /// intent set, if there is exactly one).
    pub namespace: Option<Spanned<String>>,
    /// Expected verdicts.
    pub expect: Vec<Spanned<ExpectDoc>>,
}

/// One expected verdict.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectDoc {
    /// Source.
    pub from: Spanned<EndpointDoc>,
    /// Destination.
    pub to: Spanned<EndpointDoc>,
    /// `5432/tcp`.
    pub port: Spanned<String>,
    /// `allow` or `deny`.
    pub verdict: Spanned<String>,
}

/// A test endpoint: a group name (`frontend` or `set/frontend`), a pod, or an address.
#[derive(Debug)]
pub enum EndpointDoc {
    /// A group; its representative pod or address.
    Group(String),
    /// A pod with these labels in this namespace.
    Pod(PodDoc),
}

/// A concrete test pod or address.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodDoc {
    /// Namespace of the pod.
    pub namespace: Option<Spanned<String>>,
    /// The pod's labels.
    pub selector: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    /// An external address instead of a pod.
    pub address: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for EndpointDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EndpointDoc;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a group name or a map with `namespace` and `selector`, or `address`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(EndpointDoc::Group(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                PodDoc::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(EndpointDoc::Pod)
            }
        }
        d.deserialize_any(V)
    }
}

/// A `ClusterProfile` document: cluster facts with defaults.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterProfileDoc {
    /// Always [`API_VERSION`].
    pub api_version: Spanned<String>,
    /// Always `ClusterProfile`.
    pub kind: Spanned<String>,
    /// Name.
    pub metadata: Metadata,
    /// Body.
    pub spec: ClusterProfileSpec,
}

/// Cluster facts; each absent field keeps its default.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterProfileSpec {
    /// Pod networks (default `10.244.0.0/16`).
    #[serde(rename = "podCIDRs")]
    pub pod_cidrs: Option<Vec<Spanned<String>>>,
    /// Service networks (default `10.96.0.0/12`).
    #[serde(rename = "serviceCIDRs")]
    pub service_cidrs: Option<Vec<Spanned<String>>>,
    /// Node networks (default none).
    #[serde(rename = "nodeCIDRs")]
    pub node_cidrs: Option<Vec<Spanned<String>>>,
    /// The API server.
    pub api_server: Option<ApiServerDoc>,
    /// The cluster DNS pods.
    pub dns: Option<DnsDoc>,
    /// The labels of namespaces that have no IntentSet (`kube-system`, a shared
    /// `ingress-nginx`, ...), as they are in the cluster, so that verification and
    /// `explain` see what namespace selectors match there. A namespace not listed is
    /// assumed to carry only `kubernetes.io/metadata.name`.
    #[serde(default)]
    pub namespaces: BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<String>>>,
    /// The back ends this project builds: `kubernetes`, `calico`, `cilium` (default: all
    /// three). `build`, `check`, `render`, `fn` and the Argo CD plugin render only these,
    /// so a project may use what only some back ends can express (FQDN rules on
    /// `[cilium]`), and a migration can build `[calico, cilium]`.
    pub targets: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Where the API server's endpoints are.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiServerDoc {
    /// Endpoint addresses (post-DNAT).
    #[serde(default)]
    pub cidrs: Vec<Spanned<String>>,
    /// Endpoint port (default 6443).
    pub port: Option<Spanned<u16>>,
}

/// Where the cluster DNS pods are.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsDoc {
    /// Namespace (default `kube-system`).
    pub namespace: Option<Spanned<String>>,
    /// Pod labels (default `k8s-app: kube-dns`).
    pub selector: Option<Spanned<SelectorDoc>>,
}

/// A label selector: a map of labels (`{app: web}`), or the full form with
/// `matchLabels` and/or `matchExpressions`.
#[derive(Debug, Default)]
pub struct SelectorDoc {
    /// Label equalities.
    pub match_labels: Vec<(Spanned<String>, Spanned<String>)>,
    /// Requirements.
    pub match_expressions: Vec<Spanned<ExpressionDoc>>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpressionDoc {
    /// Label key.
    pub key: Spanned<String>,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub operator: Spanned<String>,
    /// Values (for `In`/`NotIn`).
    #[serde(default)]
    pub values: Vec<Spanned<String>>,
}

impl<'de> Deserialize<'de> for SelectorDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SelectorDoc;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of labels, or `matchLabels`/`matchExpressions`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = SelectorDoc::default();
                let mut full = false;
                let mut short = false;
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    match key.value.as_str() {
                        "matchLabels" => {
                            full = true;
                            let m: BTreeMap<Spanned<String>, Spanned<String>> = map.next_value()?;
                            out.match_labels.extend(m);
                        }
                        "matchExpressions" => {
                            full = true;
                            out.match_expressions = map.next_value()?;
                        }
                        _ => {
                            short = true;
                            let v: Spanned<String> = map.next_value()?;
                            out.match_labels.push((key, v));
                        }
                    }
                    if full && short {
                        return Err(de::Error::custom(
                            "a selector is either a map of labels or has `matchLabels`/`matchExpressions`, not both",
                        ));
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// Namespaces by name (a list) or by labels (a selector).
#[derive(Debug)]
pub enum NamespacesDoc {
    /// By name.
    Names(Vec<Spanned<String>>),
    /// By labels.
    Selector(SelectorDoc),
}

impl<'de> Deserialize<'de> for NamespacesDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NamespacesDoc;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of namespace names or a label selector")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut names = Vec::new();
                while let Some(n) = seq.next_element::<Spanned<String>>()? {
                    names.push(n);
                }
                Ok(NamespacesDoc::Names(names))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                SelectorDoc::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(NamespacesDoc::Selector)
            }
        }
        d.deserialize_any(V)
    }
}

/// An address block: `203.0.113.0/24`, or `{cidr: 0.0.0.0/0, except: [...]}`.
#[derive(Debug)]
pub struct CidrDoc {
    /// The block.
    pub cidr: String,
    /// Holes.
    pub except: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CidrMap {
    cidr: String,
    #[serde(default)]
    except: Vec<Spanned<String>>,
}

impl<'de> Deserialize<'de> for CidrDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CidrDoc;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a CIDR or a map with `cidr` and `except`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CidrDoc {
                    cidr: v.to_string(),
                    except: Vec::new(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let m = CidrMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(CidrDoc {
                    cidr: m.cidr,
                    except: m.except,
                })
            }
        }
        d.deserialize_any(V)
    }
}
