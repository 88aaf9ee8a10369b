//! Deriving a [`ClusterModel`] from a [`Program`]: the smallest cluster on which every
//! distinction the intents can make shows up.
//!
//! - **Namespaces**: every managed namespace; every namespace the ClusterProfile declares
//!   (`spec.namespaces`, with its labels); every namespace a peer names; for every
//!   namespace label selector that no known namespace satisfies, a synthetic namespace
//!   that does; and one unlabelled, unmanaged namespace.
//! - **Pods**: per namespace, one pod per class of label sets the program's pod selectors
//!   tell apart (two label sets are in one class when every selector agrees on them),
//!   drawn from candidates built from the selectors' keys and values (each value, another
//!   value, absent), plus an unlabelled pod. Every pod carries every named port.
//! - **External addresses**: both ends of every CIDR and of every hole, the addresses
//!   just outside them, the metadata addresses, one public address per family, and the
//!   API server's addresses; none inside the cluster networks.
//! - **Nodes**: one address per node network of the profile ([`node_address`]), a remote
//!   node (also listed in `externals`).
//! - **Ports**: every mentioned port and range end, their neighbours, the named ports'
//!   numbers, and one unmentioned port per protocol.
//!
//! Cost: pods grow with namespaces × classes (bounded by [`MAX_CLASSES`] per namespace),
//! flows with pods² × ports; see ARCHITECTURE.md.

use crate::model::{ClusterModel, Pod};
use crate::{
    LabelSelector, Op, Peer, PortSpec, Ports, Program, Protocol, Rule, NAMESPACE_NAME_LABEL,
};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// At most this many pod classes per namespace (candidates are cut beyond it).
pub const MAX_CLASSES: usize = 64;

/// Builds the model of a program.
pub fn derive(program: &Program) -> ClusterModel {
    derive_with_rules(program, &program.rules)
}

