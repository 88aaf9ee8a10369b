//! A typed NetworkPolicy written straight as YAML text ([`to_text`]): the text that
//! `netpolc_ir::yaml::write` writes for [`crate::ranked::Ranked`] (keys in reading order,
//! `k8s_openapi`'s absent fields skipped), without serde's dispatch for each field and
//! item. Every object of a render is written so.
//!
//! The layout is that emitter's, written with `netpolc_ir::yaml::block`'s pieces (keys,
//! maps, sequences, scalars), which write every string as the emitter decides and check
//! in debug builds that each key is written as it is. What this writer does not write is left
//! to the emitter: metadata beyond the name, namespace, labels and annotations (which
//! netpolc never sets). [`to_text`] is then `None`. Debug builds
//! compare every text with the tidied tree written (`emit::Packed::new`).

use crate::ranked::count;
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::Resource as _;
use netpolc_ir::yaml::block::{
    dash, integer, open_item, open_map, open_seq, scalar, string_map, strings, At, Keys,
};

/// `policy` as one YAML document (no `---`), ending in a newline, in a string of its
/// exact length; `None` where the emitter must decide (see the [module](self)).
pub(crate) fn to_text(policy: &NetworkPolicy) -> Option<String> {
    netpolc_ir::yaml::buffered(|out| write(out, policy).ok_or(())).ok()
}

/// Appends `policy` ([`to_text`]); `None` (with `out` partly written) where the emitter
/// must decide.
fn write(out: &mut String, policy: &NetworkPolicy) -> Option<()> {
    let mut keys =
        netpolc_ir::yaml::block::head(out, NetworkPolicy::API_VERSION, NetworkPolicy::KIND);
    keys.key(out, "metadata");
    meta(out, &policy.metadata)?;
    if let Some(spec) = &policy.spec {
        keys.key(out, "spec");
        self::spec(out, spec);
    }
    Some(())
}

fn meta(out: &mut String, meta: &ObjectMeta) -> Option<()> {
    let crate::ranked::Written {
        name,
        namespace,
        labels,
        annotations,
    } = crate::ranked::written(meta)?;
    netpolc_ir::yaml::block::metadata(
        out,
        name.as_deref(),
        namespace.as_deref(),
        labels.as_ref(),
        annotations.as_ref(),
    );
    Some(())
}

fn spec(out: &mut String, spec: &NetworkPolicySpec) {
    let NetworkPolicySpec {
        egress,
        ingress,
        pod_selector,
        policy_types,
    } = spec;
    let entries = count(&[
        pod_selector.is_some(),
        policy_types.is_some(),
        ingress.is_some(),
        egress.is_some(),
    ]);
    if !open_map(out, entries) {
        return;
    }
    let mut keys = Keys::under(0);
    if let Some(s) = pod_selector {
        keys.key(out, "podSelector");
        selector(out, 2, s);
    }
    if let Some(types) = policy_types {
        keys.key(out, "policyTypes");
        strings(out, 2, types);
    }
    if let Some(rules) = ingress {
        keys.key(out, "ingress");
        let rules = rules
            .iter()
            .map(|r| (r.from.as_deref(), r.ports.as_deref()));
        self::rules(out, "from", rules);
    }
    if let Some(rules) = egress {
        keys.key(out, "egress");
        let rules = rules.iter().map(|r| (r.to.as_deref(), r.ports.as_deref()));
        self::rules(out, "to", rules);
    }
}

/// The rules of a direction, after their key at indentation 2: each its peers (under
/// `peers_key`), then its ports.
fn rules<'r>(
    out: &mut String,
    peers_key: &str,
    rules: impl ExactSizeIterator<
        Item = (
            Option<&'r [NetworkPolicyPeer]>,
            Option<&'r [NetworkPolicyPort]>,
        ),
    >,
) {
    const DASH: usize = 2;
    open_seq(out, rules.len());
    for (peers, ports) in rules {
        dash(out, DASH);
        if !open_item(out, count(&[peers.is_some(), ports.is_some()])) {
            continue;
        }
        let mut keys = Keys::item(DASH);
        if let Some(peers) = peers {
            keys.key(out, peers_key);
            open_seq(out, peers.len());
            for p in peers {
                dash(out, DASH + 2);
                peer(out, DASH + 2, p);
            }
        }
        if let Some(ports) = ports {
            keys.key(out, "ports");
            open_seq(out, ports.len());
            for p in ports {
                dash(out, DASH + 2);
                port(out, DASH + 2, p);
            }
        }
    }
}

