//! Reading a cluster dump (`kubectl get namespaces,pods -A -o yaml`) into a
//! [`ClusterModel`], and choosing the ports and addresses worth probing for a set of
//! existing manifests (`netpolc eval`).

use netpolc_ir::model::{ClusterModel, Pod};
use netpolc_ir::{Protocol, NAMESPACE_NAME_LABEL};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
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

/// Limits for cluster dumps, sized for real clusters (the intent files' limits are far
/// smaller: a dump of 10,000 pods is some 50 MB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpLimits {
    /// Largest dump, in bytes. Default 1 GiB.
    pub max_file_size: usize,
    /// Most objects (after unpacking Lists). Default 1,000,000.
    pub max_objects: usize,
    /// Most pods kept. Default 500,000.
    pub max_pods: usize,
    /// Deepest nesting of nodes. Default 64.
    pub max_depth: usize,
    /// Longest scalar, in bytes. Default 1 MiB (annotations may hold whole manifests).
    pub max_scalar_len: usize,
}

impl Default for DumpLimits {
    fn default() -> Self {
        DumpLimits {
            max_file_size: 1 << 30,
            max_objects: 1_000_000,
            max_pods: 500_000,
            max_depth: 64,
            max_scalar_len: 1 << 20,
        }
    }
}

/// Builds a [`ClusterModel`] one object at a time (see [`model`]).
#[derive(Debug, Default)]
pub struct ModelBuilder {
    model: ClusterModel,
    notes: Vec<String>,
    /// Objects that are neither Namespaces nor Pods, by kind: named in one note each.
    ignored: BTreeMap<String, Vec<String>>,
    /// Calico network sets (`GlobalNetworkSet`, `NetworkSet`): kept for the evaluators.
    network_sets: Vec<Value>,
    /// Pods with more than one address (dual stack).
    dual_stack: usize,
    /// The addresses of pods after their first (dual stack).
    secondary: Vec<IpAddr>,
    objects: usize,
    networks: Networks,
}

/// What a dump says about the cluster's networks, when it holds Nodes and Services
/// (`kubectl get nodes,services,namespaces,pods -A -o yaml`); still named as ignored
/// objects in the notes, since the model has no nodes or services.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Networks {
    /// The Nodes' `spec.podCIDRs` (or `spec.podCIDR`), sorted.
    pub node_pod_cidrs: Vec<ipnet::IpNet>,
    /// The Nodes' `InternalIP` addresses, sorted.
    pub node_addresses: Vec<IpAddr>,
    /// The Services' cluster IPs (`spec.clusterIPs`, `spec.clusterIP`; not `None`), sorted.
    pub service_addresses: Vec<IpAddr>,
}

/// A cluster dump read: the model, notes for the user, and the pods' other addresses.
#[derive(Debug)]
pub struct Dump {
    /// Namespaces and pods (each pod with its first address).
    pub model: ClusterModel,
    /// Skipped pods, ignored objects (by kind), dual-stack pods.
    pub notes: Vec<String>,
    /// The pods' addresses after their first (the other family, on dual-stack clusters).
    pub secondary_addresses: Vec<IpAddr>,
    /// Calico `GlobalNetworkSet`/`NetworkSet` objects of the dump (`projectcalico.org/v3`
    /// or `crd.projectcalico.org/v1`): cluster state that Calico rule selectors match, read
    /// with the manifests.
    pub network_sets: Vec<Value>,
    /// The networks its Nodes and Services show (for `import`).
    pub networks: Networks,
}

/// Whether an object is a Calico network set (either API group).
pub fn is_network_set(o: &Value) -> bool {
    matches!(
        o["apiVersion"].as_str(),
        Some("projectcalico.org/v3" | "crd.projectcalico.org/v1")
    ) && matches!(o["kind"].as_str(), Some("GlobalNetworkSet" | "NetworkSet"))
}

