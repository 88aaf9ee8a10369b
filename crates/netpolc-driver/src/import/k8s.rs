//! Reading `networking.k8s.io/v1` NetworkPolicies into the sides of `import`: per
//! namespace and direction, which pods a policy isolates and the rules that allow, with
//! `ipBlock` read as the source CNI enforces it (Kubernetes and Calico match pod
//! addresses inside the block; Cilium never does).

use super::sel::{Op, Req, Sel};
use super::{codes, Bad, Found, Origin, Peer, PortItem, Ports, SideRule, Source};
use crate::manifests::FieldPath;
use crate::Target;
use ipnet::IpNet;
use netpolc_ir::{Direction, Protocol};
use serde_json::{Map, Value};

type R<T> = Result<T, Bad>;

/// `a string`, `a mapping`, ... for messages.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

/// A field of the wrong type.
pub(crate) fn wrong_type(path: &FieldPath, expected: &str, v: &Value) -> Bad {
    Bad::new(
        codes::BAD_FIELD,
        path,
        format!("expected {expected}, found {}", kind_of(v)),
        format!("expected {expected}"),
        "write the field as the NetworkPolicy schema says (`kubectl explain networkpolicy.spec`)",
    )
}

/// A mapping (null: none) whose keys are all in `allowed`.
pub(crate) fn mapping<'a>(
    v: &'a Value,
    path: &FieldPath,
    allowed: &[&'static str],
) -> R<Option<&'a Map<String, Value>>> {
    let m = match v {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        other => return Err(wrong_type(path, "a mapping", other)),
    };
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            let help = match netpolc_intent::yaml::suggest(k, allowed) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "the fields here are {}",
                    allowed
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(Bad::new(
                codes::BAD_FIELD,
                &path.key(k),
                format!("unknown field `{k}`"),
                "unknown field",
                help,
            )
            .at_key());
        }
    }
    Ok(Some(m))
}

/// A sequence (null: empty).
pub(crate) fn sequence<'a>(v: &'a Value, path: &FieldPath) -> R<&'a [Value]> {
    match v {
        Value::Null => Ok(&[]),
        Value::Array(a) => Ok(a),
        other => Err(wrong_type(path, "a sequence", other)),
    }
}

/// A string.
pub(crate) fn string<'a>(v: &'a Value, path: &FieldPath) -> R<&'a str> {
    v.as_str().ok_or_else(|| wrong_type(path, "a string", v))
}

