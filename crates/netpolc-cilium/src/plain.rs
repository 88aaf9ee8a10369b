//! The Cilium policies the evaluator reads, straight from the tree: the objects netpolc
//! writes, and most others.
//!
//! Deserialising a [`CiliumPolicy`](crate::types::CiliumPolicy) with serde from the tree, then converting it into the
//! evaluator's policies, cost more than the rest of reading an object: every struct goes
//! through serde's field visitors, every label and port string is copied into the typed
//! policy and copied again into the evaluator's selectors, and each map and list of the
//! typed policy is built only to be dropped. [`policies`] walks the tree straight into
//! what `from_cilium` makes of the typed policy, and gives `None` for anything it is not
//! sure serde reads the same way (a field it does not list, a `null`, a number out of its
//! type's range, a value of another type, ...): then serde deserialises, and its message
//! is the one given. When it gives `Some`, serde and `from_cilium` give the same policies
//! (the tests compare both readings of a policy with every field and of every edit of
//! it).

use crate::eval::{
    icmp, item_path, port_of, scope_peer, CPolicy, CRule, PortC, Scoping, Sel, Selectors, L3,
};
use crate::labels::{
    parse_selector_key, split_selector_key, NAMESPACE_KEY, SOURCE_ANY, SOURCE_K8S, SOURCE_RESERVED,
};
use crate::types::{
    CidrRule, DefaultDeny, Entity, FqdnSelector, HttpRule, IcmpFamily, IcmpField, IcmpRule,
    IcmpType, L4Protocol, L7Rules, SelectorOperator, SelectorRequirement, KIND_CNP,
};
use crate::validate::Section;
use netpolc_ir::backend::Tree;
use netpolc_ir::provenance::{RuleIntents, INTENT_ANNOTATION, RULES_ANNOTATION};
use netpolc_ir::Direction;

/// The policies `from_cilium` makes of the CiliumNetworkPolicy or
/// CiliumClusterwideNetworkPolicy `object` once serde has read it, read straight from the
/// tree; `None` for anything serde might read otherwise or refuse (then it reads).
pub(crate) fn policies<T: Tree>(object: &T, selectors: &Selectors) -> Option<Vec<CPolicy>> {
    let mut api_version = false;
    let mut kind = None;
    let mut metadata = None;
    let mut spec = None;
    let mut specs: &[T] = &[];
    for (k, v) in object.entries()? {
        match k {
            "apiVersion" => api_version = v.is_string(),
            "kind" => kind = Some(v.as_str()?),
            "metadata" => metadata = Some(Meta::read(v)?),
            "spec" => spec = Some(v),
            "specs" => specs = v.as_array()?,
            _ => return None,
        }
    }
    let (kind, meta) = (kind?, metadata?);
    if !api_version {
        return None;
    }
    // As `from_cilium`.
    let namespace = (kind == KIND_CNP).then(|| meta.namespace.unwrap_or("default"));
    // Written at its length, without the formatting machinery (one for every object).
    let ns_len = namespace.map_or(0, |ns| ns.len() + 1);
    let mut object = String::with_capacity(kind.len() + 1 + ns_len + meta.name.len());
    object.push_str(kind);
    object.push(' ');
    if let Some(ns) = namespace {
        object.push_str(ns);
        object.push('/');
    }
    object.push_str(meta.name);
    let intents = RuleIntents::new(meta.intent, meta.rules);
    let count = usize::from(spec.is_some()) + specs.len();
    let mut out = Vec::with_capacity(count);
    let mut object = Some(object);
    let mut intents = Some(intents);
    let bases = spec.map(|s| ("spec".to_string(), s)).into_iter().chain(
        specs
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("specs[{i}]"), s)),
    );
    for (k, (base, r)) in bases.enumerate() {
        // The last rule takes the name and intents, the others a copy.
        let (object, intents) = if k + 1 == count {
            (object.take(), intents.take())
        } else {
            (object.clone(), intents.clone())
        };
        out.push(rule_policy(
            r,
            &base,
            namespace,
            object.unwrap_or_default(),
            intents.unwrap_or_default(),
            selectors,
        )?);
    }
    Some(out)
}