impl ModelBuilder {
    /// Adds one object of a dump (a List is unpacked).
    ///
    /// # Errors
    /// A Namespace or Pod without a name or namespace.
    pub fn add(&mut self, o: Value) -> Result<(), String> {
        for o in flatten(vec![o]) {
            self.objects += 1;
            match o["kind"].as_str() {
                Some("Namespace") => self.namespace(&o)?,
                Some("Pod") => self.pod(&o)?,
                _ if is_network_set(&o) => self.network_sets.push(o),
                kind => {
                    if o["apiVersion"] == "v1" {
                        self.networks.read(&o);
                    }
                    let kind = kind.unwrap_or("(no kind)").to_string();
                    let name = match (
                        o["metadata"]["namespace"].as_str(),
                        o["metadata"]["name"].as_str(),
                    ) {
                        (Some(ns), Some(n)) => format!("{ns}/{n}"),
                        (None, Some(n)) => n.to_string(),
                        _ => "(no name)".to_string(),
                    };
                    self.ignored.entry(kind).or_default().push(name);
                }
            }
        }
        Ok(())
    }

    /// How many objects were added so far (after unpacking Lists).
    pub fn objects(&self) -> usize {
        self.objects
    }

    /// How many pods were kept so far.
    pub fn pods(&self) -> usize {
        self.model.pods.len()
    }

    fn namespace(&mut self, o: &Value) -> Result<(), String> {
        let name = o["metadata"]["name"]
            .as_str()
            .ok_or("a Namespace without metadata.name")?;
        let mut labels = labels_of(&o["metadata"]["labels"]);
        labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.to_string());
        self.model.namespaces.insert(name.to_string(), labels);
        Ok(())
    }

    fn pod(&mut self, o: &Value) -> Result<(), String> {
        let ns = o["metadata"]["namespace"]
            .as_str()
            .ok_or("a Pod without metadata.namespace")?;
        let name = o["metadata"]["name"]
            .as_str()
            .ok_or("a Pod without metadata.name")?;
        if o["spec"]["hostNetwork"] == true {
            self.notes.push(format!(
                "pod {ns}/{name} uses the host network: skipped (its traffic is node traffic)"
            ));
            return Ok(());
        }
        if matches!(o["status"]["phase"].as_str(), Some("Succeeded" | "Failed")) {
            return Ok(());
        }
        // `podIPs` lists every address (dual stack); `podIP` is the first of them.
        let mut ips: Vec<IpAddr> = Vec::new();
        let listed = o["status"]["podIPs"].as_array().into_iter().flatten();
        for s in std::iter::once(&o["status"]["podIP"]).chain(listed.map(|v| &v["ip"])) {
            if let Some(ip) = s.as_str().and_then(|s| s.parse::<IpAddr>().ok()) {
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
        let Some(&ip) = ips.first() else {
            self.notes
                .push(format!("pod {ns}/{name} has no IP: skipped"));
            return Ok(());
        };
        if ips.len() > 1 {
            self.dual_stack += 1;
        }
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
        self.model
            .namespaces
            .entry(ns.to_string())
            .or_insert_with(|| {
                BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), ns.to_string())])
            });
        self.model.pods.push(Pod {
            namespace: ns.to_string(),
            name: name.to_string(),
            labels: labels_of(&o["metadata"]["labels"]),
            ip,
            named_ports: named,
        });
        self.secondary.extend(ips.into_iter().skip(1));
        Ok(())
    }

    /// The model and the notes (skipped pods, ignored objects by kind).
    ///
    /// # Errors
    /// When the dump holds no running pod with an IP.
    pub fn finish(self) -> Result<Dump, String> {
        let ModelBuilder {
            mut model,
            mut notes,
            ignored,
            dual_stack,
            mut secondary,
            network_sets,
            mut networks,
            ..
        } = self;
        networks.node_pod_cidrs.sort();
        networks.node_pod_cidrs.dedup();
        networks.node_addresses.sort();
        networks.node_addresses.dedup();
        networks.service_addresses.sort();
        networks.service_addresses.dedup();
        for (kind, names) in ignored {
            const SHOWN: usize = 5;
            let mut list = names
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if names.len() > SHOWN {
                let _ = write!(list, " and {} more", names.len() - SHOWN);
            }
            notes.push(format!(
                "the cluster dump holds {} {kind} object(s), which are not Namespaces or Pods: ignored ({list})",
                names.len()
            ));
        }
        if dual_stack > 0 {
            notes.push(format!(
                "{dual_stack} pod(s) have several addresses (dual stack): every address is read; flows are shown from and to the first (`podIP`)"
            ));
        }
        if model.pods.is_empty() {
            return Err("the cluster dump holds no running pod with an IP (expected `kubectl get namespaces,pods -A -o yaml`)".into());
        }
        model
            .pods
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        secondary.sort();
        secondary.dedup();
        if !network_sets.is_empty() {
            notes.push(format!(
                "the cluster dump holds {} Calico network set(s): read with the manifests",
                network_sets.len()
            ));
        }
        Ok(Dump {
            model,
            notes,
            secondary_addresses: secondary,
            network_sets,
            networks,
        })
    }
}

