//! Small ordered sets and maps kept as sorted vectors ([`SortedSet`], [`SortedMap`]).
//!
//! A side's [`crate::model::Mentions`] are a handful of sets of a few to a few dozen
//! entries each, built, read and freed once per side of every pod the proof checks (tens
//! of thousands of times at scale). As B-trees each set cost a node allocation, a
//! pointer-chasing walk per read and a node-by-node free; as a sorted vector it is one
//! allocation, a binary search per insertion and a slice walk. Both iterate in the same
//! order (ascending, without duplicates) and compare, hash and print alike, so a
//! reader cannot tell them apart.

use std::borrow::Borrow;
use std::cmp::Ordering;

/// A set of ordered values kept as a sorted vector without duplicates: the interface of
/// a `BTreeSet` that small, short-lived sets need.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortedSet<T>(Vec<T>);

impl<T> Default for SortedSet<T> {
    fn default() -> Self {
        SortedSet(Vec::new())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for SortedSet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(&self.0).finish()
    }
}

impl<T> SortedSet<T> {
    /// An empty set.
    pub const fn new() -> Self {
        SortedSet(Vec::new())
    }

    /// The values, in ascending order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// How many values the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The smallest value.
    pub fn first(&self) -> Option<&T> {
        self.0.first()
    }

    /// Keeps the values for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.0.retain(keep);
    }
}

impl<T: Ord> SortedSet<T> {
    /// Where `probe` is, or would go.
    fn search<Q>(&self, probe: &Q) -> Result<usize, usize>
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.binary_search_by(|v| v.borrow().cmp(probe))
    }

    /// Adds `value`; `false` (and `value` dropped) when an equal one is there.
    pub fn insert(&mut self, value: T) -> bool {
        match self.search(&value) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, value);
                true
            }
        }
    }

    /// Whether a value equal to `probe` is in the set.
    pub fn contains<Q>(&self, probe: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.search(probe).is_ok()
    }

    /// The value equal to `probe`, as the set holds it.
    pub fn get<Q>(&self, probe: &Q) -> Option<&T>
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.search(probe).ok().map(|at| &self.0[at])
    }

    /// Moves every value of `other` into this set, leaving `other` empty.
    pub fn append(&mut self, other: &mut SortedSet<T>) {
        if self.0.is_empty() {
            std::mem::swap(self, other);
        } else if !other.0.is_empty() {
            self.0.append(&mut other.0);
            self.normalise();
        }
    }

    /// The values in both sets.
    pub fn intersection(&self, other: &SortedSet<T>) -> SortedSet<T>
    where
        T: Clone,
    {
        self.merged(other, (false, true, false))
    }

    /// The values of this set that are not in `other`.
    pub fn difference(&self, other: &SortedSet<T>) -> SortedSet<T>
    where
        T: Clone,
    {
        self.merged(other, (true, false, false))
    }

    /// The values in either set.
    pub fn union(&self, other: &SortedSet<T>) -> SortedSet<T>
    where
        T: Clone,
    {
        self.merged(other, (true, true, true))
    }

    /// Whether no value is in both sets (one walk of both lists).
    pub fn is_disjoint(&self, other: &SortedSet<T>) -> bool {
        let (a, b) = (&self.0, &other.0);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                Ordering::Less => i += 1,
                Ordering::Greater => j += 1,
                Ordering::Equal => return false,
            }
        }
        true
    }

    /// One walk of both sorted lists, keeping the values found in this set only, in
    /// both, or in `other` only, as `keep` says.
    fn merged(&self, other: &SortedSet<T>, keep: (bool, bool, bool)) -> SortedSet<T>
    where
        T: Clone,
    {
        let (mine, both, theirs) = keep;
        let (a, b) = (&self.0, &other.0);
        let mut out = Vec::with_capacity(if theirs { a.len() + b.len() } else { a.len() });
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                Ordering::Less => {
                    if mine {
                        out.push(a[i].clone());
                    }
                    i += 1;
                }
                Ordering::Greater => {
                    if theirs {
                        out.push(b[j].clone());
                    }
                    j += 1;
                }
                Ordering::Equal => {
                    if both {
                        out.push(a[i].clone());
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        if mine {
            out.extend_from_slice(&a[i..]);
        }
        if theirs {
            out.extend_from_slice(&b[j..]);
        }
        SortedSet(out)
    }

    /// Sorts and drops duplicates (the first of equal values stays).
    fn normalise(&mut self) {
        self.0.sort();
        self.0.dedup();
    }
}

impl<T: Ord> Extend<T> for SortedSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, values: I) {
        let before = self.0.len();
        self.0.extend(values);
        let after = self.0.len();
        if after > before && (before > 0 || after > 1) {
            self.normalise();
        }
    }
}

