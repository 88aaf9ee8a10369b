//! The program's rules in order, without comparing them field by field: each rule gets,
//! as it is made, a key of small numbers that orders rules the way [`Rule`]'s own order
//! does up to ties, and the rules are sorted by key, ties by the rules themselves.
//!
//! Comparing two rules walks their selectors (shared trees of requirements and strings),
//! which made sorting the rules of thousands of sets the dearest step of lowering. A key
//! holds the position of the rule's namespace among the managed namespaces (names sort as
//! positions do), the rank of its subject's pod selector among every selector of the
//! program, its direction and action, and its peer's variant with the ranks of a pod
//! peer's selectors (or an entity). Ranks are known once every set is lowered: each thread
//! numbers the selectors it meets ([`Selectors`], which also gives every rule of the
//! thread one shared copy per value), and [`in_order`] maps the numbers of all threads to
//! ranks by sorting the distinct selectors once (a few dozen per set, not one per rule).
//!
//! Equal rules have equal keys: duplicates are dropped as the sorted rules are taken, so
//! that the rules are canonical (`Program::canonicalise`) without another pass. Tests
//! check the order found against `Rule`'s (a debug assertion at the end of lowering).

use super::*;
use netpolc_ir::derive::{SeededWords, WordHasher};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasherDefault;

/// The selectors one thread met while lowering, numbered, with one shared copy each.
#[derive(Debug, Default)]
pub(super) struct Selectors {
    /// The number of each value met, hashed a word at a time from a seed of its own (the
    /// texts of labels the policies write; never iterated).
    by_value: HashMap<LabelSelector, u32, SeededWords>,
    /// The number of each copy met, by [`LabelSelector::shared_address`]: the copies of a
    /// set's groups are met once per intent, and found here without hashing their text.
    by_address: HashMap<usize, u32, BuildHasherDefault<WordHasher>>,
    /// The shared copy of each number.
    values: Vec<LabelSelector>,
    /// The copies whose addresses are in `by_address`, kept so that no other copy takes
    /// one of those addresses.
    kept: Vec<LabelSelector>,
}

impl Selectors {
    /// The number of `s`'s value, and the copy every rule of this thread shares.
    pub(super) fn share(&mut self, s: &LabelSelector) -> (u32, LabelSelector) {
        let id = match self.by_address.get(&s.shared_address()) {
            Some(&id) => id,
            None => {
                let next = u32::try_from(self.values.len()).expect("fewer than 2^32 selectors");
                let id = *self.by_value.entry(s.clone()).or_insert(next);
                if id == next {
                    self.values.push(s.clone());
                }
                self.by_address.insert(s.shared_address(), id);
                self.kept.push(s.clone());
                id
            }
        };
        (id, self.values[id as usize].clone())
    }

    /// `peer` with its selectors (if pods) shared, and its key.
    pub(super) fn peer(&mut self, peer: &Peer) -> (Peer, PeerKey) {
        let (variant, first) = match peer {
            Peer::Pods { namespaces, pods } => {
                let (first, namespaces) = self.share(namespaces);
                let (second, pods) = self.share(pods);
                let key = PeerKey {
                    variant: 0,
                    first,
                    second,
                };
                return (Peer::Pods { namespaces, pods }, key);
            }
            Peer::Cidr(_) => (1, 0),
            Peer::Entity(e) => (2, *e as u32),
            Peer::Fqdn(_) => (3, 0),
            Peer::Any => (4, 0),
        };
        let key = PeerKey {
            variant,
            first,
            second: 0,
        };
        (peer.clone(), key)
    }
}

/// Where a rule sorts, with the selectors as numbers of one thread's [`Selectors`] until
/// [`in_order`] ranks them. Fields in the order of [`Rule`]'s: the derived order compares
/// them as the rules' order compares theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct RuleKey {
    /// The position of the namespace of the rule's scope among the managed namespaces
    /// (`u32::MAX` for a cluster scope, whose rules are sorted on their own).
    pub(super) namespace: u32,
    /// The subject's pod selector.
    pub(super) pods: u32,
    pub(super) direction: Direction,
    pub(super) action: Action,
    pub(super) peer: PeerKey,
}