impl Networks {
    /// Reads a `v1` Node or Service (other objects are left alone).
    fn read(&mut self, o: &Value) {
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        match o["kind"].as_str() {
            Some("Node") => {
                let mut cidrs = strings(&o["spec"]["podCIDRs"]);
                cidrs.extend(o["spec"]["podCIDR"].as_str().map(str::to_string));
                self.node_pod_cidrs.extend(
                    cidrs
                        .iter()
                        .filter_map(|c| c.parse::<ipnet::IpNet>().ok())
                        .map(|n| n.trunc()),
                );
                for a in o["status"]["addresses"].as_array().into_iter().flatten() {
                    if a["type"] == "InternalIP" {
                        self.node_addresses
                            .extend(a["address"].as_str().and_then(|s| s.parse::<IpAddr>().ok()));
                    }
                }
            }
            Some("Service") => {
                let mut ips = strings(&o["spec"]["clusterIPs"]);
                ips.extend(o["spec"]["clusterIP"].as_str().map(str::to_string));
                self.service_addresses
                    .extend(ips.iter().filter_map(|s| s.parse::<IpAddr>().ok()));
            }
            _ => {}
        }
    }
}

/// Builds a model from a dump's Namespace and Pod objects. Pods without an IP and
/// host-network pods are skipped (they are node traffic to every backend), and so are
/// finished pods; other objects are named in a note.
///
/// # Errors
/// When the dump holds no Pod or a Pod without namespace or name.
pub fn model(objects: &[Value]) -> Result<(ClusterModel, Vec<String>), String> {
    let mut b = ModelBuilder::default();
    for o in objects {
        b.add(o.clone())?;
    }
    b.finish().map(|d| (d.model, d.notes))
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

/// Reads a cluster dump (`kubectl get namespaces,pods -A -o yaml`, or `-o json`, or a
/// stream of documents) one object at a time: the items of a top-level `List` are
/// handed to the model as soon as each is read and then dropped, so memory holds the
/// text, one object and the model, never a tree of the whole dump.
///
/// # Errors
/// A diagnostic (file:line:column, code, hint) for a file over the limits, text that is
/// not YAML, an alias (never written by kubectl), or a Namespace or Pod without a name.
pub fn read(name: &str, bytes: &[u8], limits: &DumpLimits) -> Result<Dump, String> {
    let text = text_of(name, bytes, limits)?;
    let mut builder = ModelBuilder::default();
    let mut sink = |v: Value| -> Result<(), String> {
        builder.add(v)?;
        if builder.objects() > limits.max_objects || builder.pods() > limits.max_pods {
            return Err(format!(
                "more than {} objects or {} pods",
                limits.max_objects, limits.max_pods
            ));
        }
        Ok(())
    };
    stream(name, text, limits, &mut sink)?;
    builder.finish()
}

/// Reads manifests (YAML or JSON, several documents, Lists unpacked) one object at a
/// time, with the dump limits (a cluster's policies can be many thousands).
///
/// # Errors
/// As [`read`].
pub fn read_objects(name: &str, bytes: &[u8], limits: &DumpLimits) -> Result<Vec<Value>, String> {
    let text = text_of(name, bytes, limits)?;
    let mut out = Vec::new();
    let mut sink = |v: Value| -> Result<(), String> {
        out.extend(flatten(vec![v]));
        if out.len() > limits.max_objects {
            return Err(format!("more than {} objects", limits.max_objects));
        }
        Ok(())
    };
    stream(name, text, limits, &mut sink)?;
    Ok(out)
}

fn failure(name: &str, code: &str, msg: String, at: Option<(usize, usize)>, help: &str) -> String {
    let mut s = format!("error[{code}]: {msg}\n  --> {name}");
    if let Some((line, col)) = at {
        let _ = write!(s, ":{line}:{col}");
    }
    let _ = write!(s, "\n  = help: {help}");
    s
}

fn text_of<'a>(name: &str, bytes: &'a [u8], limits: &DumpLimits) -> Result<&'a str, String> {
    use netpolc_intent::yaml::codes;
    if bytes.len() > limits.max_file_size {
        return Err(failure(
            name,
            codes::FILE_TOO_LARGE,
            format!(
                "the file is too large: {} bytes, the limit is {} bytes",
                bytes.len(),
                limits.max_file_size
            ),
            None,
            "split it: dump fewer namespaces at once (`kubectl get namespaces,pods -n NS -o yaml`)",
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        failure(
            name,
            codes::INVALID_UTF8,
            "the file is not valid UTF-8".into(),
            Some((line, 1)),
            "save it as UTF-8",
        )
    })
}