/// Builds the model of `program` with `rules` read in place of its own rules (in any
/// order): the model of two versions of a program at once (`netpolc diff`) without
/// copying their rules into one program.
pub fn derive_with_rules<'r>(
    program: &Program,
    rules: impl IntoIterator<Item = &'r Rule>,
) -> ClusterModel {
    let mut model = ClusterModel::default();

    // Selectors that tell pods and namespaces apart.
    let mut pod_selectors: BTreeSet<LabelSelector> = BTreeSet::new();
    let mut ns_selectors: BTreeSet<LabelSelector> = BTreeSet::new();
    let mut named_ports: BTreeSet<(String, Protocol)> = BTreeSet::new();
    let mut ports: BTreeSet<(Protocol, u16)> = BTreeSet::new();
    let mut cidrs: Vec<IpNet> = Vec::new();
    // Many rules share selectors, and most share one copy (the selectors of a group are
    // clones of one): each copy is looked up in the sets once, by its address (a hash of
    // a number), instead of being compared with the set's selectors field by field for
    // every rule; each distinct selector is copied once.
    let mut pod_copies = SharedCopies::default();
    let mut ns_copies = SharedCopies::default();
    let mut port_copies = SharedCopies::default();
    let add = |set: &mut BTreeSet<LabelSelector>, copies: &mut SharedCopies, s: &LabelSelector| {
        if copies.first(s.shared_address()) && !set.contains(s) {
            set.insert(s.clone());
        }
    };
    for r in rules {
        add(&mut pod_selectors, &mut pod_copies, &r.subject.pods);
        match &r.peer {
            Peer::Pods { namespaces, pods } => {
                add(&mut pod_selectors, &mut pod_copies, pods);
                add(&mut ns_selectors, &mut ns_copies, namespaces);
            }
            Peer::Cidr(b) => {
                cidrs.push(b.net);
                cidrs.extend(b.except.iter().copied());
            }
            _ => {}
        }
        match &r.ports {
            // The rules of one intent share one copy of its ports: read once.
            Ports::Only(set) if port_copies.first(std::sync::Arc::as_ptr(set).addr()) => {
                for p in set.iter() {
                    match &p.port {
                        PortSpec::Range { start, end } => {
                            for n in [start.saturating_sub(1), *start, *end, end.saturating_add(1)]
                            {
                                if n >= 1 {
                                    ports.insert((p.protocol, n));
                                }
                            }
                        }
                        PortSpec::All => {
                            ports.insert((p.protocol, 1));
                            ports.insert((p.protocol, 65535));
                        }
                        PortSpec::Named(n) => {
                            named_ports.insert((n.clone(), p.protocol));
                        }
                        PortSpec::Icmp { .. } => {}
                    }
                }
            }
            _ => {}
        }
    }
    for t in &program.tests {
        for c in &t.cases {
            if let PortSpec::Range { start, .. } = c.port.port {
                ports.insert((c.port.protocol, start));
            }
        }
    }
    // One unmentioned port per protocol in use (TCP and UDP always).
    let mut protocols: BTreeSet<Protocol> = ports.iter().map(|(p, _)| *p).collect();
    protocols.extend([Protocol::Tcp, Protocol::Udp]);
    for p in &protocols {
        if p.has_ports() {
            let free = (40000u16..)
                .find(|n| !ports.contains(&(*p, *n)))
                .unwrap_or(40000);
            ports.insert((*p, free));
        }
    }
    // Named ports get distinct numbers nobody mentions.
    let mut named_map: BTreeMap<String, (Protocol, u16)> = BTreeMap::new();
    let mut next = 20000u16;
    for (name, proto) in &named_ports {
        while ports.iter().any(|(_, n)| *n == next) {
            next += 1;
        }
        named_map.entry(name.clone()).or_insert((*proto, next));
        ports.insert((*proto, next));
        next += 1;
    }
    model.ports = ports.into_iter().filter(|(p, _)| p.has_ports()).collect();

    // Namespaces.
    let mut namespaces: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for n in program.namespaces.values() {
        namespaces.insert(n.name.clone(), n.labels.clone());
    }
    // Namespaces without an IntentSet whose labels the ClusterProfile declares.
    for (name, labels) in &program.profile.unmanaged_namespaces {
        let mut labels = labels.clone();
        labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.clone());
        namespaces.entry(name.clone()).or_insert(labels);
    }
    for sel in &ns_selectors {
        for r in sel.requirements() {
            if r.key == NAMESPACE_NAME_LABEL && r.op == Op::In {
                for v in &r.values {
                    namespaces.entry(v.clone()).or_insert_with(|| {
                        BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), v.clone())])
                    });
                }
            }
        }
    }
    namespaces
        .entry(program.profile.dns_namespace.clone())
        .or_insert_with(|| {
            BTreeMap::from([(
                NAMESPACE_NAME_LABEL.to_string(),
                program.profile.dns_namespace.clone(),
            )])
        });
    let mut synthetic = 0;
    for sel in &ns_selectors {
        // A selector naming one namespace can match only that one: no scan of every
        // namespace per selector (a peer in the next namespace, in each namespace).
        let met = match Peer::single_namespace(sel) {
            Some(name) => namespaces.get(name).is_some_and(|l| sel.matches(l)),
            None => namespaces.values().any(|l| sel.matches(l)),
        };
        if met {
            continue;
        }
        synthetic += 1;
        let name = format!("model-ns-{synthetic}");
        let mut labels = representative(sel);
        labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.clone());
        if sel.matches(&labels) {
            namespaces.insert(name, labels);
        }
    }
    namespaces.insert(
        "model-other".to_string(),
        BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), "model-other".to_string())]),
    );

    // Pods: candidates from keys and values, one per class.
    pod_selectors.insert(program.profile.dns_pods.clone());
    let candidates = candidates(&pod_selectors);
    let selectors: Vec<&LabelSelector> = pod_selectors.iter().collect();
    let mut ip_index: u32 = 0;
    let base = program
        .profile
        .pod_cidrs
        .iter()
        .find_map(|n| match n {
            IpNet::V4(v4) => Some(u32::from(v4.network())),
            IpNet::V6(_) => None,
        })
        .unwrap_or(u32::from(Ipv4Addr::new(10, 244, 0, 0)));
    // One representative per class, the same in every namespace: computed once.
    let mut seen: BTreeSet<Vec<bool>> = BTreeSet::new();
    let mut classes: Vec<&BTreeMap<String, String>> = Vec::new();
    for labels in &candidates {
        let signature: Vec<bool> = selectors.iter().map(|s| s.matches(labels)).collect();
        if !seen.insert(signature) {
            continue;
        }
        if classes.len() == MAX_CLASSES {
            break;
        }
        classes.push(labels);
    }
    let names: Vec<String> = classes.iter().map(|labels| pod_name(labels)).collect();
    for ns in namespaces.keys() {
        for (labels, name) in classes.iter().copied().zip(&names) {
            ip_index += 1;
            model.pods.push(Pod {
                namespace: ns.clone(),
                name: name.clone(),
                labels: labels.clone(),
                ip: IpAddr::V4(Ipv4Addr::from(base.wrapping_add(ip_index + 1))),
                named_ports: named_map.clone(),
            });
        }
    }
    model.namespaces = namespaces;

    // External addresses.
    let cluster = program.profile.cluster_cidrs();
    let mut ext: BTreeSet<IpAddr> = BTreeSet::new();
    ext.insert(IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)));
    ext.insert(IpAddr::V6(Ipv6Addr::new(
        0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888,
    )));
    for m in ["169.254.169.254", "100.100.100.200"] {
        if let Ok(ip) = m.parse() {
            ext.insert(ip);
        }
    }
    let mut api = Vec::new();
    for n in &program.profile.api_server_cidrs {
        api.push(n.network());
        ext.insert(n.network());
    }
    // Many rules name the same blocks (every `world`): each is looked at once.
    cidrs.sort_unstable();
    cidrs.dedup();
    for n in &cidrs {
        for ip in [n.network(), n.broadcast()] {
            ext.insert(ip);
        }
        if let Some(ip) = step(n.network(), -1) {
            ext.insert(ip);
        }
        if let Some(ip) = step(n.broadcast(), 1) {
            ext.insert(ip);
        }
    }
    let mut externals: Vec<IpAddr> = ext
        .into_iter()
        .filter(|ip| !cluster.iter().any(|c| c.contains(ip)) && !ip.is_unspecified())
        .collect();
    // One address per node network: every rule treats a node network as a whole (address
    // peers never overlap it), so one node stands for all.
    let mut nodes: Vec<IpAddr> = program
        .profile
        .node_cidrs
        .iter()
        .map(|n| node_address(*n))
        .filter(|ip| {
            !program
                .profile
                .api_server_cidrs
                .iter()
                .any(|a| a.contains(ip))
        })
        .collect();
    nodes.sort();
    nodes.dedup();
    externals.extend(nodes.iter().copied());
    externals.sort();
    externals.dedup();
    model.externals = externals;
    model.nodes = nodes;
    api.sort();
    api.dedup();
    model.api_server = api;
    model
}

