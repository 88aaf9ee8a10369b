//! The string and number formats we check: `cidr`, `ip`, `ipv4`, `ipv6`, `int32`,
//! `int64`. Other formats (`date-time`, `idn-hostname`, ...) are accepted as they are.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a string does not have its format, or `None` when it has it (or the format is
/// one we do not check).
pub(crate) fn string_format_problem(format: &str, s: &str) -> Option<&'static str> {
    let ok = match format {
        "cidr" => is_cidr(s),
        "ip" => s.parse::<IpAddr>().is_ok(),
        "ipv4" => s.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<Ipv6Addr>().is_ok(),
        _ => return None,
    };
    if ok {
        None
    } else {
        Some(match format {
            "cidr" => "a CIDR such as `10.0.0.0/8` or `2001:db8::/32`",
            "ip" => "an IP address",
            "ipv4" => "an IPv4 address",
            _ => "an IPv6 address",
        })
    }
}

/// Whether an integer fits its format (`int32`, `int64`; other formats always fit).
pub(crate) fn integer_fits(format: &str, n: &serde_json::Number) -> bool {
    match format {
        "int32" => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
        "int64" => n.as_i64().is_some(),
        _ => true,
    }
}

/// An address and a prefix length that fits it, like Go's `net.ParseCIDR` (host bits
/// may be set).
fn is_cidr(s: &str) -> bool {
    let Some((addr, len)) = s.split_once('/') else {
        return false;
    };
    if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(len) = len.parse::<u8>() else {
        return false;
    };
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => len <= 32,
        Ok(IpAddr::V6(_)) => len <= 128,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        for ok in [
            "10.0.0.0/8",
            "0.0.0.0/0",
            "10.1.2.3/32",
            "2001:db8::/32",
            "::/0",
            "10.1.0.0/16",
        ] {
            assert!(is_cidr(ok), "{ok}");
        }
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0/8",
            "::/129",
            "x/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "/8",
        ] {
            assert!(!is_cidr(bad), "{bad}");
        }
        assert!(string_format_problem("cidr", "nope").is_some());
        assert!(string_format_problem("date-time", "nope").is_none());
        assert!(string_format_problem("ip", "fe80::1").is_none());
        assert!(string_format_problem("ipv4", "fe80::1").is_some());
    }

    #[test]
    fn integers() {
        assert!(integer_fits("int32", &2147483647.into()));
        assert!(!integer_fits("int32", &2147483648i64.into()));
        assert!(!integer_fits("int64", &u64::MAX.into()));
        assert!(integer_fits("byte", &u64::MAX.into()));
    }
}
