//! Reading a cluster dump (`kubectl get namespaces,pods -A -o yaml`) into a
//! [`ClusterModel`], and choosing the ports and addresses worth probing for a set of
//! existing manifests (`netpolc eval`).

use netpolc_ir::model::{ClusterModel, Pod};
use netpolc_ir::{Protocol, NAMESPACE_NAME_LABEL};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Flattens `List` objects (what `kubectl get -o yaml` prints) into their items.
pub fn flatten(docs: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for d in docs {
        let is_list = d["kind"]
            .as_str()
            .is_some_and(|k| k == "List" || k.ends_with("List"))
            && d["items"].is_array();
        if is_list {
            if let Value::Array(items) = d["items"].clone() {
                out.extend(flatten(items));
            }
        } else if !d.is_null() {
            out.push(d);
        }
    }
    out
}

fn labels_of(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn protocol(s: &str) -> Option<Protocol> {
    match s {
        "TCP" => Some(Protocol::Tcp),
        "UDP" => Some(Protocol::Udp),
        "SCTP" => Some(Protocol::Sctp),
        _ => None,
    }
}

/// Builds a model from a dump's Namespace and Pod objects. Pods without an IP and
/// host-network pods are skipped (they are node traffic to every backend), and so are
/// finished pods.
///
/// # Errors
/// When the dump holds no Pod or a Pod without namespace or name.
pub fn model(objects: &[Value]) -> Result<(ClusterModel, Vec<String>), String> {
    let mut m = ClusterModel::default();
    let mut notes = Vec::new();
    for o in objects.iter().filter(|o| o["kind"] == "Namespace") {
        let name = o["metadata"]["name"]
            .as_str()
            .ok_or("a Namespace without metadata.name")?;
        let mut labels = labels_of(&o["metadata"]["labels"]);
        labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.to_string());
        m.namespaces.insert(name.to_string(), labels);
    }
    for o in objects.iter().filter(|o| o["kind"] == "Pod") {
        let ns = o["metadata"]["namespace"]
            .as_str()
            .ok_or("a Pod without metadata.namespace")?;
        let name = o["metadata"]["name"]
            .as_str()
            .ok_or("a Pod without metadata.name")?;
        if o["spec"]["hostNetwork"] == true {
            notes.push(format!(
                "pod {ns}/{name} uses the host network: skipped (its traffic is node traffic)"
            ));
            continue;
        }
        if matches!(o["status"]["phase"].as_str(), Some("Succeeded" | "Failed")) {
            continue;
        }
        let Some(ip) = o["status"]["podIP"]
            .as_str()
            .and_then(|s| s.parse::<IpAddr>().ok())
        else {
            notes.push(format!("pod {ns}/{name} has no IP: skipped"));
            continue;
        };
        let mut named = BTreeMap::new();
        for c in o["spec"]["containers"].as_array().into_iter().flatten() {
            for p in c["ports"].as_array().into_iter().flatten() {
                if let (Some(n), Some(num)) = (p["name"].as_str(), p["containerPort"].as_u64()) {
                    let proto =
                        protocol(p["protocol"].as_str().unwrap_or("TCP")).unwrap_or(Protocol::Tcp);
                    if let Ok(num) = u16::try_from(num) {
                        named.insert(n.to_string(), (proto, num));
                    }
                }
            }
        }
        m.namespaces.entry(ns.to_string()).or_insert_with(|| {
            BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), ns.to_string())])
        });
        m.pods.push(Pod {
            namespace: ns.to_string(),
            name: name.to_string(),
            labels: labels_of(&o["metadata"]["labels"]),
            ip,
            named_ports: named,
        });
    }
    if m.pods.is_empty() {
        return Err("the cluster dump holds no running pod with an IP (expected `kubectl get namespaces,pods -A -o yaml`)".into());
    }
    m.pods
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok((m, notes))
}

/// Every numeric port the manifests mention (`port`, `endPort`, Calico `"a:b"` ranges),
/// the named ports of the pods, and one unmentioned port, per protocol.
pub fn ports(manifests: &[Value], model: &ClusterModel) -> Vec<(Protocol, u16)> {
    let mut out: BTreeSet<(Protocol, u16)> = BTreeSet::new();
    fn walk(v: &Value, out: &mut BTreeSet<(Protocol, u16)>) {
        match v {
            Value::Object(m) => {
                let proto = m.get("protocol").and_then(Value::as_str).and_then(protocol);
                for key in ["port", "endPort"] {
                    let n = match m.get(key) {
                        Some(Value::Number(n)) => n.as_u64(),
                        Some(Value::String(s)) => s.parse().ok(),
                        _ => None,
                    };
                    if let Some(n) = n.and_then(|n| u16::try_from(n).ok()).filter(|n| *n > 0) {
                        for p in proto
                            .map(|p| vec![p])
                            .unwrap_or_else(|| vec![Protocol::Tcp, Protocol::Udp])
                        {
                            out.insert((p, n));
                        }
                    }
                }
                if let Some(Value::Array(ports)) = m.get("ports") {
                    let p = proto.unwrap_or(Protocol::Tcp);
                    for item in ports {
                        if let Some(s) = item.as_str() {
                            for part in s.split(':') {
                                if let Ok(n) = part.parse::<u16>() {
                                    out.insert((p, n));
                                }
                            }
                        } else if let Some(n) = item.as_u64().and_then(|n| u16::try_from(n).ok()) {
                            out.insert((p, n));
                        }
                    }
                }
                for v in m.values() {
                    walk(v, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    for m in manifests {
        walk(&m["spec"], &mut out);
    }
    for p in &model.pods {
        out.extend(p.named_ports.values().copied());
    }
    for proto in [Protocol::Tcp, Protocol::Udp] {
        let free = (40000u16..)
            .find(|n| !out.contains(&(proto, *n)))
            .unwrap_or(40000);
        out.insert((proto, free));
    }
    out.into_iter().collect()
}

/// Addresses worth probing: the given ones, a public address per family, the cloud
/// metadata addresses, and both ends of every CIDR the manifests mention (outside the
/// pods' own addresses).
pub fn externals(manifests: &[Value], model: &ClusterModel, extra: &[IpAddr]) -> Vec<IpAddr> {
    let mut out: BTreeSet<IpAddr> = extra.iter().copied().collect();
    for s in [
        "8.8.8.8",
        "169.254.169.254",
        "100.100.100.200",
        "2001:4860:4860::8888",
    ] {
        if let Ok(ip) = s.parse() {
            out.insert(ip);
        }
    }
    fn walk(v: &Value, out: &mut BTreeSet<IpAddr>) {
        match v {
            Value::String(s) => {
                if let Ok(n) = s.parse::<ipnet::IpNet>() {
                    out.insert(n.network());
                    out.insert(n.broadcast());
                }
            }
            Value::Object(m) => m.values().for_each(|v| walk(v, out)),
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    for m in manifests {
        walk(&m["spec"], &mut out);
    }
    let pod_ips: BTreeSet<IpAddr> = model.pods.iter().map(|p| p.ip).collect();
    out.into_iter()
        .filter(|ip| !pod_ips.contains(ip) && !ip.is_unspecified())
        .collect()
}
