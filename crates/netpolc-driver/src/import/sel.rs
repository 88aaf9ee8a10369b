//! The selector algebra of `import`: label requirements in conjunction, their
//! satisfiability, complement (as a union of conjunctions) and intersection, and the
//! YAML and names they are written as.

use std::collections::{BTreeMap, BTreeSet};

/// A requirement's operator (the Kubernetes set-based ones).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// One label requirement.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Req {
    pub(crate) key: String,
    pub(crate) op: Op,
    pub(crate) values: BTreeSet<String>,
}

/// A conjunction of requirements (empty: everything).
pub(crate) type Sel = BTreeSet<Req>;

impl Req {
    pub(crate) fn eq(key: &str, value: &str) -> Req {
        Req {
            key: key.into(),
            op: Op::In,
            values: BTreeSet::from([value.to_string()]),
        }
    }

    pub(crate) fn not_in(key: &str, values: impl IntoIterator<Item = String>) -> Req {
        Req {
            key: key.into(),
            op: Op::NotIn,
            values: values.into_iter().collect(),
        }
    }

    /// The requirement matching exactly the label maps this one does not.
    pub(crate) fn negate(&self) -> Req {
        let op = match self.op {
            Op::In => Op::NotIn,
            Op::NotIn => Op::In,
            Op::Exists => Op::DoesNotExist,
            Op::DoesNotExist => Op::Exists,
        };
        Req {
            key: self.key.clone(),
            op,
            values: self.values.clone(),
        }
    }

    pub(crate) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.key);
        match self.op {
            Op::In => v.is_some_and(|v| self.values.contains(v)),
            Op::NotIn => v.is_none_or(|v| !self.values.contains(v)),
            Op::Exists => v.is_some(),
            Op::DoesNotExist => v.is_none(),
        }
    }
}

/// Whether every requirement holds on `labels`.
pub(crate) fn matches(sel: &Sel, labels: &BTreeMap<String, String>) -> bool {
    sel.iter().all(|r| r.matches(labels))
}

/// Whether some label map satisfies the conjunction (exact: keys are independent).
pub(crate) fn satisfiable(sel: &Sel) -> bool {
    let mut by_key: BTreeMap<&str, Vec<&Req>> = BTreeMap::new();
    for r in sel {
        by_key.entry(&r.key).or_default().push(r);
    }
    by_key.values().all(|reqs| {
        let absent_ok = reqs
            .iter()
            .all(|r| matches!(r.op, Op::NotIn | Op::DoesNotExist));
        if absent_ok {
            return true;
        }
        if reqs.iter().any(|r| r.op == Op::DoesNotExist) {
            return false;
        }
        // Present: the allowed values are the In sets intersected, minus the NotIn sets;
        // with no In set any value outside the NotIn sets (there is always one).
        let mut allowed: Option<BTreeSet<&String>> = None;
        for r in reqs.iter().filter(|r| r.op == Op::In) {
            let vs: BTreeSet<&String> = r.values.iter().collect();
            allowed = Some(match allowed {
                None => vs,
                Some(a) => a.intersection(&vs).copied().collect(),
            });
        }
        match allowed {
            None => true,
            Some(a) => a.iter().any(|v| {
                reqs.iter()
                    .filter(|r| r.op == Op::NotIn)
                    .all(|r| !r.values.contains(*v))
            }),
        }
    })
}

/// The intersection of two conjunctions, `None` when empty.
pub(crate) fn and(a: &Sel, b: &Sel) -> Option<Sel> {
    let s: Sel = a.union(b).cloned().collect();
    satisfiable(&s).then_some(s)
}