impl<'a, T: Ord + Copy + 'a> Extend<&'a T> for SortedSet<T> {
    fn extend<I: IntoIterator<Item = &'a T>>(&mut self, values: I) {
        self.extend(values.into_iter().copied());
    }
}

impl<T: Ord> FromIterator<T> for SortedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(values: I) -> Self {
        let mut set = SortedSet(values.into_iter().collect());
        set.normalise();
        set
    }
}

impl<T: Ord, const N: usize> From<[T; N]> for SortedSet<T> {
    fn from(values: [T; N]) -> Self {
        values.into_iter().collect()
    }
}

impl<T> IntoIterator for SortedSet<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a SortedSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A map from ordered keys kept as a vector of entries sorted by key, keys unique: the
/// interface of a `BTreeMap` that small, short-lived maps need.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortedMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap(Vec::new())
    }
}

impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K, V> SortedMap<K, V> {
    /// An empty map.
    pub const fn new() -> Self {
        SortedMap(Vec::new())
    }

    /// The entries, by ascending key.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The values, by ascending key.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v)
    }

    /// The keys, ascending, moved out.
    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = K> + ExactSizeIterator {
        self.0.into_iter().map(|(k, _)| k)
    }

    /// How many entries the map holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// Where the entry of `key` is, or would go.
    fn search<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.search(key).ok().map(|at| &self.0[at].1)
    }

    /// The value of `key`, to change.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.search(key).ok().map(|at| &mut self.0[at].1)
    }

    /// Whether the map has an entry for `key`.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.search(key).is_ok()
    }

    /// The value of the key `probe` finds, made by `make` (the key by `key`) only when
    /// missing: a key that is there is never made.
    pub fn slot<Q>(
        &mut self,
        probe: &Q,
        key: impl FnOnce() -> K,
        make: impl FnOnce() -> V,
    ) -> &mut V
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let at = match self.search(probe) {
            Ok(at) => at,
            Err(at) => {
                let key = key();
                debug_assert!(key.borrow().cmp(probe) == Ordering::Equal);
                self.0.insert(at, (key, make()));
                at
            }
        };
        &mut self.0[at].1
    }

    /// Sets the value of `key`; the value it had, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.search(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.0[at].1, value)),
            Err(at) => {
                self.0.insert(at, (key, value));
                None
            }
        }
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    /// The last value of a key given twice wins, as for a `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut map = SortedMap::new();
        for (k, v) in entries {
            map.insert(k, v);
        }
        map
    }
}

impl<K, V, Q> std::ops::Index<&Q> for SortedMap<K, V>
where
    K: Ord + Borrow<Q>,
    Q: Ord + ?Sized,
{
    type Output = V;

    /// The value of `key`.
    ///
    /// # Panics
    /// When the map has no entry for `key` (as a `BTreeMap` does).
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry for the key")
    }
}

/// An entry as a pair of references.
fn entry<K, V>((k, v): &(K, V)) -> (&K, &V) {
    (k, v)
}

