//! Parsing the port notation of intents: `8080/tcp`, `8000-8100/tcp`, `http/tcp`,
//! `udp` (every UDP port), `icmp`, `icmp:8`, `icmp:8:0`, `icmpv6:128`.
//!
//! Protocols are case-insensitive (`8080/TCP` is `8080/tcp`). Nothing else is rewritten:
//! numbers are decimal without leading zeros (`0080` and `0x50` are refused, as CIDRs
//! with leading zeros are), and port names are case-sensitive lower-case IANA names
//! (`Http` is refused, with a hint, instead of becoming `http`).

use netpolc_ir::{PortMatch, PortSpec, Protocol};

/// Parses one port item; the error is a message for a diagnostic.
pub fn parse_port(text: &str) -> Result<PortMatch, String> {
    match simple_port(text) {
        Some(simple) => Ok(simple),
        None => parse_any_port(text),
    }
}

/// [`parse_port`] of any item, the commonest form included.
fn parse_any_port(text: &str) -> Result<PortMatch, String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    for (name, protocol) in [("icmpv6", Protocol::IcmpV6), ("icmp", Protocol::Icmp)] {
        if let Some(rest) = lower.strip_prefix(name) {
            if rest.is_empty() {
                return Ok(PortMatch {
                    protocol,
                    port: PortSpec::All,
                });
            }
            let Some(rest) = rest.strip_prefix(':') else {
                continue;
            };
            let mut parts = rest.split(':');
            let ty = parts.next().unwrap_or_default();
            decimal(ty)?;
            let icmp_type: u8 = ty
                .parse()
                .ok()
                .filter(|v| *v <= 254)
                .ok_or_else(|| format!("ICMP type `{ty}` is not a number from 0 to 254"))?;
            let code = match parts.next() {
                None => None,
                Some(c) => Some(decimal(c).and_then(|()| {
                    c.parse::<u8>()
                        .map_err(|_| format!("ICMP code `{c}` is not a number from 0 to 255"))
                })?),
            };
            if parts.next().is_some() {
                return Err("expected `icmp:TYPE` or `icmp:TYPE:CODE`".to_string());
            }
            return Ok(PortMatch {
                protocol,
                port: PortSpec::Icmp { icmp_type, code },
            });
        }
    }
    let protocol_of = |p: &str| match p {
        "tcp" => Some(Protocol::Tcp),
        "udp" => Some(Protocol::Udp),
        "sctp" => Some(Protocol::Sctp),
        _ => None,
    };
    if let Some(protocol) = protocol_of(&lower) {
        return Ok(PortMatch {
            protocol,
            port: PortSpec::All,
        });
    }
    let Some((port, proto)) = t.rsplit_once('/') else {
        return Err(if lower.chars().all(|c| c.is_ascii_digit()) {
            format!("port `{t}` needs a protocol: write `{t}/tcp`, `{t}/udp` or `{t}/sctp`")
        } else {
            format!("`{t}` is not a port: expected `PORT/PROTOCOL`, `FROM-TO/PROTOCOL`, `NAME/PROTOCOL`, a protocol, or `icmp[:TYPE[:CODE]]`")
        });
    };
    let protocol = protocol_of(&proto.to_ascii_lowercase())
        .ok_or_else(|| format!("unknown protocol `{proto}`: expected `tcp`, `udp` or `sctp`"))?;
    let number = |s: &str| -> Result<u16, String> {
        decimal(s)?;
        s.parse::<u16>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("port `{s}` is not a number from 1 to 65535"))
    };
    let port = if let Some((a, b)) = port.split_once('-') {
        if a.chars().all(|c| c.is_ascii_digit()) && !a.is_empty() {
            let (start, end) = (number(a)?, number(b)?);
            if start > end {
                return Err(format!("port range `{port}` ends before it starts"));
            }
            PortSpec::Range { start, end }
        } else {
            named(port)?
        }
    } else if port.chars().all(|c| c.is_ascii_digit()) {
        let n = number(port)?;
        PortSpec::Range { start: n, end: n }
    } else {
        named(port)?
    };
    Ok(PortMatch { protocol, port })
}

/// The commonest item, `PORT/tcp` (or `udp`, `sctp`) with a valid port number, read
/// without the general way's copies; `None` for anything else, which the general way
/// reads (to the same value, when it is this form).
fn simple_port(text: &str) -> Option<PortMatch> {
    let (port, proto) = text.split_once('/')?;
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        _ => return None,
    };
    let b = port.as_bytes();
    // One to five digits, the first not a zero: 1 to 99999, a port when at most 65535.
    if b.is_empty() || b.len() > 5 || b[0] == b'0' || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = u16::try_from(b.iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0'))).ok()?;
    Some(PortMatch {
        protocol,
        port: PortSpec::Range { start: n, end: n },
    })
}