/// Where a peer sorts: its variant's position in [`Peer`]'s declaration (which is how the
/// order of peers begins), then, for pods, the namespace and pod selectors, for an entity,
/// its position in [`Entity`]'s declaration; other peers tie (and are compared whole).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct PeerKey {
    variant: u8,
    first: u32,
    second: u32,
}

/// The bits of each rank in [`RuleKey::packed`].
const RANK_BITS: u32 = 24;

impl RuleKey {
    /// The key as one number that orders as the key does, when its ranks fit in
    /// [`RANK_BITS`] bits (`None` otherwise): from the highest bits, the namespace (32
    /// bits), the subject's rank (24), the direction, the action and the peer's variant
    /// (8 each), the peer's two numbers (24 each).
    fn packed(&self) -> Option<u128> {
        let fits = |n: u32| n < (1 << RANK_BITS);
        let peer = &self.peer;
        (fits(self.pods) && fits(peer.first) && fits(peer.second)).then(|| {
            (u128::from(self.namespace) << 96)
                | (u128::from(self.pods) << 72)
                | (u128::from(self.direction as u8) << 64)
                | (u128::from(self.action as u8) << 56)
                | (u128::from(peer.variant) << 48)
                | (u128::from(peer.first) << 24)
                | u128::from(peer.second)
        })
    }

    /// This key with the selector numbers of its thread replaced by their ranks.
    fn ranked(mut self, ranks: &[u32]) -> RuleKey {
        self.pods = ranks[self.pods as usize];
        if self.peer.variant == 0 {
            self.peer.first = ranks[self.peer.first as usize];
            self.peer.second = ranks[self.peer.second as usize];
        }
        self
    }
}

/// The rules one thread made, each with its key.
#[derive(Debug, Default)]
pub(super) struct Lowered {
    pub(super) rules: Vec<Rule>,
    pub(super) keys: Vec<RuleKey>,
}

impl Lowered {
    /// Room for `rules` rules made before any is moved: a part of thousands of rules,
    /// grown a rule at a time, was copied whole at each doubling.
    pub(super) fn with_capacity(rules: usize) -> Lowered {
        Lowered {
            rules: Vec::with_capacity(rules),
            keys: Vec::with_capacity(rules),
        }
    }

    pub(super) fn push(&mut self, key: RuleKey, rule: Rule) {
        self.keys.push(key);
        self.rules.push(rule);
    }
}

/// The rules of every thread's part, each part with the selectors it numbered, in
/// [`Rule`]'s order, each once: each part is sorted on its own (on up to `threads`
/// threads), then the parts are merged, each rule moved once into the result.
pub(super) fn in_order(parts: Vec<(Lowered, Selectors)>, threads: usize) -> Vec<Rule> {
    // Ranks: the distinct selectors of all parts, sorted once.
    let mut distinct: Vec<(&LabelSelector, usize, usize)> = parts
        .iter()
        .enumerate()
        .flat_map(|(part, (_, s))| {
            s.values
                .iter()
                .enumerate()
                .map(move |(id, v)| (v, part, id))
        })
        .collect();
    distinct.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut ranks: Vec<Vec<u32>> = parts.iter().map(|(_, s)| vec![0; s.values.len()]).collect();
    let mut rank = 0u32;
    for (i, (value, part, id)) in distinct.iter().enumerate() {
        if i > 0 && distinct[i - 1].0 != *value {
            rank += 1;
        }
        ranks[*part][*id] = rank;
    }
    drop(distinct);
    let total = parts.iter().map(|(l, _)| l.rules.len()).sum();
    // Each part's selectors go with it, to be freed on the thread that sorts it (one core
    // took 8 ms to free them all at 2,000 namespaces).
    let ranked: Vec<((Lowered, Selectors), Vec<u32>)> = parts.into_iter().zip(ranks).collect();
    let sorted = netpolc_ir::par::flat_map_into(
        threads,
        ranked,
        1,
        |((mut part, selectors), ranks), out| {
            drop(selectors);
            for key in &mut part.keys {
                *key = key.ranked(&ranks);
            }
            let order = sorted_order(&part);
            netpolc_ir::par::permute(&mut part.keys, &order);
            netpolc_ir::par::permute(&mut part.rules, &order);
            out.push(part);
        },
    );
    merge(sorted, total)
}

