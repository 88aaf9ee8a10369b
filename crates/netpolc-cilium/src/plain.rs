//! The Cilium policies the evaluator reads, straight from the tree: the objects netpolc
//! writes, and most others.
//!
//! Deserialising a [`CiliumPolicy`] with serde from the tree cost about half of reading
//! the policy after it (every struct goes through serde's field visitors, every
//! `BTreeMap` and `Vec` through its access types, and the untagged ICMP type through a
//! buffered copy of its value). [`policy`] walks the tree into the same types and gives
//! `None` for anything it is not sure serde reads the same way (a field it does not
//! list, a `null`, a number out of its type's range, a value of another type, ...): then
//! serde deserialises, and its message is the one given. When it gives `Some`, serde
//! gives that same value (the tests compare both readings of an object with every field
//! and of every edit of it).

use crate::types::{
    CidrRule, CiliumPolicy, DefaultDeny, EgressDenyRule, EgressRule, EndpointSelector, Entity,
    FqdnSelector, HttpRule, IcmpFamily, IcmpField, IcmpRule, IcmpType, IngressDenyRule,
    IngressRule, L4Protocol, L7Rules, ObjectMeta, PortDenyRule, PortProtocol, PortRule, Rule,
    SelectorOperator, SelectorRequirement,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// A CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy, as
/// `CiliumPolicy::deserialize` reads it.
pub(crate) fn policy(object: &Value) -> Option<CiliumPolicy> {
    let mut api_version = None;
    let mut kind = None;
    let mut metadata = None;
    let mut spec = None;
    let mut specs = None;
    for (k, v) in object.as_object()? {
        match k.as_str() {
            "apiVersion" => api_version = Some(string(v)?),
            "kind" => kind = Some(string(v)?),
            "metadata" => metadata = Some(meta(v)?),
            "spec" => spec = Some(rule(v)?),
            "specs" => specs = Some(list(v, rule)?),
            // `status` (any value) and unknown fields are left to serde.
            _ => return None,
        }
    }
    Some(CiliumPolicy {
        api_version: api_version?,
        kind: kind?,
        metadata: metadata?,
        spec,
        specs,
        status: None,
    })
}

fn meta(v: &Value) -> Option<ObjectMeta> {
    let mut m = ObjectMeta::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "name" => m.name = string(v)?,
            "namespace" => m.namespace = Some(string(v)?),
            "labels" => m.labels = string_map(v)?,
            "annotations" => m.annotations = string_map(v)?,
            // Serde ignores the others; left to it.
            _ => return None,
        }
    }
    Some(m)
}

fn string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn strings(v: &Value) -> Option<Vec<String>> {
    list(v, string)
}

fn string_map(v: &Value) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (k, v) in v.as_object()? {
        out.insert(k.clone(), string(v)?);
    }
    Some(out)
}

/// Every item of an array, read by `item`.
fn list<T>(v: &Value, item: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
    v.as_array()?.iter().map(item).collect()
}

fn rule(v: &Value) -> Option<Rule> {
    let mut r = Rule::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "endpointSelector" => r.endpoint_selector = Some(selector(v)?),
            "nodeSelector" => r.node_selector = Some(selector(v)?),
            "enableDefaultDeny" => r.enable_default_deny = Some(default_deny(v)?),
            "ingress" => r.ingress = Some(list(v, ingress)?),
            "ingressDeny" => r.ingress_deny = Some(list(v, ingress_deny)?),
            "egress" => r.egress = Some(list(v, egress)?),
            "egressDeny" => r.egress_deny = Some(list(v, egress_deny)?),
            _ => return None,
        }
    }
    Some(r)
}

fn default_deny(v: &Value) -> Option<DefaultDeny> {
    let mut d = DefaultDeny::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "ingress" => d.ingress = Some(v.as_bool()?),
            "egress" => d.egress = Some(v.as_bool()?),
            _ => return None,
        }
    }
    Some(d)
}