fn selector(v: &Value, path: &FieldPath) -> R<Sel> {
    let mut out = Sel::new();
    let Some(m) = mapping(v, path, &["matchLabels", "matchExpressions"])? else {
        return Ok(out);
    };
    let null = Value::Null;
    let labels = path.key("matchLabels");
    match m.get("matchLabels").unwrap_or(&null) {
        Value::Null => {}
        Value::Object(ls) => {
            for (k, val) in ls {
                let val = string(val, &labels.key(k))?;
                out.insert(Req::is_in(k, [val]));
            }
        }
        other => return Err(wrong_type(&labels, "a mapping", other)),
    }
    let exprs = path.key("matchExpressions");
    for (i, e) in sequence(m.get("matchExpressions").unwrap_or(&null), &exprs)?
        .iter()
        .enumerate()
    {
        let p = exprs.index(i);
        let Some(e) = mapping(e, &p, &["key", "operator", "values"])? else {
            return Err(wrong_type(&p, "a mapping", e));
        };
        let key = match e.get("key") {
            Some(k) => string(k, &p.key("key"))?,
            None => {
                return Err(Bad::new(
                    codes::BAD_SELECTOR,
                    &p,
                    "a requirement without a `key`",
                    "needs a `key`",
                    "write `{key: app, operator: In, values: [web]}`",
                ))
            }
        };
        let op_path = p.key("operator");
        let op = match e.get("operator").map(Value::as_str) {
            Some(Some("In")) => Op::In,
            Some(Some("NotIn")) => Op::NotIn,
            Some(Some("Exists")) => Op::Exists,
            Some(Some("DoesNotExist")) => Op::DoesNotExist,
            other => {
                let shown = match other {
                    Some(Some(s)) => format!("`{s}` is not a selector operator"),
                    Some(None) => "the operator is not a string".into(),
                    None => "a requirement without an `operator`".into(),
                };
                return Err(Bad::new(
                    codes::BAD_SELECTOR,
                    if other.is_some() { &op_path } else { &p },
                    shown,
                    "expected In, NotIn, Exists or DoesNotExist",
                    "write `operator: In`, `NotIn`, `Exists` or `DoesNotExist` (case matters)",
                ));
            }
        };
        let vp = p.key("values");
        let mut values = netpolc_ir::sorted::SortedSet::new();
        for (j, v) in sequence(e.get("values").unwrap_or(&null), &vp)?
            .iter()
            .enumerate()
        {
            values.insert(string(v, &vp.index(j))?.to_string());
        }
        match op {
            Op::In | Op::NotIn if values.is_empty() => {
                return Err(Bad::new(
                    codes::BAD_SELECTOR,
                    &p,
                    format!(
                        "`{}` needs at least one value",
                        if op == Op::In { "In" } else { "NotIn" }
                    ),
                    "no `values`",
                    "list the values, e.g. `values: [web]` (Kubernetes rejects an empty list)",
                ))
            }
            Op::Exists | Op::DoesNotExist if !values.is_empty() => {
                return Err(Bad::new(
                    codes::BAD_SELECTOR,
                    &vp,
                    "`Exists` and `DoesNotExist` take no values",
                    "values here",
                    "remove `values` (Kubernetes rejects them with these operators)",
                ))
            }
            _ => {}
        }
        out.insert(Req {
            key: key.into(),
            op,
            values,
        });
    }
    Ok(out)
}

fn net(v: &Value, path: &FieldPath) -> R<IpNet> {
    let s = string(v, path)?;
    s.parse::<IpNet>()
        .map_err(|_| {
            Bad::new(
                codes::BAD_CIDR,
                path,
                format!("`{s}` is not a CIDR"),
                "not a CIDR",
                "write an address block with its prefix length, e.g. `203.0.113.0/24` or `2001:db8::/32`",
            )
        })
        .and_then(|n| super::not_mapped(n, s, path))
}

