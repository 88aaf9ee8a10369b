//! The Kubernetes apimachinery name rules, written once (semantics.md §8.1): DNS-1123
//! labels and subdomains, qualified names (label keys) and label values. The front end,
//! every back end's validator and the golden/ mapping use these predicates; each caller
//! words its own messages.
//!
//! ```
//! use netpolc_kube::names::*;
//! assert!(is_dns_label("shop") && !is_dns_label("Shop") && !is_dns_label(&"a".repeat(64)));
//! assert!(is_dns_subdomain("netpolc.dev") && !is_dns_subdomain("a..b"));
//! assert!(is_qualified_name("app.kubernetes.io/name") && !is_qualified_name("a/b/c"));
//! assert!(is_label_value("") && is_label_value("v1.2_x") && !is_label_value("-x"));
//! ```

fn is_alnum_lower(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, of any length (a DNS-1123 label without its limit,
/// as in subdomains and Calico's `nameLabelFmt`).
pub fn is_label_form(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_alnum_lower(b[0])
        && is_alnum_lower(b[b.len() - 1])
        && b.iter().all(|c| is_alnum_lower(*c) || *c == b'-')
}

/// A DNS-1123 label: the label form, at most 63 characters (namespace names).
pub fn is_dns_label(s: &str) -> bool {
    s.len() <= 63 && is_label_form(s)
}

/// A DNS-1123 subdomain: label forms joined by dots, at most 253 characters (object
/// names, label key prefixes).
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label_form)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, of any length: the name part of a
/// qualified name and the form of a non-empty label value.
pub fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A qualified name (label and annotation keys): `[prefix/]name`, the prefix a DNS
/// subdomain, the name a qualified-name part of at most 63 characters.
pub fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(|p| !p.is_empty() && is_dns_subdomain(p))
        && name.len() <= 63
        && is_qualified_name_part(name)
}

/// A label value: empty, or a qualified-name part of at most 63 characters.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty() || (s.len() <= 63 && is_qualified_name_part(s))
}

/// A port name (`IsValidPortName`, an IANA service name): 1–15 lower-case letters,
/// digits and single inner hyphens, with at least one letter.
pub fn is_port_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 15
        && b.iter().all(|c| is_alnum_lower(*c) || *c == b'-')
        && b.iter().any(u8::is_ascii_lowercase)
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !s.contains("--")
}