/// The complement of a union of conjunctions, as a union of satisfiable conjunctions;
/// `None` when it would take more than `limit` conjunctions.
pub(crate) fn complement_of_union(sels: &[Sel], limit: usize) -> Option<Vec<Sel>> {
    let mut out: Vec<Sel> = vec![Sel::new()];
    for s in sels {
        let mut next: Vec<Sel> = Vec::new();
        for acc in &out {
            for r in s {
                let mut c = acc.clone();
                c.insert(r.negate());
                if satisfiable(&c) && !next.contains(&c) {
                    next.push(c);
                }
            }
        }
        // Drop conjunctions implied by (subsets of requirements of) another.
        next.sort_by_key(BTreeSet::len);
        let mut kept: Vec<Sel> = Vec::new();
        for c in next {
            if !kept.iter().any(|k| k.is_subset(&c)) {
                kept.push(c);
            }
        }
        if kept.len() > limit {
            return None;
        }
        out = kept;
        if out.is_empty() {
            break;
        }
    }
    Some(out)
}

/// A selector written in the intent language: a label map when every requirement is an
/// equality, else `matchLabels`/`matchExpressions`.
pub(crate) fn to_yaml(sel: &Sel) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let eq = |r: &Req| r.op == Op::In && r.values.len() == 1;
    let mut keys = BTreeSet::new();
    let simple = sel.iter().all(|r| eq(r) && keys.insert(r.key.clone()));
    let labels: Vec<String> = sel
        .iter()
        .filter(|r| eq(r))
        .map(|r| {
            format!(
                "{}: {}",
                q(&r.key),
                q(r.values.first().map(String::as_str).unwrap_or(""))
            )
        })
        .collect();
    if simple {
        return format!("{{{}}}", labels.join(", "));
    }
    let exprs: Vec<String> = sel
        .iter()
        .map(|r| {
            let op = match r.op {
                Op::In => "In",
                Op::NotIn => "NotIn",
                Op::Exists => "Exists",
                Op::DoesNotExist => "DoesNotExist",
            };
            if matches!(r.op, Op::In | Op::NotIn) {
                let vs: Vec<String> = r.values.iter().map(|v| q(v)).collect();
                format!(
                    "{{key: {}, operator: {op}, values: [{}]}}",
                    q(&r.key),
                    vs.join(", ")
                )
            } else {
                format!("{{key: {}, operator: {op}}}", q(&r.key))
            }
        })
        .collect();
    format!("{{matchExpressions: [{}]}}", exprs.join(", "))
}

/// A DNS-label fragment describing a selector: `app-frontend`, `app-not-backend`.
pub(crate) fn name_of(sel: &Sel) -> String {
    let parts: Vec<String> = sel
        .iter()
        .map(|r| {
            let key = r.key.rsplit('/').next().unwrap_or(&r.key);
            let vs: Vec<&str> = r.values.iter().map(String::as_str).collect();
            // Namespace names speak for themselves.
            let named = r.key == netpolc_ir::NAMESPACE_NAME_LABEL;
            match r.op {
                Op::In if named => vs.join("-"),
                Op::NotIn if named => format!("not-{}", vs.join("-")),
                Op::In => format!("{key}-{}", vs.join("-")),
                Op::NotIn => format!("{key}-not-{}", vs.join("-")),
                Op::Exists => format!("has-{key}"),
                Op::DoesNotExist => format!("no-{key}"),
            }
        })
        .collect();
    parts.join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(reqs: &[Req]) -> Sel {
        reqs.iter().cloned().collect()
    }

    #[test]
    fn satisfiability_and_complement() {
        let a = Req::eq("app", "a");
        let b = Req::eq("app", "b");
        assert!(!satisfiable(&s(&[a.clone(), b.clone()])));
        assert!(satisfiable(&s(&[
            a.clone(),
            Req::not_in("app", ["b".into()])
        ])));
        assert!(!satisfiable(&s(&[a.clone(), a.negate()])));
        let c = complement_of_union(
            &[s(std::slice::from_ref(&a)), s(std::slice::from_ref(&b))],
            8,
        )
        .expect("small");
        assert_eq!(c.len(), 1);
        let labels = |v: &str| BTreeMap::from([("app".to_string(), v.to_string())]);
        assert!(matches(&c[0], &labels("c")) && !matches(&c[0], &labels("a")));
        assert!(matches(&c[0], &BTreeMap::new()));
        // The empty selector selects everything: nothing is left.
        assert!(complement_of_union(&[Sel::new()], 8)
            .expect("small")
            .is_empty());
    }
}