/// The shared copies of selectors (by [`LabelSelector::shared_address`]) or port lists
/// met so far. They are borrowed from the rules for the whole derivation, so an address is
/// not reused by another copy meanwhile.
#[derive(Default)]
struct SharedCopies {
    /// The last copy met: rules in order meet the same copy many times in a row.
    last: Option<usize>,
    met: HashSet<usize, BuildHasherDefault<WordHasher>>,
}

impl SharedCopies {
    /// Whether the copy at `address` is met for the first time.
    fn first(&mut self, address: usize) -> bool {
        if self.last == Some(address) {
            return false;
        }
        self.last = Some(address);
        self.met.insert(address)
    }
}

/// A hasher of keys of a few machine words made by netpolc, not by an adversary
/// (addresses, numbers): a multiplication per word, far cheaper than the default hasher
/// for a key looked up three times per rule here, for every side of every intent in the
/// lowering, and for the proof's keys of pod classes (vectors of numbers, hashed as
/// their bytes, eight at a time). Texts the policies write are hashed from a random seed
/// ([`SeededWords`]): colliding keys are easy to make for the unseeded hasher. Never
/// iterated: no output depends on its order.
#[derive(Debug, Default)]
pub struct WordHasher(u64);

/// A map hashed with [`WordHasher`] (keys netpolc makes of numbers), never iterated.
pub type Words<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<WordHasher>>;

/// [`WordHasher`]s started from a seed drawn for each map (from the default hasher's
/// random keys): for texts and labels the policies write, which cannot be chosen to
/// collide in advance, at a multiplication per eight bytes. Never iterated.
#[derive(Clone, Debug)]
pub struct SeededWords(u64);

impl SeededWords {
    /// A new seed.
    pub fn new() -> SeededWords {
        SeededWords(std::collections::hash_map::RandomState::new().hash_one(0u8))
    }
}

impl Default for SeededWords {
    fn default() -> Self {
        SeededWords::new()
    }
}

impl BuildHasher for SeededWords {
    type Hasher = WordHasher;

    fn build_hasher(&self) -> WordHasher {
        WordHasher(self.0)
    }
}

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // A word per eight bytes (a slice of numbers, as the proof's keys, is hashed as
        // its bytes), the last few padded with zeros and their count: equal bytes hash
        // alike, and a short tail differs from a longer one.
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.write_u64(w.try_into().map_or(0, u64::from_le_bytes));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let mut last = [0u8; 8];
            last[..tail.len()].copy_from_slice(tail);
            last[7] = u8::try_from(tail.len()).unwrap_or(0);
            self.write_u64(u64::from_le_bytes(last));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: the product's high bits mix every bit of the address (whose
        // low bits alignment leaves at zero); rotated down, they are the low bits the
        // table indexes by.
        self.0 = (self.0 ^ n)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(26);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// The address standing for the nodes of a node network: its first host address.