fn ports(v: &Value, path: &FieldPath) -> R<Ports> {
    let list = sequence(v, path)?;
    if list.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let path = path.index(i);
        let Some(m) = mapping(p, &path, &["protocol", "port", "endPort"])? else {
            return Err(wrong_type(&path, "a mapping", p));
        };
        let null = Value::Null;
        let protocol = match m.get("protocol") {
            None | Some(Value::Null) => Protocol::Tcp,
            Some(v) => match string(v, &path.key("protocol"))? {
                "TCP" => Protocol::Tcp,
                "UDP" => Protocol::Udp,
                "SCTP" => Protocol::Sctp,
                other => {
                    return Err(Bad::new(
                        codes::BAD_PORT,
                        &path.key("protocol"),
                        format!("unknown protocol `{other}`"),
                        "expected TCP, UDP or SCTP",
                        "write `TCP`, `UDP` or `SCTP` (upper case)",
                    ))
                }
            },
        };
        let bad_port = |p: &FieldPath, msg: String| {
            Bad::new(
                codes::BAD_PORT,
                p,
                msg,
                "not a port",
                "write a number from 1 to 65535, or the name of a container port (`http`)",
            )
        };
        let end = m.get("endPort").unwrap_or(&null);
        let item = match (m.get("port").unwrap_or(&null), end) {
            (Value::Null, Value::Null) => PortItem::All(protocol),
            (Value::Null, _) => {
                return Err(bad_port(
                    &path.key("endPort"),
                    "`endPort` without `port`".into(),
                ))
            }
            (Value::String(name), e) => {
                if !e.is_null() {
                    return Err(bad_port(
                        &path.key("endPort"),
                        "`endPort` with a named port".into(),
                    ));
                }
                if name.is_empty() || name.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad_port(
                        &path.key("port"),
                        format!("`\"{name}\"` is not a port name"),
                    ));
                }
                PortItem::Named(protocol, name.clone())
            }
            (Value::Number(n), e) => {
                let start = n
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| bad_port(&path.key("port"), format!("`{n}` is not a port")))?;
                let end = match e {
                    Value::Null => start,
                    Value::Number(e) => e
                        .as_u64()
                        .and_then(|e| u16::try_from(e).ok())
                        .filter(|e| *e >= start)
                        .ok_or_else(|| {
                            bad_port(
                                &path.key("endPort"),
                                format!("`{e}` is not a port from `port` ({start}) to 65535"),
                            )
                        })?,
                    other => return Err(wrong_type(&path.key("endPort"), "a number", other)),
                };
                PortItem::Range(protocol, start, end)
            }
            (other, _) => return Err(wrong_type(&path.key("port"), "a number or a name", other)),
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
    path: &FieldPath,
    source: &Source,
    origin: &Origin,
    found: &mut Vec<Found>,
) -> R<Vec<Peer>> {
    let list = sequence(list, path)?;
    if list.is_empty() {
        return Ok(vec![Peer::Anywhere]);
    }
    let null = Value::Null;
    let mut out = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let path = path.index(i);
        let Some(m) = mapping(p, &path, &["podSelector", "namespaceSelector", "ipBlock"])? else {
            return Err(wrong_type(&path, "a mapping", p));
        };
        let pod_sel = m.get("podSelector").filter(|v| !v.is_null());
        let ns_sel = m.get("namespaceSelector").filter(|v| !v.is_null());
        if let Some(block) = m.get("ipBlock").filter(|b| !b.is_null()) {
            if pod_sel.is_some() || ns_sel.is_some() {
                return Err(Bad::new(
                    codes::BAD_FIELD,
                    &path.key("ipBlock"),
                    "`ipBlock` cannot be combined with a selector",
                    "with a selector in the same peer",
                    "write the `ipBlock` and the selectors as two items of the list (`- ipBlock: ...` and `- podSelector: ...`)",
                )
                .at_key());
            }
            let bp = path.key("ipBlock");
            let Some(b) = mapping(block, &bp, &["cidr", "except"])? else {
                return Err(wrong_type(&bp, "a mapping", block));
            };
            let Some(c) = b.get("cidr") else {
                return Err(Bad::new(
                    codes::BAD_CIDR,
                    &bp,
                    "an `ipBlock` without `cidr`",
                    "needs a `cidr`",
                    "write `ipBlock: {cidr: 203.0.113.0/24}`",
                ));
            };
            let cidr = net(c, &bp.key("cidr"))?;
            let ep = bp.key("except");
            let mut except = Vec::new();
            for (j, e) in sequence(b.get("except").unwrap_or(&null), &ep)?
                .iter()
                .enumerate()
            {
                let e_net = net(e, &ep.index(j))?;
                if !cidr.contains(&e_net) || e_net == cidr {
                    return Err(Bad::new(
                        codes::BAD_CIDR,
                        &ep.index(j),
                        format!("`{e_net}` is not strictly inside `{cidr}`"),
                        "outside the block",
                        "list only blocks inside `cidr` (Kubernetes rejects the others)",
                    ));
                }
                except.push(e_net);
            }
            let rule = origin.at(&path.to_string());
            out.extend(super::cidr_peers(cidr, &except, source, &rule, found));
            continue;
        }
        if pod_sel.is_none() && ns_sel.is_none() {
            return Err(Bad::new(
                codes::BAD_FIELD,
                &path,
                "a peer needs a selector or an `ipBlock`",
                "an empty peer",
                "write `podSelector: {}` for every pod of the namespace, or remove the peer",
            ));
        }
        let pods = match pod_sel {
            Some(v) => selector(v, &path.key("podSelector"))?,
            None => Sel::new(),
        };
        let nsp = match ns_sel {
            Some(v) => super::Ns::Labels(selector(v, &path.key("namespaceSelector"))?),
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
pub(crate) fn read(o: &Value, index: usize, source: &Source, found: &mut Vec<Found>) -> R<Read> {
    let root = FieldPath::root();
    let meta = root.key("metadata");
    if !o["metadata"].is_object() {
        return Err(wrong_type(&meta, "a mapping", &o["metadata"]));
    }
    let name = match o["metadata"].get("name") {
        Some(n) => string(n, &meta.key("name"))?,
        None => {
            return Err(Bad::new(
                codes::BAD_FIELD,
                &meta,
                "`metadata.name` is required",
                "needs a `name`",
                "name the object: `metadata: {name: ..., namespace: ...}`",
            ))
        }
    };
    let ns = match o["metadata"].get("namespace") {
        Some(n) => string(n, &meta.key("namespace"))?,
        None => return Err(Bad::new(
            codes::BAD_FIELD,
            &meta,
            "`metadata.namespace` is required to import it",
            "needs a `namespace`",
            "add `namespace:` to the metadata (`kubectl get networkpolicies -A -o yaml` writes it)",
        )),
    };
    let display = format!("NetworkPolicy {ns}/{name}");
    let sp = root.key("spec");
    let null = Value::Null;
    let spec = mapping(
        &o["spec"],
        &sp,
        &["podSelector", "policyTypes", "ingress", "egress"],
    )?;
    let get = |k: &str| spec.and_then(|m| m.get(k)).unwrap_or(&null);
    let subject = selector(get("podSelector"), &sp.key("podSelector"))?;
    let ingress_rules = sequence(get("ingress"), &sp.key("ingress"))?;
    let egress_rules = sequence(get("egress"), &sp.key("egress"))?;
    let tp = sp.key("policyTypes");
    let mut types = Vec::new();
    for (i, t) in sequence(get("policyTypes"), &tp)?.iter().enumerate() {
        match string(t, &tp.index(i))? {
            t @ ("Ingress" | "Egress") => types.push(t),
            other => {
                return Err(Bad::new(
                    codes::BAD_FIELD,
                    &tp.index(i),
                    format!("`{other}` is not a policy type"),
                    "expected Ingress or Egress",
                    "write `Ingress` or `Egress` (case matters)",
                ))
            }
        }
    }
    let (ingress, egress) = if types.is_empty() {
        (true, !egress_rules.is_empty())
    } else {
        (types.contains(&"Ingress"), types.contains(&"Egress"))
    };
    let base = Origin {
        object: display.clone(),
        name: name.to_string(),
        rule: String::new(),
        index: Some(index),
    };
    let mut rules = Vec::new();
    for (direction, list, on, peer_key, field) in [
        (
            Direction::Ingress,
            ingress_rules,
            ingress,
            "from",
            "ingress",
        ),
        (Direction::Egress, egress_rules, egress, "to", "egress"),
    ] {
        for (i, r) in list.iter().enumerate() {
            let path = sp.key(field).index(i);
            // Checked even when the direction is not isolated: bad input is bad input.
            let Some(m) = mapping(r, &path, &[peer_key, "ports"])? else {
                return Err(wrong_type(&path, "a mapping", r));
            };
            let origin = base.at(&path.to_string());
            // A direction the policy does not isolate is checked, not imported.
            let mut unused = Vec::new();
            let peers = peers(
                m.get(peer_key).unwrap_or(&null),
                ns,
                &path.key(peer_key),
                source,
                &origin,
                if on { &mut *found } else { &mut unused },
            )?;
            let ports = ports(m.get("ports").unwrap_or(&null), &path.key("ports"))?;
            if !on {
                continue;
            }
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