fn selector(v: &Value) -> Option<EndpointSelector> {
    let mut s = EndpointSelector::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "matchLabels" => s.match_labels = string_map(v)?,
            "matchExpressions" => s.match_expressions = list(v, requirement)?,
            _ => return None,
        }
    }
    Some(s)
}

fn requirement(v: &Value) -> Option<SelectorRequirement> {
    let mut key = None;
    let mut operator = None;
    let mut values = Vec::new();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "key" => key = Some(string(v)?),
            "operator" => {
                operator = Some(match v.as_str()? {
                    "In" => SelectorOperator::In,
                    "NotIn" => SelectorOperator::NotIn,
                    "Exists" => SelectorOperator::Exists,
                    "DoesNotExist" => SelectorOperator::DoesNotExist,
                    _ => return None,
                });
            }
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

fn ingress(v: &Value) -> Option<IngressRule> {
    let mut r = IngressRule::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "fromEndpoints" => r.from_endpoints = list(v, selector)?,
            "fromCIDR" => r.from_cidr = strings(v)?,
            "fromCIDRSet" => r.from_cidr_set = list(v, cidr_rule)?,
            "fromEntities" => r.from_entities = list(v, entity)?,
            "toPorts" => r.to_ports = list(v, port_rule)?,
            "icmps" => r.icmps = list(v, icmp_rule)?,
            _ => return None,
        }
    }
    Some(r)
}

fn ingress_deny(v: &Value) -> Option<IngressDenyRule> {
    let mut r = IngressDenyRule::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "fromEndpoints" => r.from_endpoints = list(v, selector)?,
            "fromCIDR" => r.from_cidr = strings(v)?,
            "fromCIDRSet" => r.from_cidr_set = list(v, cidr_rule)?,
            "fromEntities" => r.from_entities = list(v, entity)?,
            "toPorts" => r.to_ports = list(v, port_deny_rule)?,
            "icmps" => r.icmps = list(v, icmp_rule)?,
            _ => return None,
        }
    }
    Some(r)
}

fn egress(v: &Value) -> Option<EgressRule> {
    let mut r = EgressRule::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "toEndpoints" => r.to_endpoints = list(v, selector)?,
            "toCIDR" => r.to_cidr = strings(v)?,
            "toCIDRSet" => r.to_cidr_set = list(v, cidr_rule)?,
            "toEntities" => r.to_entities = list(v, entity)?,
            "toFQDNs" => r.to_fqdns = list(v, fqdn)?,
            "toPorts" => r.to_ports = list(v, port_rule)?,
            "icmps" => r.icmps = list(v, icmp_rule)?,
            _ => return None,
        }
    }
    Some(r)
}

fn egress_deny(v: &Value) -> Option<EgressDenyRule> {
    let mut r = EgressDenyRule::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "toEndpoints" => r.to_endpoints = list(v, selector)?,
            "toCIDR" => r.to_cidr = strings(v)?,
            "toCIDRSet" => r.to_cidr_set = list(v, cidr_rule)?,
            "toEntities" => r.to_entities = list(v, entity)?,
            "toPorts" => r.to_ports = list(v, port_deny_rule)?,
            "icmps" => r.icmps = list(v, icmp_rule)?,
            _ => return None,
        }
    }
    Some(r)
}

fn cidr_rule(v: &Value) -> Option<CidrRule> {
    let mut cidr = None;
    let mut except = Vec::new();
    for (k, v) in v.as_object()? {
        match k.as_str() {
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

fn entity(v: &Value) -> Option<Entity> {
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

fn fqdn(v: &Value) -> Option<FqdnSelector> {
    let mut f = FqdnSelector::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "matchName" => f.match_name = Some(string(v)?),
            "matchPattern" => f.match_pattern = Some(string(v)?),
            _ => return None,
        }
    }
    Some(f)
}

fn port_rule(v: &Value) -> Option<PortRule> {
    let mut r = PortRule::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "ports" => r.ports = list(v, port)?,
            "rules" => r.rules = Some(l7_rules(v)?),
            _ => return None,
        }
    }
    Some(r)
}