/// The positions of `part`'s rules in order: by key, then by rule. The keys are compared
/// as numbers ([`RuleKey::packed`]) when every one packs, each beside its position (no
/// look-up in the keys a comparison); as keys otherwise.
fn sorted_order(part: &Lowered) -> Vec<usize> {
    let by_rule = |a: usize, b: usize| part.rules[a].cmp(&part.rules[b]);
    let packed: Option<Vec<(u128, u32)>> = part
        .keys
        .iter()
        .enumerate()
        .map(|(i, key)| Some((key.packed()?, u32::try_from(i).ok()?)))
        .collect();
    if let Some(mut packed) = packed {
        packed.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| by_rule(a.1 as usize, b.1 as usize))
        });
        return packed.into_iter().map(|(_, i)| i as usize).collect();
    }
    let mut order: Vec<usize> = (0..part.rules.len()).collect();
    order.sort_unstable_by(|&a, &b| part.keys[a].cmp(&part.keys[b]).then_with(|| by_rule(a, b)));
    order
}

/// The next rule of one sorted part, in the merge.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Head {
    key: RuleKey,
    part: usize,
}

/// The rules of sorted parts (by key, then rule) in order, each once.
fn merge(parts: Vec<Lowered>, total: usize) -> Vec<Rule> {
    let mut cursors: Vec<(std::vec::IntoIter<RuleKey>, std::vec::IntoIter<Rule>)> = parts
        .into_iter()
        .map(|p| (p.keys.into_iter(), p.rules.into_iter()))
        .collect();
    let mut heads: BinaryHeap<Reverse<Head>> = cursors
        .iter_mut()
        .enumerate()
        .filter_map(|(part, (keys, _))| keys.next().map(|key| Reverse(Head { key, part })))
        .collect();
    let mut out: Vec<Rule> = Vec::with_capacity(total);
    let mut last: Option<RuleKey> = None;
    let mut tied: Vec<Head> = Vec::new();
    while let Some(Reverse(mut head)) = heads.pop() {
        // Parts whose next rules have the same key: the least rule goes first.
        while heads.peek().is_some_and(|Reverse(h)| h.key == head.key) {
            tied.extend(heads.pop().map(|Reverse(h)| h));
        }
        if !tied.is_empty() {
            let first = |h: &Head| cursors[h.part].1.as_slice().first();
            for h in &mut tied {
                if first(h) < first(&head) {
                    std::mem::swap(h, &mut head);
                }
            }
            heads.extend(tied.drain(..).map(Reverse));
        }
        let (keys, rules) = &mut cursors[head.part];
        if let Some(rule) = rules.next() {
            // Equal rules have equal keys, so they meet here: one is kept.
            let repeat = last == Some(head.key) && out.last() == Some(&rule);
            if !repeat {
                out.push(rule);
            }
            last = Some(head.key);
        }
        if let Some(key) = keys.next() {
            heads.push(Reverse(Head {
                key,
                part: head.part,
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packed keys order as the keys do, whichever field tells them apart.
    #[test]
    fn packed_keys_order_as_keys() {
        let max = (1 << RANK_BITS) - 1;
        let mut keys = Vec::new();
        for namespace in [0, 1, u32::MAX] {
            for pods in [0, 1, max] {
                for direction in [Direction::Ingress, Direction::Egress] {
                    for action in [Action::Allow, Action::Deny] {
                        for (variant, first, second) in
                            [(0, 0, 0), (0, max, 1), (0, 1, max), (2, 1, 0), (4, 0, 0)]
                        {
                            keys.push(RuleKey {
                                namespace,
                                pods,
                                direction,
                                action,
                                peer: PeerKey {
                                    variant,
                                    first,
                                    second,
                                },
                            });
                        }
                    }
                }
            }
        }
        for a in &keys {
            for b in &keys {
                let packed = (a.packed().unwrap(), b.packed().unwrap());
                assert_eq!(packed.0.cmp(&packed.1), a.cmp(b), "{a:?} {b:?}");
            }
        }
        let mut big = keys[0];
        big.pods = max + 1;
        assert_eq!(big.packed(), None);
    }
}