/// What the evaluator reads of `metadata` (its labels are only checked to be strings, as
/// serde reads them; any other field is left to serde, which ignores it).
struct Meta<'v> {
    name: &'v str,
    namespace: Option<&'v str>,
    intent: Option<&'v str>,
    rules: Option<&'v str>,
}

impl<'v> Meta<'v> {
    fn read<T: Tree>(v: &'v T) -> Option<Meta<'v>> {
        let mut m = Meta {
            name: "",
            namespace: None,
            intent: None,
            rules: None,
        };
        for (k, v) in v.entries()? {
            match k {
                "name" => m.name = v.as_str()?,
                "namespace" => m.namespace = Some(v.as_str()?),
                "labels" => {
                    for (_, v) in v.entries()? {
                        v.as_str()?;
                    }
                }
                "annotations" => {
                    for (k, v) in v.entries()? {
                        let v = v.as_str()?;
                        match k {
                            INTENT_ANNOTATION => m.intent = Some(v),
                            RULES_ANNOTATION => m.rules = Some(v),
                            _ => {}
                        }
                    }
                }
                _ => return None,
            }
        }
        Some(m)
    }
}

/// One rule (`spec` or a `specs` item) at `base`, as `from_cilium` makes it.
fn rule_policy<T: Tree>(
    v: &T,
    base: &str,
    namespace: Option<&str>,
    object: String,
    intents: RuleIntents,
    selectors: &Selectors,
) -> Option<CPolicy> {
    let mut subject = None;
    let mut dd = DefaultDeny::default();
    let mut sections: [&[T]; 4] = [&[]; 4];
    for (k, v) in v.entries()? {
        match k {
            "endpointSelector" => subject = Some(RawSel::read(v)?),
            // Checked only: the evaluator does not model nodes.
            "nodeSelector" => {
                RawSel::read(v)?;
            }
            "enableDefaultDeny" => dd = default_deny(v)?,
            "ingress" => sections[0] = v.as_array()?,
            "ingressDeny" => sections[1] = v.as_array()?,
            "egress" => sections[2] = v.as_array()?,
            "egressDeny" => sections[3] = v.as_array()?,
            _ => return None,
        }
    }
    let mut text = Vec::new();
    let subject = subject.map(|raw| {
        raw.text(b'S', namespace, false, &mut text);
        selectors.by_text(&text, || raw.make().scoped_to(namespace))
    });
    let scoping = Scoping::of(namespace, subject.as_deref());
    // An unset direction defaults to "this rule has rules for it".
    let default_deny = [
        dd.ingress
            .unwrap_or(!sections[0].is_empty() || !sections[1].is_empty()),
        dd.egress
            .unwrap_or(!sections[2].is_empty() || !sections[3].is_empty()),
    ];
    let mut rules = Vec::with_capacity(sections.iter().map(|s| s.len()).sum());
    for (section, items) in [
        Section::Ingress,
        Section::IngressDeny,
        Section::Egress,
        Section::EgressDeny,
    ]
    .into_iter()
    .zip(sections)
    {
        for (j, item) in items.iter().enumerate() {
            let path = item_path(base, section.field(), j);
            rules.push(rule_item(
                item, section, scoping, path, selectors, &mut text,
            )?);
        }
    }
    Some(CPolicy {
        object,
        intents,
        subject,
        default_deny,
        rules,
    })
}

/// One rule item, as `convert_item` makes it of the typed item.
fn rule_item<T: Tree>(
    v: &T,
    section: Section,
    scoping: Scoping<'_>,
    path: String,
    selectors: &Selectors,
    text: &mut Vec<u8>,
) -> Option<CRule> {
    let ingress = section.is_ingress();
    let mut endpoints: &[T] = &[];
    let mut cidr: &[T] = &[];
    let mut cidr_set: &[T] = &[];
    let mut entities: &[T] = &[];
    let mut fqdns = false;
    let mut to_ports: &[T] = &[];
    let mut icmps: &[T] = &[];
    for (k, v) in v.entries()? {
        let list = v.as_array()?;
        match (k, ingress) {
            ("fromEndpoints", true) | ("toEndpoints", false) => endpoints = list,
            ("fromCIDR", true) | ("toCIDR", false) => cidr = list,
            ("fromCIDRSet", true) | ("toCIDRSet", false) => cidr_set = list,
            ("fromEntities", true) | ("toEntities", false) => entities = list,
            ("toFQDNs", false) if section == Section::Egress => {
                for f in list {
                    fqdn(f)?;
                }
                fqdns = !list.is_empty();
            }
            ("toPorts", _) => to_ports = list,
            ("icmps", _) => icmps = list,
            _ => return None,
        }
    }
    // Every field is read (and checked) before the peer is chosen.
    let endpoints: Vec<RawSel<'_>> = endpoints.iter().map(RawSel::read).collect::<Option<_>>()?;
    let cidr: Vec<&str> = cidr.iter().map(T::as_str).collect::<Option<_>>()?;
    let cidr_set: Vec<CidrRule> = cidr_set.iter().map(cidr_rule).collect::<Option<_>>()?;
    let entities: Vec<Entity> = entities.iter().map(entity).collect::<Option<_>>()?;
    let mut ports = Vec::new();
    for p in to_ports {
        ports_into(p, section.is_deny(), &mut ports)?;
    }
    let mut icmp_types = Vec::new();
    for r in icmps {
        icmp_types.extend(icmp_rule(r)?.fields.iter().map(icmp));
    }
    // As `convert_item`: the first peer kind present.
    let l3 = if !endpoints.is_empty() {
        L3::Selectors(
            endpoints
                .into_iter()
                .map(|raw| {
                    let (namespace, init) = (scoping.namespace, scoping.subject_matches_init);
                    raw.text(b'P', namespace, init, text);
                    selectors.by_text(text, || scope_peer(raw.make(), namespace, init))
                })
                .collect(),
        )
    } else if !cidr.is_empty() || !cidr_set.is_empty() {
        crate::eval::cidrs(cidr.into_iter(), &cidr_set)
    } else if !entities.is_empty() {
        L3::Entities(entities)
    } else if fqdns {
        L3::Fqdns
    } else {
        L3::Absent
    };
    Some(CRule {
        path,
        direction: if ingress {
            Direction::Ingress
        } else {
            Direction::Egress
        },
        deny: section.is_deny(),
        l3,
        has_l4: !to_ports.is_empty() || !icmps.is_empty(),
        ports,
        icmps: icmp_types,
    })
}

/// The ports of one `toPorts` item (`deny`: of a deny rule, which has no L7 rules), as
/// `convert_item` keeps them.
fn ports_into<T: Tree>(v: &T, deny: bool, out: &mut Vec<PortC>) -> Option<()> {
    for (k, v) in v.entries()? {
        match k {
            "ports" => {
                for p in v.as_array()? {
                    let mut port = "";
                    let mut end = None;
                    let mut proto = None;
                    for (k, v) in p.entries()? {
                        match k {
                            "port" => port = v.as_str()?,
                            "endPort" => end = Some(end_port(v)?),
                            "protocol" => proto = Some(protocol(v)?),
                            _ => return None,
                        }
                    }
                    out.extend(port_of(port, end, proto));
                }
            }
            "rules" if !deny => {
                l7_rules(v)?;
            }
            _ => return None,
        }
    }
    Some(())
}

/// An endpoint selector as written: its labels in key order (as the typed map holds
/// them), its expressions.
struct RawSel<'v> {
    labels: Vec<(&'v str, &'v str)>,
    expressions: Vec<SelectorRequirement>,
}