fn stream(
    name: &str,
    text: &str,
    limits: &DumpLimits,
    sink: &mut dyn FnMut(Value) -> Result<(), String>,
) -> Result<(), String> {
    use netpolc_intent::yaml::codes;
    let mut reader = Streamer {
        sink,
        limits,
        stack: Vec::new(),
        root_items: false,
    };
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            failure(
                name,
                codes::SYNTAX,
                format!("not valid YAML: {}", e.info()),
                Some((e.marker().line(), e.marker().col() + 1)),
                "pass the output of `kubectl get ... -o yaml` unchanged",
            )
        })?;
        let at = Some((span.start.line(), span.start.col() + 1));
        reader
            .event(ev)
            .map_err(|(code, msg, help)| failure(name, code, msg, at, help))?;
    }
    Ok(())
}

type StreamError = (&'static str, String, &'static str);

/// A node under construction.
enum Open {
    Seq(Vec<Value>),
    Map(serde_json::Map<String, Value>, Option<String>),
}

struct Streamer<'a> {
    sink: &'a mut dyn FnMut(Value) -> Result<(), String>,
    limits: &'a DumpLimits,
    stack: Vec<Open>,
    /// The open sequence at depth 2 is the `items` of the document's top mapping: its
    /// elements are objects, handed over one by one.
    root_items: bool,
}

