//! Stable object names: DNS-1123 labels derived from intent and group names, shortened
//! with a stable hash when too long.

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
    if out.len() <= max {
        return out;
    }
    let hash = format!("{:08x}", fnv1a(out.as_bytes()) as u32);
    let keep = max.saturating_sub(hash.len() + 1);
    let head = out[..keep].trim_end_matches('-');
    format!("{head}-{hash}")
}

/// 64-bit FNV-1a: tiny, stable across platforms and releases.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
