//! Canonical label selectors and their algebra (match, conjunction, negation, disjointness).
//!
//! A [`LabelSelector`] is a conjunction of [`Requirement`]s with Kubernetes semantics:
//! `In` needs the key present with one of the values; `NotIn` matches when the key is
//! absent *or* has another value; `Exists`/`DoesNotExist` test presence. `matchLabels`
//! entries are `In` requirements with one value. The empty selector matches everything.

use crate::sorted::SortedSet;
use std::collections::BTreeMap;

/// The label every namespace carries with its own name (set by the control plane).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A label-requirement operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// The key exists and its value is one of the values.
    In,
    /// The key is absent or its value is none of the values.
    NotIn,
    /// The key exists.
    Exists,
    /// The key is absent.
    DoesNotExist,
}

impl Op {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::In => "In",
            Op::NotIn => "NotIn",
            Op::Exists => "Exists",
            Op::DoesNotExist => "DoesNotExist",
        }
    }
}

/// One requirement on one label key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub op: Op,
    /// The values; non-empty for `In`/`NotIn`, empty otherwise.
    pub values: SortedSet<String>,
}

impl Requirement {
    /// `key In {values}`.
    pub fn is_in<I, S>(key: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Requirement {
            key: key.into(),
            op: Op::In,
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// `key NotIn {values}`.
    pub fn not_in<I, S>(key: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Requirement {
            key: key.into(),
            op: Op::NotIn,
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// `key Exists`.
    pub fn exists(key: impl Into<String>) -> Self {
        Requirement {
            key: key.into(),
            op: Op::Exists,
            values: SortedSet::new(),
        }
    }

    /// `key DoesNotExist`.
    pub fn does_not_exist(key: impl Into<String>) -> Self {
        Requirement {
            key: key.into(),
            op: Op::DoesNotExist,
            values: SortedSet::new(),
        }
    }

    /// Whether a label set satisfies this requirement.
    ///
    /// The proof asks this of millions of (selector, pod) pairs, with tests of mostly one
    /// value: those are decided by equality (lengths first, most often without reading a
    /// byte) rather than by the ordered comparisons of a search.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.key);
        match self.op {
            Op::In => v.is_some_and(|v| self.has_value(v)),
            Op::NotIn => v.is_none_or(|v| !self.has_value(v)),
            Op::Exists => v.is_some(),
            Op::DoesNotExist => v.is_none(),
        }
    }

    /// Whether `value` is one of the requirement's values.
    fn has_value(&self, value: &str) -> bool {
        if self.values.len() == 1 {
            return self.values.first().is_some_and(|only| only == value);
        }
        self.values.contains(value)
    }

    /// The exact complement of this requirement (still a single requirement).
    pub fn negate(&self) -> Requirement {
        let op = match self.op {
            Op::In => Op::NotIn,
            Op::NotIn => Op::In,
            Op::Exists => Op::DoesNotExist,
            Op::DoesNotExist => Op::Exists,
        };
        Requirement {
            key: self.key.clone(),
            op,
            values: self.values.clone(),
        }
    }

    /// `matchLabels` form `(key, value)` if this is `key In {value}`.
    pub fn as_match_label(&self) -> Option<(&str, &str)> {
        if self.op == Op::In && self.values.len() == 1 {
            let v = self.values.iter().next()?;
            Some((&self.key, v))
        } else {
            None
        }
    }
}

/// A conjunction of requirements in canonical form: requirements on one key are merged
/// where that is exact, and sorted.
///
/// Immutable and shared: a clone is a reference count, because a program's rules and
/// every back end's lowering copy the same selectors many times (on large repositories
/// they were most of the memory).
///
/// The requirements are a sorted slice without duplicates (what a `BTreeSet` would hold,
/// in its order, so that selectors compare and hash as sets of requirements): the proof
/// walks them for millions of (selector, pod) pairs, and a slice is walked and freed at
/// a fraction of a tree's cost.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelSelector {
    requirements: std::sync::Arc<[Requirement]>,
}

impl Default for LabelSelector {
    /// The selector that matches everything. Each is its own shared copy (a fresh
    /// allocation), as [`LabelSelector::shared_address`] promises.
    fn default() -> Self {
        LabelSelector {
            requirements: std::sync::Arc::from(Vec::new()),
        }
    }
}

/// What a conjunction of requirements on one key allows, used to merge and to decide
/// emptiness exactly.
enum KeyConstraint {
    /// Key absent.
    Absent,
    /// Key present with a value in the set.
    OneOf(SortedSet<String>),
    /// Key present with any value except those in the set.
    PresentExcept(SortedSet<String>),
    /// Key absent, or present with a value not in the set.
    AnyExcept(SortedSet<String>),
    /// Unsatisfiable.
    Empty,
}

impl KeyConstraint {
    fn of(r: &Requirement) -> Self {
        match r.op {
            Op::In => KeyConstraint::OneOf(r.values.clone()),
            Op::NotIn => KeyConstraint::AnyExcept(r.values.clone()),
            Op::Exists => KeyConstraint::PresentExcept(SortedSet::new()),
            Op::DoesNotExist => KeyConstraint::Absent,
        }
    }

    fn and(self, other: KeyConstraint) -> Self {
        use KeyConstraint::*;
        match (self, other) {
            (Empty, _) | (_, Empty) => Empty,
            (Absent, Absent) | (Absent, AnyExcept(_)) | (AnyExcept(_), Absent) => Absent,
            (Absent, _) | (_, Absent) => Empty,
            (OneOf(a), OneOf(b)) => OneOf(a.intersection(&b)),
            (OneOf(a), PresentExcept(b) | AnyExcept(b))
            | (PresentExcept(b) | AnyExcept(b), OneOf(a)) => OneOf(a.difference(&b)),
            (PresentExcept(a), PresentExcept(b) | AnyExcept(b))
            | (AnyExcept(b), PresentExcept(a)) => PresentExcept(a.union(&b)),
            (AnyExcept(a), AnyExcept(b)) => AnyExcept(a.union(&b)),
        }
        .normalise()
    }

    fn normalise(self) -> Self {
        match self {
            KeyConstraint::OneOf(s) if s.is_empty() => KeyConstraint::Empty,
            other => other,
        }
    }

    /// Requirements expressing this constraint on `key`; `None` when unsatisfiable.
    fn requirements(self, key: &str) -> Option<Vec<Requirement>> {
        Some(match self {
            KeyConstraint::Empty => return None,
            KeyConstraint::Absent => vec![Requirement::does_not_exist(key)],
            KeyConstraint::OneOf(s) => vec![Requirement {
                key: key.to_string(),
                op: Op::In,
                values: s,
            }],
            KeyConstraint::PresentExcept(s) if s.is_empty() => vec![Requirement::exists(key)],
            KeyConstraint::PresentExcept(s) => vec![
                Requirement::exists(key),
                Requirement {
                    key: key.to_string(),
                    op: Op::NotIn,
                    values: s,
                },
            ],
            KeyConstraint::AnyExcept(s) => vec![Requirement {
                key: key.to_string(),
                op: Op::NotIn,
                values: s,
            }],
        })
    }
}

impl LabelSelector {
    /// Whether `other` is this very selector (one shared copy), not only an equal one: a
    /// cheap test to group the rules of one subject.
    pub(crate) fn is_same(&self, other: &LabelSelector) -> bool {
        std::sync::Arc::ptr_eq(&self.requirements, &other.requirements)
    }

    /// The address of the one shared copy this selector is a clone of: the same for every
    /// clone, different for selectors built apart (equal or not), and stable while a clone
    /// lives (a copy dropped may leave its address to another). A cheap key to visit each
    /// shared copy once ([`Self::is_same`] as a hash key).
    pub fn shared_address(&self) -> usize {
        std::sync::Arc::as_ptr(&self.requirements).addr()
    }

    /// The selector that matches everything.
    pub fn all() -> Self {
        LabelSelector::default()
    }

    /// A selector from `matchLabels` pairs.
    pub fn from_labels<I, K, V>(labels: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self::from_requirements(
            labels
                .into_iter()
                .map(|(k, v)| Requirement::is_in(k, [v.into()])),
        )
        .unwrap_or_default()
    }

    /// A canonical selector from requirements; `None` if they can never all hold.
    pub fn from_requirements(reqs: impl IntoIterator<Item = Requirement>) -> Option<Self> {
        let mut by_key: BTreeMap<String, KeyConstraint> = BTreeMap::new();
        for r in reqs {
            let c = KeyConstraint::of(&r);
            let merged = match by_key.remove(&r.key) {
                Some(prev) => prev.and(c),
                None => c.normalise(),
            };
            by_key.insert(r.key, merged);
        }
        // Sorted as a set of requirements would be (keys come sorted, but one key may
        // give two requirements); one key's requirements differ by operator.
        let mut requirements = Vec::with_capacity(by_key.len());
        for (key, c) in by_key {
            requirements.extend(c.requirements(&key)?);
        }
        requirements.sort_unstable();
        debug_assert!(requirements.windows(2).all(|w| w[0] < w[1]));
        Some(LabelSelector {
            requirements: std::sync::Arc::from(requirements),
        })
    }

    /// The requirements, sorted.
    pub fn requirements(&self) -> impl Iterator<Item = &Requirement> {
        self.requirements.iter()
    }

    /// Whether this selector matches everything.
    pub fn is_all(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether a label set satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The conjunction of two selectors; `None` when no label set satisfies both.
    pub fn and(&self, other: &LabelSelector) -> Option<LabelSelector> {
        Self::from_requirements(
            self.requirements
                .iter()
                .chain(other.requirements.iter())
                .cloned(),
        )
    }

    /// Whether no label set satisfies both selectors (exact for these requirements).
    pub fn disjoint(&self, other: &LabelSelector) -> bool {
        self.and(other).is_none()
    }

    /// Whether every label set matched by `self` is matched by `other` (sound, and exact
    /// for canonical selectors: `self ∧ ¬other` is empty).
    pub fn subset_of(&self, other: &LabelSelector) -> bool {
        other.negate().iter().all(|neg| self.and(neg).is_none())
    }

    /// The complement as a union of selectors (De Morgan: one negated requirement each).
    /// The complement of the all-selector is the empty union.
    pub fn negate(&self) -> Vec<LabelSelector> {
        self.requirements
            .iter()
            .filter_map(|r| LabelSelector::from_requirements([r.negate()]))
            .collect()
    }

    /// `self ∧ ¬other` as a union of selectors whose members are pairwise disjoint,
    /// so that the result is exact and has no redundant overlap.
    pub fn minus(&self, other: &LabelSelector) -> Vec<LabelSelector> {
        // Disjoint decomposition: ¬(r1 ∧ r2 ∧ …) = ¬r1 ∨ (r1 ∧ ¬r2) ∨ (r1 ∧ r2 ∧ ¬r3) …
        let mut out = Vec::new();
        let mut prefix = self.clone();
        for r in other.requirements.iter() {
            if let Some(piece) =
                prefix.and(&LabelSelector::from_requirements([r.negate()]).unwrap_or_default())
            {
                out.push(piece);
            }
            match prefix.and(&LabelSelector::from_requirements([r.clone()]).unwrap_or_default()) {
                Some(p) => prefix = p,
                None => break,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn not_in_matches_absent_keys() {
        let r = Requirement::not_in("app", ["db"]);
        assert!(r.matches(&labels(&[])));
        assert!(r.matches(&labels(&[("app", "web")])));
        assert!(!r.matches(&labels(&[("app", "db")])));
    }

    #[test]
    fn one_value_tests_match_as_a_set_of_values_does() {
        let pods = [
            labels(&[]),
            labels(&[("app", "web")]),
            labels(&[("app", "we")]),
            labels(&[("app", "webs")]),
            labels(&[("app", "db")]),
            labels(&[("app", "")]),
            labels(&[("tier", "web")]),
        ];
        for values in [
            &["web"][..],
            &[""],
            &["web", "db"],
            &["db", "web", "x"],
            &[],
        ] {
            for r in [
                Requirement::is_in("app", values.iter().copied()),
                Requirement::not_in("app", values.iter().copied()),
            ] {
                for l in &pods {
                    let set = l.get("app").map(|v| r.values.contains(v));
                    let want = match r.op {
                        Op::In => set == Some(true),
                        _ => set != Some(true),
                    };
                    assert_eq!(r.matches(l), want, "{r:?} on {l:?}");
                }
            }
        }
    }

    #[test]
    fn conjunction_merges_and_detects_empty() {
        let a = LabelSelector::from_labels([("app", "a")]);
        let b = LabelSelector::from_labels([("app", "b")]);
        assert!(a.disjoint(&b));
        let na = LabelSelector::from_requirements([Requirement::does_not_exist("app")]).unwrap();
        assert!(a.disjoint(&na));
        let c = LabelSelector::from_requirements([
            Requirement::is_in("app", ["a", "b"]),
            Requirement::not_in("app", ["b"]),
        ])
        .unwrap();
        assert_eq!(c, a);
    }

    #[test]
    fn subset() {
        let all = LabelSelector::all();
        let a = LabelSelector::from_labels([("app", "a"), ("tier", "x")]);
        assert!(a.subset_of(&all));
        assert!(!all.subset_of(&a));
        assert!(a.subset_of(&LabelSelector::from_labels([("app", "a")])));
    }

    const KEYS: [&str; 2] = ["a", "b"];
    const VALUES: [&str; 3] = ["x", "y", "z"];

    fn arb_req() -> impl Strategy<Value = Requirement> {
        (
            0..2usize,
            0..4usize,
            proptest::collection::btree_set(0..3usize, 1..3),
        )
            .prop_map(|(k, op, vs)| {
                let values: SortedSet<String> = vs.iter().map(|&i| VALUES[i].to_string()).collect();
                let key = KEYS[k].to_string();
                match op {
                    0 => Requirement {
                        key,
                        op: Op::In,
                        values,
                    },
                    1 => Requirement {
                        key,
                        op: Op::NotIn,
                        values,
                    },
                    2 => Requirement::exists(key),
                    _ => Requirement::does_not_exist(key),
                }
            })
    }

    /// Every label set over the two keys: absent, one of the values, or `w`, which stands
    /// for every value no requirement names.
    fn universe() -> Vec<BTreeMap<String, String>> {
        let opts: Vec<Option<&str>> = std::iter::once(None)
            .chain(VALUES.iter().copied().map(Some))
            .chain(std::iter::once(Some("w")))
            .collect();
        let mut out = Vec::new();
        for a in &opts {
            for b in &opts {
                let mut m = BTreeMap::new();
                if let Some(v) = a {
                    m.insert("a".to_string(), v.to_string());
                }
                if let Some(v) = b {
                    m.insert("b".to_string(), v.to_string());
                }
                out.push(m);
            }
        }
        out
    }

    proptest! {
        #[test]
        fn algebra_is_exact(r1 in proptest::collection::vec(arb_req(), 0..3),
                            r2 in proptest::collection::vec(arb_req(), 0..3)) {
            let raw1 = |l: &BTreeMap<String, String>| r1.iter().all(|r| r.matches(l));
            let raw2 = |l: &BTreeMap<String, String>| r2.iter().all(|r| r.matches(l));
            let s1 = LabelSelector::from_requirements(r1.clone());
            let s2 = LabelSelector::from_requirements(r2.clone());
            for l in universe() {
                // Canonicalisation preserves meaning, and `None` means unsatisfiable.
                prop_assert_eq!(s1.as_ref().is_some_and(|s| s.matches(&l)), raw1(&l));
                if let (Some(s1), Some(s2)) = (&s1, &s2) {
                    let both = s1.and(s2);
                    prop_assert_eq!(both.as_ref().is_some_and(|s| s.matches(&l)), raw1(&l) && raw2(&l));
                    let neg = s2.negate();
                    prop_assert_eq!(neg.iter().any(|s| s.matches(&l)), !raw2(&l));
                    let minus = s1.minus(s2);
                    prop_assert_eq!(minus.iter().filter(|s| s.matches(&l)).count() as u8,
                                    u8::from(raw1(&l) && !raw2(&l)));
                }
            }
            if let (Some(s1), Some(s2)) = (&s1, &s2) {
                let sub = universe().iter().all(|l| !raw1(l) || raw2(l));
                prop_assert_eq!(s1.subset_of(s2), sub);
            }
        }
    }
}