pub fn node_address(net: IpNet) -> IpAddr {
    if net.prefix_len() + 1 < net.max_prefix_len() {
        step(net.network(), 1).unwrap_or(net.network())
    } else {
        net.network()
    }
}

fn step(ip: IpAddr, by: i64) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v) => u32::from(v)
            .checked_add_signed(by as i32)
            .map(|n| IpAddr::V4(n.into())),
        IpAddr::V6(v) => {
            let n = u128::from(v);
            let n = if by < 0 {
                n.checked_sub(by.unsigned_abs() as u128)
            } else {
                n.checked_add(by as u128)
            }?;
            Some(IpAddr::V6(n.into()))
        }
    }
}

/// A label set satisfying a selector (In: first value; Exists: `x`).
fn representative(sel: &LabelSelector) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for r in sel.requirements() {
        match r.op {
            Op::In => {
                if let Some(v) = r.values.iter().next() {
                    out.insert(r.key.clone(), v.clone());
                }
            }
            Op::Exists => {
                out.entry(r.key.clone())
                    .or_insert_with(|| other_value(|v| r.values.contains(v)));
            }
            Op::NotIn | Op::DoesNotExist => {}
        }
    }
    out
}

/// A value `x0`, `x1`, ... that `taken` says no selector names.
fn other_value(taken: impl Fn(&String) -> bool) -> String {
    (0..)
        .map(|i| format!("x{i}"))
        .find(|v| !taken(v))
        .unwrap_or_default()
}

/// Candidate label sets: the cross product of each key's interesting values (absent,
/// each mentioned value, one other) when small; otherwise the selectors'
/// representatives and their single-requirement variations.
fn candidates(selectors: &BTreeSet<LabelSelector>) -> Vec<BTreeMap<String, String>> {
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in selectors {
        for r in s.requirements() {
            values
                .entry(r.key.clone())
                .or_default()
                .extend(r.values.iter().cloned());
        }
    }
    let options: Vec<(String, Vec<Option<String>>)> = values
        .iter()
        .map(|(k, vs)| {
            let mut o: Vec<Option<String>> = vec![None];
            o.extend(vs.iter().cloned().map(Some));
            o.push(Some(other_value(|v| vs.contains(v))));
            (k.clone(), o)
        })
        .collect();
    let product: usize = options
        .iter()
        .map(|(_, o)| o.len())
        .fold(1usize, |a, b| a.saturating_mul(b));
    let mut out: Vec<BTreeMap<String, String>> = vec![BTreeMap::new()];
    if product <= 4096 {
        for (k, opts) in &options {
            let mut next = Vec::with_capacity(out.len() * opts.len());
            for base in &out {
                for o in opts {
                    let mut m = base.clone();
                    if let Some(v) = o {
                        m.insert(k.clone(), v.clone());
                    }
                    next.push(m);
                }
            }
            out = next;
        }
        return out;
    }
    for s in selectors {
        let rep = representative(s);
        for (k, opts) in &options {
            for o in opts {
                let mut m = rep.clone();
                match o {
                    Some(v) => m.insert(k.clone(), v.clone()),
                    None => m.remove(k),
                };
                out.push(m);
            }
        }
        out.push(rep);
    }
    out
}

fn pod_name(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "unlabelled".to_string();
    }
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal texts hash alike from one seed; a short tail differs from a longer one (only
    /// a matter of speed: the maps compare their keys).
    #[test]
    fn word_hashes_tell_tails_apart() {
        let seeded = SeededWords::new();
        let plain = BuildHasherDefault::<WordHasher>::default();
        let hashes: [&dyn Fn(&str) -> u64; 2] = [&|s| seeded.hash_one(s), &|s| plain.hash_one(s)];
        for hash in hashes {
            assert_eq!(
                hash("projectcalico.org/name == 'a'"),
                hash("projectcalico.org/name == 'a'")
            );
            assert_ne!(hash("ab"), hash("ab\0"));
            assert_ne!(hash("abcdefgh"), hash("abcdefgh\0"));
            assert_ne!(hash("abcdefghi"), hash("abcdefgh"));
        }
        let words = |n: &[usize]| plain.hash_one(n);
        assert_ne!(words(&[1, 2]), words(&[2, 1]));
    }
}