impl<'a, K, V> IntoIterator for &'a SortedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(entry)
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// A small deterministic generator of values with many repeats.
    fn values(seed: u64, n: usize) -> Vec<u16> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 33) % 40) as u16
            })
            .collect()
    }

    #[test]
    fn a_sorted_set_holds_and_orders_what_a_b_tree_set_does() {
        for seed in 0..50 {
            let (a, b) = (values(seed, 30), values(seed + 100, 17));
            let mut set = SortedSet::new();
            let mut tree = BTreeSet::new();
            for v in &a {
                assert_eq!(set.insert(*v), tree.insert(*v));
            }
            let mut other: SortedSet<u16> = b.iter().copied().collect();
            let mut other_tree: BTreeSet<u16> = b.iter().copied().collect();
            set.append(&mut other);
            tree.append(&mut other_tree);
            assert!(other.is_empty());
            set.extend(values(seed + 200, 5));
            tree.extend(values(seed + 200, 5));
            assert_eq!(
                set.iter().collect::<Vec<_>>(),
                tree.iter().collect::<Vec<_>>()
            );
            for probe in 0..45 {
                assert_eq!(set.contains(&probe), tree.contains(&probe));
            }
            set.retain(|v| v % 3 != 0);
            tree.retain(|v| v % 3 != 0);
            assert_eq!(
                set.iter().collect::<Vec<_>>(),
                tree.iter().collect::<Vec<_>>()
            );
            assert_eq!(format!("{set:?}"), format!("{tree:?}"));
            assert_eq!(set.first(), tree.first());
        }
    }

    #[test]
    fn set_operations_agree_with_b_tree_sets() {
        for seed in 0..40 {
            let (a, b) = (values(seed, 12), values(seed + 50, 9));
            let (sa, sb): (SortedSet<u16>, SortedSet<u16>) =
                (a.iter().copied().collect(), b.iter().copied().collect());
            let (ta, tb): (BTreeSet<u16>, BTreeSet<u16>) =
                (a.iter().copied().collect(), b.iter().copied().collect());
            let tree = |s: SortedSet<u16>| s.into_iter().collect::<Vec<_>>();
            assert_eq!(
                tree(sa.intersection(&sb)),
                ta.intersection(&tb).copied().collect::<Vec<_>>()
            );
            assert_eq!(
                tree(sa.difference(&sb)),
                ta.difference(&tb).copied().collect::<Vec<_>>()
            );
            assert_eq!(
                tree(sa.union(&sb)),
                ta.union(&tb).copied().collect::<Vec<_>>()
            );
            assert_eq!(sa.is_disjoint(&sb), ta.is_disjoint(&tb));
        }
    }

    #[test]
    fn sorted_sets_compare_as_b_tree_sets_do() {
        for seed in 0..30 {
            let (a, b) = (values(seed, 6), values(seed + 7, 6));
            let (sa, sb): (SortedSet<u16>, SortedSet<u16>) =
                (a.iter().copied().collect(), b.iter().copied().collect());
            let (ta, tb): (BTreeSet<u16>, BTreeSet<u16>) =
                (a.iter().copied().collect(), b.iter().copied().collect());
            assert_eq!(sa.cmp(&sb), ta.cmp(&tb));
            assert_eq!(sa == sb, ta == tb);
        }
    }

    #[test]
    fn a_sorted_map_holds_and_orders_what_a_b_tree_map_does() {
        for seed in 0..50 {
            let mut map = SortedMap::new();
            let mut tree = BTreeMap::new();
            let keys = values(seed, 25);
            for (i, k) in keys.iter().enumerate() {
                if i % 2 == 0 {
                    assert_eq!(map.insert(*k, i), tree.insert(*k, i));
                } else {
                    let made = map.slot(k, || *k, || i);
                    *made += 1;
                    *tree.entry(*k).or_insert(i) += 1;
                }
            }
            assert_eq!(
                map.iter().collect::<Vec<_>>(),
                tree.iter().collect::<Vec<_>>()
            );
            for probe in 0..45 {
                assert_eq!(map.get(&probe), tree.get(&probe));
                assert_eq!(map.contains_key(&probe), tree.contains_key(&probe));
            }
            assert_eq!(format!("{map:?}"), format!("{tree:?}"));
            let again: SortedMap<u16, usize> = tree.clone().into_iter().collect();
            assert_eq!(again, map);
        }
    }
}