impl<'v> RawSel<'v> {
    fn read<T: Tree>(v: &'v T) -> Option<RawSel<'v>> {
        let mut labels: Vec<(&str, &str)> = Vec::new();
        let mut expressions = Vec::new();
        for (k, v) in v.entries()? {
            match k {
                "matchLabels" => {
                    let m = v.entries()?;
                    labels.reserve_exact(m.size_hint().0);
                    for (k, v) in m {
                        labels.push((k, v.as_str()?));
                    }
                }
                "matchExpressions" => expressions = list(v, requirement)?,
                _ => return None,
            }
        }
        // Keys of one map are distinct.
        labels.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Some(RawSel {
            labels,
            expressions,
        })
    }

    /// The selector, as `Sel::parse` makes it of the typed one.
    fn make(&self) -> Sel {
        Sel::from_parts(
            self.labels.iter().copied(),
            self.expressions
                .iter()
                .map(|e| (e.key.as_str(), e.operator, e.values.clone())),
            parse_selector_key,
        )
    }

    /// Whether `scope_peer` leaves the selector as it is wherever it is written: it has a
    /// `reserved:` key or names the namespace (`io.kubernetes.pod.namespace`, of source
    /// `k8s` or `any`). Most peers netpolc writes do.
    fn scopes_itself(&self) -> bool {
        let keys = self.labels.iter().map(|(k, _)| *k);
        keys.chain(self.expressions.iter().map(|e| e.key.as_str()))
            .any(|k| {
                let (source, key) = split_selector_key(k);
                source == SOURCE_RESERVED
                    || (key == NAMESPACE_KEY && (source == SOURCE_K8S || source == SOURCE_ANY))
            })
    }

    /// Into `out` (cleared first), a text telling apart every selector made of this one:
    /// what it is (`kind`: `S` for a subject, `P` for a peer), its labels and expressions,
    /// the namespace scoping it (`None`: cluster-wide) and whether the subject matches
    /// `reserved:init` (neither for a peer that [scopes itself](Self::scopes_itself), so
    /// it is found again in every namespace). Each string is written after its length,
    /// so no two differ only in where one string ends.
    fn text(&self, kind: u8, namespace: Option<&str>, init: bool, out: &mut Vec<u8>) {
        fn put(out: &mut Vec<u8>, s: &str) {
            out.extend_from_slice(&s.len().to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out.clear();
        out.push(kind);
        for (k, v) in &self.labels {
            out.push(b'L');
            put(out, k);
            put(out, v);
        }
        for e in &self.expressions {
            out.push(b'E');
            put(out, &e.key);
            out.push(match e.operator {
                SelectorOperator::In => 0,
                SelectorOperator::NotIn => 1,
                SelectorOperator::Exists => 2,
                SelectorOperator::DoesNotExist => 3,
            });
            out.extend_from_slice(&e.values.len().to_le_bytes());
            for v in &e.values {
                put(out, v);
            }
        }
        if kind == b'P' && self.scopes_itself() {
            out.push(b'U');
            return;
        }
        match namespace {
            Some(ns) => {
                out.push(b'N');
                put(out, ns);
            }
            None => out.push(b'C'),
        }
        out.push(u8::from(init));
    }
}

// The parts read into the typed values, each as serde reads it: rare in what netpolc
// writes, or small.

fn string<T: Tree>(v: &T) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn strings<T: Tree>(v: &T) -> Option<Vec<String>> {
    list(v, string)
}

/// Every item of an array, read by `item`.
fn list<V: Tree, T>(v: &V, item: impl Fn(&V) -> Option<T>) -> Option<Vec<T>> {
    v.as_array()?.iter().map(item).collect()
}

fn default_deny<T: Tree>(v: &T) -> Option<DefaultDeny> {
    let mut d = DefaultDeny::default();
    for (k, v) in v.entries()? {
        match k {
            "ingress" => d.ingress = Some(v.as_bool()?),
            "egress" => d.egress = Some(v.as_bool()?),
            _ => return None,
        }
    }
    Some(d)
}

fn requirement<T: Tree>(v: &T) -> Option<SelectorRequirement> {
    let mut key = None;
    let mut operator = None;
    let mut values = Vec::new();
    for (k, v) in v.entries()? {
        match k {
            "key" => key = Some(string(v)?),
            "operator" => operator = Some(selector_operator(v)?),
            "values" => values = strings(v)?,
            _ => return None,
        }
    }
    Some(SelectorRequirement {
        key: key?,
        operator: operator?,
        values,
    })
}

fn cidr_rule<T: Tree>(v: &T) -> Option<CidrRule> {
    let mut cidr = None;
    let mut except = Vec::new();
    for (k, v) in v.entries()? {
        match k {
            "cidr" => cidr = Some(string(v)?),
            "except" => except = strings(v)?,
            _ => return None,
        }
    }
    Some(CidrRule {
        cidr: cidr?,
        except,
    })
}

fn entity<T: Tree>(v: &T) -> Option<Entity> {
    Some(match v.as_str()? {
        "all" => Entity::All,
        "world" => Entity::World,
        "cluster" => Entity::Cluster,
        "host" => Entity::Host,
        "init" => Entity::Init,
        "ingress" => Entity::Ingress,
        "unmanaged" => Entity::Unmanaged,
        "remote-node" => Entity::RemoteNode,
        "health" => Entity::Health,
        "none" => Entity::None,
        "kube-apiserver" => Entity::KubeApiserver,
        _ => return None,
    })
}

fn fqdn<T: Tree>(v: &T) -> Option<FqdnSelector> {
    let mut f = FqdnSelector::default();
    for (k, v) in v.entries()? {
        match k {
            "matchName" => f.match_name = Some(string(v)?),
            "matchPattern" => f.match_pattern = Some(string(v)?),
            _ => return None,
        }
    }
    Some(f)
}

fn selector_operator<T: Tree>(v: &T) -> Option<SelectorOperator> {
    Some(match v.as_str()? {
        "In" => SelectorOperator::In,
        "NotIn" => SelectorOperator::NotIn,
        "Exists" => SelectorOperator::Exists,
        "DoesNotExist" => SelectorOperator::DoesNotExist,
        _ => return None,
    })
}

fn protocol<T: Tree>(v: &T) -> Option<L4Protocol> {
    Some(match v.as_str()? {
        "TCP" => L4Protocol::Tcp,
        "UDP" => L4Protocol::Udp,
        "SCTP" => L4Protocol::Sctp,
        "VRRP" => L4Protocol::Vrrp,
        "IGMP" => L4Protocol::Igmp,
        "ANY" => L4Protocol::Any,
        _ => return None,
    })
}

/// An `endPort`: an integer in range, what serde reads an `i32` from.
fn end_port<T: Tree>(v: &T) -> Option<i32> {
    i32::try_from(v.as_number()?.as_i64()?).ok()
}

fn l7_rules<T: Tree>(v: &T) -> Option<L7Rules> {
    let mut r = L7Rules::default();
    for (k, v) in v.entries()? {
        match k {
            "http" => r.http = Some(list(v, http_rule)?),
            "dns" => r.dns = Some(list(v, fqdn)?),
            _ => return None,
        }
    }
    Some(r)
}

fn http_rule<T: Tree>(v: &T) -> Option<HttpRule> {
    let mut r = HttpRule::default();
    for (k, v) in v.entries()? {
        match k {
            "method" => r.method = Some(string(v)?),
            "path" => r.path = Some(string(v)?),
            _ => return None,
        }
    }
    Some(r)
}

fn icmp_rule<T: Tree>(v: &T) -> Option<IcmpRule> {
    let mut r = IcmpRule::default();
    for (k, v) in v.entries()? {
        match k {
            "fields" => r.fields = list(v, icmp_field)?,
            _ => return None,
        }
    }
    Some(r)
}

fn icmp_field<T: Tree>(v: &T) -> Option<IcmpField> {
    let mut family = None;
    let mut icmp_type = None;
    for (k, v) in v.entries()? {
        match k {
            "family" => {
                family = Some(match v.as_str()? {
                    "IPv4" => IcmpFamily::IPv4,
                    "IPv6" => IcmpFamily::IPv6,
                    _ => return None,
                });
            }
            // Untagged: a number that fits a `u8`, else a string.
            "type" => {
                icmp_type = Some(if let Some(n) = v.as_number() {
                    IcmpType::Number(u8::try_from(n.as_u64()?).ok()?)
                } else {
                    IcmpType::Name(v.as_str()?.to_string())
                });
            }
            _ => return None,
        }
    }
    Some(IcmpField {
        family,
        icmp_type: icmp_type?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::from_cilium;
    use crate::types::CiliumPolicy;
    use serde::Deserialize;
    use serde_json::json;
    use serde_json::Value;

    /// The plain reading gives what serde and `from_cilium` give, or nothing (then serde
    /// reads): on a policy with every field and on every edit of it, of types, values
    /// and keys. On every edit, the document is read and validated as its tree is.
    #[test]
    fn the_plain_reading_agrees_with_serde() {
        let selector = json!({
            "matchLabels": {"k8s:app": "web", "k8s:io.kubernetes.pod.namespace": "shop"},
            "matchExpressions": [
                {"key": "k8s:tier", "operator": "In", "values": ["a", "b"]},
                {"key": "k8s:team", "operator": "Exists"}
            ]
        });
        let ports = json!([
            {"port": "8080", "endPort": 8090, "protocol": "TCP"},
            {"port": "dns"}
        ]);
        let icmps = json!([{"fields": [
            {"family": "IPv6", "type": 128},
            {"type": "EchoRequest"}
        ]}]);
        let cidr_set = json!([{"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}]);
        let rule = json!({
            "endpointSelector": selector,
            "nodeSelector": {"matchLabels": {"node": "a"}},
            "enableDefaultDeny": {"ingress": false, "egress": true},
            "ingress": [{
                "fromEndpoints": [selector, {}],
                "fromCIDR": ["192.0.2.0/24"],
                "fromCIDRSet": cidr_set,
                "fromEntities": ["world", "kube-apiserver"],
                "toPorts": [{
                    "ports": ports,
                    "rules": {
                        "http": [{"method": "GET", "path": "/api"}],
                        "dns": [{"matchPattern": "*"}]
                    }
                }],
                "icmps": icmps
            }],
            "ingressDeny": [{
                "fromEndpoints": [selector],
                "fromCIDR": ["192.0.2.0/24"],
                "fromCIDRSet": cidr_set,
                "fromEntities": ["host"],
                "toPorts": [{"ports": ports}],
                "icmps": icmps
            }],
            "egress": [{
                "toEndpoints": [selector],
                "toCIDR": ["2001:db8::/32"],
                "toCIDRSet": cidr_set,
                "toEntities": ["cluster"],
                "toFQDNs": [{"matchName": "example.com"}, {"matchPattern": "*.example.com"}],
                "toPorts": [{"ports": ports, "rules": {"dns": [{"matchName": "a.b"}]}}],
                "icmps": icmps
            }, {}],
            "egressDeny": [{
                "toEndpoints": [selector],
                "toCIDR": ["198.51.100.7"],
                "toCIDRSet": cidr_set,
                "toEntities": ["remote-node"],
                "toPorts": [{"ports": ports}],
                "icmps": icmps
            }]
        });
        let object = json!({
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNetworkPolicy",
            "metadata": {
                "name": "shop-app-web-ingress",
                "namespace": "shop",
                "labels": {"app.kubernetes.io/managed-by": "netpolc"},
                "annotations": {"netpolc.dev/intent": "shop/a"}
            },
            "spec": rule,
            "specs": [rule, {
                // Scopes peers differently in a CiliumClusterwideNetworkPolicy (the kind
                // is among the edits).
                "endpointSelector": {"matchLabels": {"reserved:init": ""}},
                "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "a"}}]}],
                // Ports alone, ICMP types alone.
                "egress": [{"toPorts": [{"ports": [{"port": "53"}]}]}],
                "egressDeny": [{"icmps": [{"fields": [{"type": 8}]}]}]
            }, {
                // Default deny from deny rules alone; the peer of `specs[1]` scoped for a
                // subject that does not match `reserved:init`.
                "endpointSelector": {},
                "ingressDeny": [{"fromEndpoints": [
                    {"matchLabels": {"app": "a"}},
                    // Scoped: the namespace key of another source.
                    {"matchLabels": {"container:io.kubernetes.pod.namespace": "shop"}},
                    // Left alone: a reserved key, the namespace key of any source.
                    {"matchLabels": {"reserved:host": ""}},
                    {"matchExpressions": [
                        {"key": "io.kubernetes.pod.namespace", "operator": "Exists"}
                    ]}
                ]}],
                "egressDeny": [{"toEntities": ["world"]}]
            }, {}]
        });
        let mut others = vec![
            Value::Null,
            json!(true),
            json!(0),
            json!(-1),
            json!(255),
            json!(256),
            json!(2_147_483_648_u64),
            json!(9_223_372_036_854_775_808_u64),
            json!(1.5),
            json!(""),
            json!("x"),
            json!({}),
            json!([]),
            json!(["x"]),
            json!([1]),
            json!({"a": "b"}),
            json!({"In": null}),
            json!({"TCP": null}),
        ];
        // Every word of the enums, in every place.
        let words = [
            "In",
            "NotIn",
            "Exists",
            "DoesNotExist",
            "TCP",
            "UDP",
            "SCTP",
            "VRRP",
            "IGMP",
            "ANY",
            "IPv4",
            "IPv6",
            "CiliumNetworkPolicy",
            "CiliumClusterwideNetworkPolicy",
        ];
        others.extend(
            words
                .iter()
                .chain(crate::validate::ENTITIES)
                .map(|w| json!(w)),
        );
        // The plain readings share their selectors (each selector found by its text must
        // be the one its text made first); serde's each have their own.
        let shared = Selectors::default();
        let plain = |o: &Value| policies(o, &shared).map(|p| format!("{p:#?}"));
        let serde = |o: &Value| {
            CiliumPolicy::deserialize(o)
                .ok()
                .map(|p| format!("{:#?}", from_cilium(&p, &Selectors::default())))
        };
        assert!(plain(&object).is_some());
        assert_eq!(plain(&object), serde(&object), "{object}");
        let mut all = Vec::new();
        netpolc_kube::edits::edits(&object, &others, &mut all);
        let mut read_plainly = 0;
        for o in &all {
            // The document the pipeline reads is read as its tree is.
            let doc = netpolc_ir::backend::Doc::of_value(o);
            let d = crate::eval::read_object(0, &doc, false, &shared);
            let v = crate::eval::read_object(0, o, false, &shared);
            assert_eq!(format!("{d:#?}"), format!("{v:#?}"), "{o}");
            // And validated as its tree is (the pipeline validates the document).
            assert_eq!(
                crate::validate::problems(&doc),
                crate::validate::problems(o),
                "{o}"
            );
            if let Some(p) = plain(o) {
                assert_eq!(Some(p), serde(o), "{o}");
                read_plainly += 1;
            }
        }
        assert!(read_plainly > 1000, "{read_plainly} of {}", all.len());
    }
}