/// Refuses numbers written with leading zeros or in another base.
fn decimal(s: &str) -> Result<(), String> {
    let digits = s.chars().all(|c| c.is_ascii_digit());
    if digits && s.len() > 1 && s.starts_with('0') {
        let value = s.trim_start_matches('0');
        let value = if value.is_empty() { "0" } else { value };
        return Err(format!(
            "`{s}` has a leading zero: write `{value}` (numbers are decimal and written without leading zeros)"
        ));
    }
    Ok(())
}

/// A named port must be an IANA service name: at most 15 characters, lower-case letters,
/// digits and `-`, at least one letter, no leading, trailing or double `-`.
fn named(name: &str) -> Result<PortSpec, String> {
    let lower = name.to_ascii_lowercase();
    if let Some(hex) = ["0x", "0o", "0b"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))
    {
        let radix = match &lower[..2] {
            "0x" => 16,
            "0o" => 8,
            _ => 2,
        };
        if let Ok(n) = u32::from_str_radix(hex, radix) {
            return Err(format!(
                "`{name}` is a number in base {radix}, not a port name: write the port in decimal, `{n}`"
            ));
        }
    }
    if lower != name && named(&lower).is_ok() {
        return Err(format!(
            "port name `{name}` is not lower-case: port names are case-sensitive, write `{lower}`"
        ));
    }
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.chars().any(|c| c.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(PortSpec::Named(name.to_string()))
    } else {
        Err(format!(
            "`{name}` is not a port number or a valid port name (at most 15 lower-case letters, digits and single `-`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortcut reads what the general way reads, wherever it reads at all.
    #[test]
    fn the_simple_form_reads_as_the_general_way_reads_it() {
        let mut texts: Vec<String> = [
            "1/tcp",
            "53/udp",
            "80/sctp",
            "65535/tcp",
            "65536/tcp",
            "99999/udp",
            "0/tcp",
            "08/tcp",
            "00/tcp",
            "123456/tcp",
            "/tcp",
            "80/",
            "80/TCP",
            "80/tcp ",
            " 80/tcp",
            "8a/tcp",
            "80/tcp/udp",
            "80-90/tcp",
            "http/tcp",
            "80/icmp",
            "+80/tcp",
            "-80/tcp",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for n in (0..70_000u32)
            .step_by(7)
            .chain([1, 9, 10, 99, 100, 65_534, 65_535])
        {
            for proto in ["tcp", "udp", "sctp"] {
                texts.push(format!("{n}/{proto}"));
            }
        }
        let mut simple = 0;
        for text in &texts {
            if let Some(fast) = simple_port(text) {
                simple += 1;
                assert_eq!(Ok(fast), parse_any_port(text), "{text:?}");
            }
        }
        assert!(simple > 10_000);
        assert_eq!(simple_port("65536/tcp"), None);
        assert_eq!(simple_port("08/tcp"), None);
    }

    #[test]
    fn forms() {
        assert_eq!(
            parse_port("8080/tcp").unwrap(),
            PortMatch::single(Protocol::Tcp, 8080)
        );
        assert_eq!(
            parse_port("8000-8100/TCP").unwrap().port,
            PortSpec::Range {
                start: 8000,
                end: 8100
            }
        );
        assert_eq!(
            parse_port("metrics/tcp").unwrap().port,
            PortSpec::Named("metrics".into())
        );
        assert_eq!(parse_port("udp").unwrap().port, PortSpec::All);
        assert_eq!(
            parse_port("icmp:8:0").unwrap().port,
            PortSpec::Icmp {
                icmp_type: 8,
                code: Some(0)
            }
        );
        assert_eq!(parse_port("icmpv6").unwrap().protocol, Protocol::IcmpV6);
    }

    #[test]
    fn errors() {
        assert!(parse_port("53").unwrap_err().contains("needs a protocol"));
        assert!(parse_port("0/tcp").is_err());
        assert!(parse_port("70000/tcp").is_err());
        assert!(parse_port("90-80/tcp").is_err());
        assert!(parse_port("80/icmp").is_err());
        assert!(parse_port("icmp:300").is_err());
        assert!(parse_port("Bad_Name/tcp").is_err());
    }

    #[test]
    fn nothing_is_rewritten_silently() {
        let e = parse_port("Http/tcp").unwrap_err();
        assert!(e.contains("write `http`"), "{e}");
        let e = parse_port("0080/tcp").unwrap_err();
        assert!(e.contains("leading zero") && e.contains("`80`"), "{e}");
        let e = parse_port("0x50/tcp").unwrap_err();
        assert!(e.contains("`80`"), "{e}");
        assert!(parse_port("icmp:08").is_err());
        assert!(parse_port("80-0090/tcp").is_err());
        // Protocols stay case-insensitive (documented).
        assert_eq!(
            parse_port("80/TCP").unwrap(),
            PortMatch::single(Protocol::Tcp, 80)
        );
        assert_eq!(
            parse_port("http/tcp").unwrap().port,
            PortSpec::Named("http".into())
        );
    }
}
