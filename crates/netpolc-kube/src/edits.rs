//! Edits of a JSON tree, for the differential tests of the fast readers (this crate's
//! NetworkPolicy reader, Calico's policy reader): each fast reading must give what the
//! reference reading gives, or nothing, on every edit of a valid object. Test support
//! only: built for this crate's tests and, with the feature `test-support`, for the
//! tests of the crates that enable it as a dev-dependency.

use serde_json::Value;

/// Every value of `v` replaced, one at a time, by each of `others`; every key of a
/// map dropped, renamed, and joined by a `null` one; every array without each item, and
/// doubled.
pub fn edits(v: &Value, others: &[Value], out: &mut Vec<Value>) {
    for o in others {
        out.push(o.clone());
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let mut inner = Vec::new();
                edits(child, others, &mut inner);
                for e in inner {
                    let mut m = m.clone();
                    m.insert(k.clone(), e);
                    out.push(Value::Object(m));
                }
                let mut dropped = m.clone();
                dropped.shift_remove(k);
                out.push(Value::Object(dropped.clone()));
                let mut renamed = dropped;
                renamed.insert(format!("{k}s"), child.clone());
                out.push(Value::Object(renamed));
            }
            let mut extra = m.clone();
            extra.insert("extra".into(), Value::Null);
            out.push(Value::Object(extra));
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let mut inner = Vec::new();
                edits(child, others, &mut inner);
                for e in inner {
                    let mut a = a.clone();
                    a[i] = e;
                    out.push(Value::Array(a));
                }
                let mut dropped = a.clone();
                dropped.remove(i);
                out.push(Value::Array(dropped));
            }
            let mut doubled = a.clone();
            doubled.extend(a.iter().cloned());
            out.push(Value::Array(doubled));
        }
        _ => {}
    }
}
