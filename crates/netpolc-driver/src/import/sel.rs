//! The selector algebra of `import`: label requirements in conjunction, their
//! satisfiability, complement (as a union of conjunctions) and intersection, and the
//! YAML and names they are written as.
//!
//! The requirements themselves, their matching and negation, and satisfiability are
//! `netpolc_ir`'s ([`netpolc_ir::Requirement`], [`netpolc_ir::LabelSelector`]); a `Sel`
//! keeps the requirements as the source wrote them (not merged per key), so that the
//! written selectors and group names follow the source.

use netpolc_ir::LabelSelector;
pub(crate) use netpolc_ir::{Op, Requirement as Req};
use std::collections::{BTreeMap, BTreeSet};

/// A conjunction of requirements (empty: everything).
pub(crate) type Sel = BTreeSet<Req>;

/// Whether every requirement holds on `labels`.
pub(crate) fn matches(sel: &Sel, labels: &BTreeMap<String, String>) -> bool {
    sel.iter().all(|r| r.matches(labels))
}

/// Whether some label map satisfies the conjunction (exact: keys are independent).
pub(crate) fn satisfiable(sel: &Sel) -> bool {
    LabelSelector::from_requirements(sel.iter().cloned()).is_some()
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
            let op = r.op.as_str();
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
        let a = Req::is_in("app", ["a"]);
        let b = Req::is_in("app", ["b"]);
        assert!(!satisfiable(&s(&[a.clone(), b.clone()])));
        assert!(satisfiable(&s(&[a.clone(), Req::not_in("app", ["b"])])));
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