impl Streamer<'_> {
    fn event(&mut self, ev: saphyr_parser::Event<'_>) -> Result<(), StreamError> {
        use netpolc_intent::yaml::codes;
        use saphyr_parser::Event;
        match ev {
            Event::Alias(_) => Err((
                codes::UNSUPPORTED,
                "aliases are not read in cluster dumps".into(),
                "kubectl never writes aliases: pass its output unchanged",
            )),
            Event::Scalar(text, style, _, _) => {
                if text.len() > self.limits.max_scalar_len {
                    return Err((
                        codes::SCALAR_TOO_LONG,
                        format!(
                            "a scalar of {} bytes, the limit is {} bytes",
                            text.len(),
                            self.limits.max_scalar_len
                        ),
                        "remove the large annotations from the dump",
                    ));
                }
                let v = if matches!(style, saphyr_parser::ScalarStyle::Plain) {
                    plain(&text)
                } else {
                    Value::String(text.into_owned())
                };
                self.value(v)
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if self.stack.len() >= self.limits.max_depth {
                    return Err((
                        codes::TOO_DEEP,
                        format!("nesting deeper than {}", self.limits.max_depth),
                        "a cluster dump is never this deep: is it the right file?",
                    ));
                }
                let is_items = self.stack.len() == 1
                    && matches!(&self.stack[0], Open::Map(_, Some(k)) if k == "items");
                if matches!(ev, Event::SequenceStart(..)) {
                    self.root_items |= is_items;
                    self.stack.push(Open::Seq(Vec::new()));
                } else {
                    self.stack.push(Open::Map(serde_json::Map::new(), None));
                }
                Ok(())
            }
            Event::SequenceEnd => {
                let Some(Open::Seq(items)) = self.stack.pop() else {
                    return Ok(());
                };
                if self.stack.len() == 1 && self.root_items {
                    self.root_items = false;
                    // The items were handed over already: leave an empty list.
                    return self.value(Value::Array(Vec::new()));
                }
                self.value(Value::Array(items))
            }
            Event::MappingEnd => {
                let Some(Open::Map(m, _)) = self.stack.pop() else {
                    return Ok(());
                };
                self.value(Value::Object(m))
            }
            Event::DocumentEnd => {
                self.stack.clear();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A complete node: hand it over (a document, or an item of the top `items`), or
    /// store it in its parent.
    fn value(&mut self, v: Value) -> Result<(), StreamError> {
        let depth = self.stack.len();
        if depth == 0 || (depth == 2 && self.root_items) {
            if v.is_null() || v.as_array().is_some_and(Vec::is_empty) {
                return Ok(());
            }
            if depth == 0
                && v["items"].is_array()
                && !v["items"].as_array().is_some_and(Vec::is_empty)
            {
                // A List read whole (its items were not at the top: e.g. JSON).
            } else if depth == 0 && v["kind"].as_str().is_some_and(|k| k.ends_with("List")) {
                return Ok(());
            }
            (self.sink)(v).map_err(|e| {
                (
                    netpolc_intent::yaml::codes::INVALID_DOCUMENT,
                    e,
                    "pass the output of `kubectl get namespaces,pods -A -o yaml` (every Namespace and Pod has metadata.name, every Pod metadata.namespace)",
                )
            })?;
            return Ok(());
        }
        match self.stack.last_mut() {
            Some(Open::Seq(items)) => items.push(v),
            Some(Open::Map(m, key)) => match key.take() {
                None => {
                    *key = Some(match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    });
                }
                Some(k) => {
                    m.insert(k, v);
                }
            },
            None => {}
        }
        Ok(())
    }
}

/// A plain scalar, resolved the way the YAML core schema does for what dumps hold.
fn plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => {
            let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(n) = text.parse::<i64>() {
                    return Value::from(n);
                }
            }
            Value::String(text.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POD_V6_ONLY: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: n}\nstatus:\n  podIPs:\n  - ip: fd00::1\n  - ip: 10.0.0.1\n";

    #[test]
    fn reads_pod_ips_without_pod_ip_and_keeps_the_other_family() {
        let d = read("d", POD_V6_ONLY.as_bytes(), &DumpLimits::default()).unwrap();
        assert_eq!(d.model.pods[0].ip, "fd00::1".parse::<IpAddr>().unwrap());
        assert_eq!(
            d.secondary_addresses,
            vec!["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert!(d.notes.iter().any(|n| n.contains("dual stack")));
    }

    #[test]
    fn lists_documents_and_json_read_alike() {
        let list = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a, namespace: n, labels: {app: x}}\n  status: {podIP: 10.0.0.1}\n- {apiVersion: v1, kind: Namespace, metadata: {name: n, labels: {t: 'y'}}}\nkind: List\n";
        let docs = "apiVersion: v1\nkind: Namespace\nmetadata: {name: n, labels: {t: 'y'}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: n, labels: {app: x}}\nstatus: {podIP: 10.0.0.1}\n";
        let json = r#"{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "n", "labels": {"app": "x"}}, "status": {"podIP": "10.0.0.1"}}, {"kind": "Namespace", "metadata": {"name": "n", "labels": {"t": "y"}}}]}"#;
        let models: Vec<ClusterModel> = [list, docs, json]
            .iter()
            .map(|t| {
                read("d", t.as_bytes(), &DumpLimits::default())
                    .unwrap()
                    .model
            })
            .collect();
        assert_eq!(models[0], models[1]);
        assert_eq!(models[0], models[2]);
        assert_eq!(models[0].namespaces["n"]["t"], "y");
        assert_eq!(models[0].pods[0].labels["app"], "x");
    }

    #[test]
    fn limits_and_aliases_are_diagnostics() {
        let small = DumpLimits {
            max_file_size: 10,
            ..DumpLimits::default()
        };
        let e = read("d", POD_V6_ONLY.as_bytes(), &small).unwrap_err();
        assert!(e.contains("NP1001") && e.contains("help:"), "{e}");
        let alias = "a: &x 1\nb: *x\n";
        let e = read("d", alias.as_bytes(), &DumpLimits::default()).unwrap_err();
        assert!(e.contains("NP1008") && e.contains("d:2:"), "{e}");
    }
}