fn port_deny_rule(v: &Value) -> Option<PortDenyRule> {
    let mut r = PortDenyRule::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "ports" => r.ports = list(v, port)?,
            _ => return None,
        }
    }
    Some(r)
}

fn port(v: &Value) -> Option<PortProtocol> {
    let mut p = PortProtocol::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "port" => p.port = string(v)?,
            // An integer in range: what serde reads an `i32` from.
            "endPort" => p.end_port = Some(i32::try_from(v.as_number()?.as_i64()?).ok()?),
            "protocol" => {
                p.protocol = Some(match v.as_str()? {
                    "TCP" => L4Protocol::Tcp,
                    "UDP" => L4Protocol::Udp,
                    "SCTP" => L4Protocol::Sctp,
                    "VRRP" => L4Protocol::Vrrp,
                    "IGMP" => L4Protocol::Igmp,
                    "ANY" => L4Protocol::Any,
                    _ => return None,
                });
            }
            _ => return None,
        }
    }
    Some(p)
}

fn l7_rules(v: &Value) -> Option<L7Rules> {
    let mut r = L7Rules::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "http" => r.http = Some(list(v, http_rule)?),
            "dns" => r.dns = Some(list(v, fqdn)?),
            _ => return None,
        }
    }
    Some(r)
}

fn http_rule(v: &Value) -> Option<HttpRule> {
    let mut r = HttpRule::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "method" => r.method = Some(string(v)?),
            "path" => r.path = Some(string(v)?),
            _ => return None,
        }
    }
    Some(r)
}

fn icmp_rule(v: &Value) -> Option<IcmpRule> {
    let mut r = IcmpRule::default();
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "fields" => r.fields = list(v, icmp_field)?,
            _ => return None,
        }
    }
    Some(r)
}

fn icmp_field(v: &Value) -> Option<IcmpField> {
    let mut family = None;
    let mut icmp_type = None;
    for (k, v) in v.as_object()? {
        match k.as_str() {
            "family" => {
                family = Some(match v.as_str()? {
                    "IPv4" => IcmpFamily::IPv4,
                    "IPv6" => IcmpFamily::IPv6,
                    _ => return None,
                });
            }
            // Untagged: a number that fits a `u8`, else a string.
            "type" => {
                icmp_type = Some(match v {
                    Value::Number(n) => IcmpType::Number(u8::try_from(n.as_u64()?).ok()?),
                    Value::String(s) => IcmpType::Name(s.clone()),
                    _ => return None,
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
    use serde::Deserialize;
    use serde_json::json;

    /// The plain reading gives what serde gives, or nothing (then serde reads): on a
    /// policy with every field and on every edit of it, of types, values and keys.
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
            "specs": [rule, {}]
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
            "all",
            "world",
            "cluster",
            "host",
            "init",
            "ingress",
            "unmanaged",
            "remote-node",
            "health",
            "none",
            "kube-apiserver",
            "TCP",
            "UDP",
            "SCTP",
            "VRRP",
            "IGMP",
            "ANY",
            "IPv4",
            "IPv6",
        ];
        others.extend(words.iter().map(|w| json!(w)));
        let serde = |o: &Value| CiliumPolicy::deserialize(o).ok();
        assert_eq!(policy(&object), serde(&object), "{object}");
        assert!(policy(&object).is_some());
        let mut all = Vec::new();
        netpolc_kube::edits::edits(&object, &others, &mut all);
        let mut read_plainly = 0;
        for o in &all {
            if let Some(p) = policy(o) {
                assert_eq!(Some(p), serde(o), "{o}");
                read_plainly += 1;
            }
        }
        assert!(read_plainly > 1000, "{read_plainly} of {}", all.len());
    }
}