/// A peer, as an item whose dash is at `dash`.
fn peer(out: &mut String, dash: usize, peer: &NetworkPolicyPeer) {
    let NetworkPolicyPeer {
        ip_block,
        namespace_selector,
        pod_selector,
    } = peer;
    let entries = count(&[
        namespace_selector.is_some(),
        pod_selector.is_some(),
        ip_block.is_some(),
    ]);
    if !open_item(out, entries) {
        return;
    }
    let mut keys = Keys::item(dash);
    if let Some(s) = namespace_selector {
        keys.key(out, "namespaceSelector");
        selector(out, dash + 2, s);
    }
    if let Some(s) = pod_selector {
        keys.key(out, "podSelector");
        selector(out, dash + 2, s);
    }
    if let Some(IPBlock { cidr, except }) = ip_block {
        keys.key(out, "ipBlock");
        open_map(out, 1 + usize::from(except.is_some()));
        let mut inner = Keys::under(dash + 2);
        inner.key(out, "cidr");
        scalar(out, dash + 4, cidr);
        if let Some(except) = except {
            inner.key(out, "except");
            strings(out, dash + 4, except);
        }
    }
}

/// A port, as an item whose dash is at `dash`.
fn port(out: &mut String, dash: usize, port: &NetworkPolicyPort) {
    let NetworkPolicyPort {
        end_port,
        port,
        protocol,
    } = port;
    let entries = count(&[protocol.is_some(), port.is_some(), end_port.is_some()]);
    if !open_item(out, entries) {
        return;
    }
    let mut keys = Keys::item(dash);
    if let Some(protocol) = protocol {
        keys.key(out, "protocol");
        scalar(out, dash + 2, protocol);
    }
    match port {
        Some(IntOrString::Int(n)) => {
            keys.key(out, "port");
            integer(out, i64::from(*n));
        }
        Some(IntOrString::String(name)) => {
            keys.key(out, "port");
            scalar(out, dash + 2, name);
        }
        None => {}
    }
    if let Some(end) = end_port {
        keys.key(out, "endPort");
        integer(out, i64::from(*end));
    }
}

