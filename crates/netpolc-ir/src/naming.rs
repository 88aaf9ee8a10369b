//! Stable object names: DNS-1123 labels derived from intent and group names, shortened
//! with a stable hash when too long.
//!
//! Object names are built by [`object_name`] so that two different (set, intent,
//! direction, number) tuples never get one name (docs/backend-conventions.md, "Object
//! names"): the hyphens of the set name are doubled.

/// Joins `parts` with `-` into a DNS-1123 label of at most `max` characters: lower-case,
/// runs of characters outside `[a-z0-9]` become one `-`, no leading or trailing `-`.
/// When the result would be longer than `max`, it is cut and ends in `-` plus eight hex
/// digits of a hash of the full name, so distinct long names stay distinct and stable.
///
/// ```
/// use netpolc_ir::naming::dns_label;
/// assert_eq!(dns_label(&["Frontend_To", "backend"], 63), "frontend-to-backend");
/// let long = dns_label(&["x".repeat(80).as_str()], 63);
/// assert_eq!(long.len(), 63);
/// assert_eq!(long, dns_label(&["x".repeat(80).as_str()], 63));
/// ```
pub fn dns_label(parts: &[&str], max: usize) -> String {
    let mut out = String::new();
    for part in parts {
        for c in part.chars() {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    let out = if out.is_empty() { "x".to_string() } else { out };
    shorten(out, max)
}

/// The name of an object implementing `rest` (intent, direction, number; or `isolate`)
/// of intent set `set`: a DNS-1123 label of at most `max` characters that no other
/// (`set`, `rest`) of DNS-1123 labels gives (up to the hash of names over `max`).
///
/// The set comes first with each `-` doubled, then `-`, then the other parts joined with
/// `-`. Reading a name back: hyphen runs inside the set have even length and the one
/// after it has length one, so the set is what comes before the first lone `-`; the
/// rest ends in the direction (or is `isolate`), optionally followed by the number, so
/// it splits from the right. Sets without `-` (most) read exactly as before:
/// `a` + `b-c` is `a-b-c-...`, while `a-b` + `c` is `a--b-c-...`. Names longer than
/// `max` are cut and end in `-` and eight hex digits of a hash of the full name, as
/// [`dns_label`] does. Parts that are not DNS-1123 labels (never the case for a program
/// from the front end, which checks set and intent names) are normalised with
/// [`dns_label`] first, and then no longer guaranteed apart.
///
/// ```
/// use netpolc_ir::naming::object_name;
/// assert_eq!(object_name("shop", &["frontend-to-backend", "ingress"], 63), "shop-frontend-to-backend-ingress");
/// assert_eq!(object_name("a", &["b-c", "ingress"], 63), "a-b-c-ingress");
/// assert_eq!(object_name("a-b", &["c", "ingress"], 63), "a--b-c-ingress");
/// assert_eq!(object_name("a--b", &["isolate"], 63), "a----b-isolate");
/// ```
pub fn object_name(set: &str, rest: &[&str], max: usize) -> String {
    if !is_label_form(set) || !rest.iter().all(|p| is_label_form(p)) {
        let set = dns_label(&[set], usize::MAX);
        return object_name(&set, &[&dns_label(rest, usize::MAX)], max);
    }
    let mut full = set.replace('-', "--");
    for part in rest {
        full.push('-');
        full.push_str(part);
    }
    shorten(full, max)
}

/// `name` when it has at most `max` characters; otherwise cut, ending in `-` and eight
/// hex digits of a hash of the whole name.
fn shorten(name: String, max: usize) -> String {
    if name.len() <= max {
        return name;
    }
    let hash = format!("{:08x}", fnv1a(name.as_bytes()) as u32);
    let keep = max.saturating_sub(hash.len() + 1);
    let head = name[..keep].trim_end_matches('-');
    format!("{head}-{hash}")
}

use crate::names::is_label_form;

/// 64-bit FNV-1a: tiny, stable across platforms and releases.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits a name of [`object_name`] back into the set and the rest (names up to the
    /// length limit): the inverse that makes the scheme injective.
    fn read_back(name: &str) -> (String, String) {
        let bytes = name.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'-' {
                let run = bytes[i..].iter().take_while(|b| **b == b'-').count();
                if run == 1 {
                    return (name[..i].replace("--", "-"), name[i + 1..].to_string());
                }
                assert!(run % 2 == 0, "{name}: a run of {run} hyphens");
                i += run;
            } else {
                i += 1;
            }
        }
        panic!("no set in {name}");
    }

    #[test]
    fn names_of_distinct_sets_and_intents_are_distinct() {
        let words = ["a", "b", "a-b", "b-c", "c", "a--b", "x-y-z", "isolate"];
        let mut seen = std::collections::BTreeMap::new();
        for set in words {
            for intent in words {
                for dir in ["ingress", "egress"] {
                    let name = object_name(set, &[intent, dir], 63);
                    assert_eq!(
                        read_back(&name),
                        (set.to_string(), format!("{intent}-{dir}"))
                    );
                    if let Some(other) = seen.insert(name.clone(), (set, intent, dir)) {
                        panic!("{name}: {other:?} and {:?}", (set, intent, dir));
                    }
                }
            }
        }
        assert_eq!(object_name("a", &["b-c", "ingress"], 63), "a-b-c-ingress");
        assert_eq!(object_name("a-b", &["c", "ingress"], 63), "a--b-c-ingress");
    }

    #[test]
    fn long_names_are_cut_with_a_hash_and_stay_labels() {
        let long = "s".repeat(70);
        let a = object_name("a-b", &[&long, "ingress"], 63);
        let b = object_name("a", &[&format!("b-{long}"), "ingress"], 63);
        assert_eq!(a.len(), 63);
        assert_ne!(a, b);
        assert!(crate::names::is_dns_label(&a) && crate::names::is_dns_label(&b));
    }
}
