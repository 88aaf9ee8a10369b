//! Reading `networking.k8s.io/v1` NetworkPolicies into the sides of `import`: per
//! namespace and direction, which pods a policy isolates and the rules that allow, with
//! `ipBlock` read as the source CNI enforces it (Kubernetes and Calico match pod
//! addresses inside the block; Cilium never does).

use super::sel::{Op, Req, Sel};
use super::{Found, Origin, Peer, PortItem, Ports, SideRule, Source};
use crate::Target;
use ipnet::IpNet;
use netpolc_ir::{Direction, Protocol};
use serde_json::Value;

fn selector(v: &Value, path: &str) -> Result<Sel, String> {
    let mut out = Sel::new();
    if v.is_null() {
        return Ok(out);
    }
    let obj = v
        .as_object()
        .ok_or_else(|| format!("{path}: not a label selector"))?;
    for k in obj.keys() {
        if k != "matchLabels" && k != "matchExpressions" {
            return Err(format!("{path}: unknown field `{k}`"));
        }
    }
    if let Some(m) = v["matchLabels"].as_object() {
        for (k, val) in m {
            let val = val
                .as_str()
                .ok_or_else(|| format!("{path}.matchLabels.{k}: not a string"))?;
            out.insert(Req::eq(k, val));
        }
    }
    for (i, e) in v["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let key = e["key"]
            .as_str()
            .ok_or_else(|| format!("{path}.matchExpressions[{i}].key: missing"))?;
        let op = match e["operator"].as_str() {
            Some("In") => Op::In,
            Some("NotIn") => Op::NotIn,
            Some("Exists") => Op::Exists,
            Some("DoesNotExist") => Op::DoesNotExist,
            other => {
                return Err(format!(
                    "{path}.matchExpressions[{i}].operator: `{}` is not In, NotIn, Exists or DoesNotExist",
                    other.unwrap_or("")
                ))
            }
        };
        let values = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        out.insert(Req {
            key: key.into(),
            op,
            values,
        });
    }
    Ok(out)
}

fn net(s: &str, path: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .map_err(|_| format!("{path}: `{s}` is not a CIDR"))
}

fn ports(v: &Value, path: &str) -> Result<Ports, String> {
    let Some(list) = v.as_array().filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let path = format!("{path}[{i}]");
        let protocol = match p["protocol"].as_str().unwrap_or("TCP") {
            "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            "SCTP" => Protocol::Sctp,
            other => return Err(format!("{path}.protocol: unknown protocol `{other}`")),
        };
        let item = match (&p["port"], p["endPort"].as_u64()) {
            (Value::Null, _) => PortItem::All(protocol),
            (Value::String(name), _) => PortItem::Named(protocol, name.clone()),
            (Value::Number(n), end) => {
                let start = n
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| format!("{path}.port: `{n}` is not a port"))?;
                let end = match end {
                    None => start,
                    Some(e) => u16::try_from(e)
                        .ok()
                        .filter(|e| *e >= start)
                        .ok_or_else(|| format!("{path}.endPort: `{e}` is not a port ≥ port"))?,
                };
                PortItem::Range(protocol, start, end)
            }
            _ => return Err(format!("{path}.port: not a number or a name")),
        };
        out.push(item);
    }
    out.sort();
    out.dedup();
    Ok(Some(out))
}