/// A label selector after the `key:` of a line indented by `indent`.
fn selector(out: &mut String, indent: usize, s: &LabelSelector) {
    let LabelSelector {
        match_expressions,
        match_labels,
    } = s;
    let entries = count(&[match_labels.is_some(), match_expressions.is_some()]);
    if !open_map(out, entries) {
        return;
    }
    let mut keys = Keys::under(indent);
    if let Some(labels) = match_labels {
        keys.key(out, "matchLabels");
        string_map(out, At::After(indent + 2), labels);
    }
    if let Some(expressions) = match_expressions {
        keys.key(out, "matchExpressions");
        let dash_at = indent + 2;
        open_seq(out, expressions.len());
        for e in expressions {
            dash(out, dash_at);
            // `key`, `operator` and `values` (when there): never empty.
            let mut keys = Keys::item(dash_at);
            keys.key(out, "key");
            scalar(out, dash_at + 2, &e.key);
            keys.key(out, "operator");
            scalar(out, dash_at + 2, &e.operator);
            if let Some(values) = &e.values {
                keys.key(out, "values");
                strings(out, dash_at + 2, values);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every shape of a NetworkPolicy, including the empty ones, multi-line and quoted
    /// strings, is written as the emitter writes its tidied tree.
    #[test]
    fn it_writes_what_the_emitter_writes() {
        use k8s_openapi::api::networking::v1::{NetworkPolicyEgressRule, NetworkPolicyIngressRule};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
        let selector = |labels: &[(&str, &str)], expressions: bool| LabelSelector {
            match_labels: (!labels.is_empty()).then(|| {
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            match_expressions: expressions.then(|| {
                vec![
                    LabelSelectorRequirement {
                        key: "tier".into(),
                        operator: "In".into(),
                        values: Some(vec!["a".into(), "true".into(), "10".into()]),
                    },
                    LabelSelectorRequirement {
                        key: "x".into(),
                        operator: "Exists".into(),
                        values: None,
                    },
                    LabelSelectorRequirement {
                        key: "y".into(),
                        operator: "NotIn".into(),
                        values: Some(Vec::new()),
                    },
                ]
            }),
        };
        let peers = vec![
            NetworkPolicyPeer::default(),
            NetworkPolicyPeer {
                namespace_selector: Some(selector(&[("kubernetes.io/metadata.name", "a")], false)),
                pod_selector: Some(selector(&[("app", "web"), ("on", "yes")], true)),
                ip_block: None,
            },
            NetworkPolicyPeer {
                namespace_selector: Some(LabelSelector::default()),
                ..NetworkPolicyPeer::default()
            },
            NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: "10.0.0.0/8".into(),
                    except: Some(vec!["10.1.0.0/16".into(), "10.2.0.0/16".into()]),
                }),
                ..NetworkPolicyPeer::default()
            },
            NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: "::/0".into(),
                    except: Some(Vec::new()),
                }),
                ..NetworkPolicyPeer::default()
            },
        ];
        let ports = vec![
            NetworkPolicyPort::default(),
            NetworkPolicyPort {
                protocol: Some("TCP".into()),
                port: Some(IntOrString::Int(8080)),
                end_port: Some(8090),
            },
            NetworkPolicyPort {
                protocol: Some("UDP".into()),
                port: Some(IntOrString::String("dns".into())),
                end_port: None,
            },
            NetworkPolicyPort {
                protocol: None,
                port: Some(IntOrString::Int(-1)),
                end_port: Some(0),
            },
        ];
        let annotations = netpolc_ir::yaml::block::sample_annotations();
        let metas = [
            ObjectMeta::default(),
            ObjectMeta {
                name: Some("p".into()),
                namespace: Some("shop".into()),
                labels: Some(BTreeMap::new()),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
        ];
        let specs = [
            None,
            Some(NetworkPolicySpec::default()),
            Some(NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(Vec::new()),
                ingress: Some(Vec::new()),
                egress: Some(Vec::new()),
            }),
            Some(NetworkPolicySpec {
                pod_selector: Some(selector(&[("app", "web")], true)),
                policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
                ingress: Some(vec![
                    NetworkPolicyIngressRule::default(),
                    NetworkPolicyIngressRule {
                        from: Some(peers.clone()),
                        ports: Some(ports.clone()),
                    },
                    NetworkPolicyIngressRule {
                        from: Some(Vec::new()),
                        ports: Some(Vec::new()),
                    },
                ]),
                egress: Some(vec![
                    NetworkPolicyEgressRule {
                        to: Some(peers),
                        ports: None,
                    },
                    NetworkPolicyEgressRule {
                        to: None,
                        ports: Some(ports),
                    },
                ]),
            }),
        ];
        for metadata in &metas {
            for spec in &specs {
                let policy = NetworkPolicy {
                    metadata: metadata.clone(),
                    spec: spec.clone(),
                };
                let want =
                    netpolc_ir::yaml::to_string(&crate::ranked::Ranked(&policy)).expect("written");
                assert_eq!(to_text(&policy).as_deref(), Some(&*want), "{policy:?}");
            }
        }
        // Left to the emitter: metadata netpolc never sets.
        let mut with_uid = NetworkPolicy::default();
        with_uid.metadata.uid = Some("u".into());
        assert_eq!(to_text(&with_uid), None);
        // Lines outside ASCII are written as the emitter writes them.
        let mut accented = NetworkPolicy::default();
        accented.metadata.annotations =
            Some(BTreeMap::from([("a".to_string(), "é\nb".to_string())]));
        let want = netpolc_ir::yaml::to_string(&crate::ranked::Ranked(&accented)).expect("written");
        assert_eq!(to_text(&accented).as_deref(), Some(&*want));
    }
}