/// The peers of one rule; `ipBlock`s as `source` enforces them.
fn peers(
    list: &Value,
    ns: &str,
    path: &str,
    source: &Source,
    origin: &Origin,
    found: &mut Vec<Found>,
) -> Result<Vec<Peer>, String> {
    let Some(list) = list.as_array().filter(|a| !a.is_empty()) else {
        return Ok(vec![Peer::Anywhere]);
    };
    let mut out = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let path = format!("{path}[{i}]");
        if let Some(block) = p.get("ipBlock").filter(|b| !b.is_null()) {
            if p.get("podSelector").is_some_and(|v| !v.is_null())
                || p.get("namespaceSelector").is_some_and(|v| !v.is_null())
            {
                return Err(format!(
                    "{path}: `ipBlock` cannot be combined with a selector"
                ));
            }
            let cidr = net(
                block["cidr"].as_str().unwrap_or_default(),
                &format!("{path}.ipBlock.cidr"),
            )?;
            let except: Vec<IpNet> = block["except"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(j, e)| {
                    net(
                        e.as_str().unwrap_or_default(),
                        &format!("{path}.ipBlock.except[{j}]"),
                    )
                })
                .collect::<Result<_, _>>()?;
            let rule = origin.at(&path);
            out.extend(super::cidr_peers(cidr, &except, source, &rule, found));
            continue;
        }
        let pod_sel = p.get("podSelector").filter(|v| !v.is_null());
        let ns_sel = p.get("namespaceSelector").filter(|v| !v.is_null());
        if pod_sel.is_none() && ns_sel.is_none() {
            return Err(format!("{path}: a peer needs a selector or an ipBlock"));
        }
        let pods = match pod_sel {
            Some(v) => selector(v, &format!("{path}.podSelector"))?,
            None => Sel::new(),
        };
        let nsp = match ns_sel {
            Some(v) => super::Ns::Labels(selector(v, &format!("{path}.namespaceSelector"))?),
            None => super::Ns::Name(ns.to_string()),
        };
        // Cilium turns a namespace selector into a selector on identity labels without a
        // namespace pin: when every requirement also holds where the labels are absent
        // (`NotIn`, `DoesNotExist`), it matches the identities of addresses outside the
        // cluster too.
        let absent = |s: &Sel| {
            s.iter()
                .all(|r| matches!(r.op, Op::NotIn | Op::DoesNotExist))
        };
        if let super::Ns::Labels(l) = &nsp {
            if source.target == Target::Cilium && !l.is_empty() && absent(l) && absent(&pods) {
                out.push(Peer::World);
            }
        }
        out.push(Peer::Pods { ns: nsp, pods });
    }
    Ok(out)
}

/// What one NetworkPolicy contributes: its isolation per direction and its rules.
pub(crate) struct Read {
    pub(crate) namespace: String,
    pub(crate) subject: Sel,
    pub(crate) ingress: bool,
    pub(crate) egress: bool,
    pub(crate) rules: Vec<SideRule>,
    pub(crate) display: String,
}

/// Reads one `networking.k8s.io/v1` NetworkPolicy.
pub(crate) fn read(o: &Value, source: &Source, found: &mut Vec<Found>) -> Result<Read, String> {
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    let Some(ns) = o["metadata"]["namespace"].as_str() else {
        return Err(format!(
            "NetworkPolicy `{name}`: metadata.namespace is required to import it"
        ));
    };
    let display = format!("NetworkPolicy {ns}/{name}");
    let fail = |e: String| format!("{display}: {e}");
    let spec = &o["spec"];
    if let Some(obj) = spec.as_object() {
        for k in obj.keys() {
            if !["podSelector", "policyTypes", "ingress", "egress"].contains(&k.as_str()) {
                return Err(fail(format!("spec: unknown field `{k}`")));
            }
        }
    }
    let subject = selector(&spec["podSelector"], "spec.podSelector").map_err(fail)?;
    let ingress_rules = spec["ingress"].as_array().cloned().unwrap_or_default();
    let egress_rules = spec["egress"].as_array().cloned().unwrap_or_default();
    let types: Vec<&str> = spec["policyTypes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let (ingress, egress) = if types.is_empty() {
        (true, !egress_rules.is_empty())
    } else {
        (types.contains(&"Ingress"), types.contains(&"Egress"))
    };
    let base = Origin {
        object: display.clone(),
        name: name.to_string(),
        rule: String::new(),
    };
    let mut rules = Vec::new();
    for (direction, list, on, peer_key, field) in [
        (
            Direction::Ingress,
            &ingress_rules,
            ingress,
            "from",
            "ingress",
        ),
        (Direction::Egress, &egress_rules, egress, "to", "egress"),
    ] {
        if !on {
            continue;
        }
        for (i, r) in list.iter().enumerate() {
            let path = format!("spec.{field}[{i}]");
            let origin = base.at(&path);
            let peers = peers(
                &r[peer_key],
                ns,
                &format!("{path}.{peer_key}"),
                source,
                &origin,
                found,
            )
            .map_err(fail)?;
            let ports = ports(&r["ports"], &format!("{path}.ports")).map_err(fail)?;
            for peer in peers {
                rules.push(SideRule {
                    deny: false,
                    namespace: ns.to_string(),
                    direction,
                    subject: subject.clone(),
                    peer,
                    ports: ports.clone(),
                    origin: origin.clone(),
                });
            }
        }
    }
    Ok(Read {
        namespace: ns.to_string(),
        subject,
        ingress,
        egress,
        rules,
        display,
    })
}
