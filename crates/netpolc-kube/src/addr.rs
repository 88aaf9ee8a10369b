//! Address rules shared by the front end, `import` and the evaluators: which written
//! addresses netpolc refuses because their meaning depends on who reads them.

use std::net::{IpAddr, Ipv6Addr};

/// Whether `a` is an IPv4 address written as IPv6 (`::ffff:a.b.c.d`), as Kubernetes'
/// strict CIDR validation tells them. A CNI may read a block of such addresses as IPv4
/// addresses or as IPv6 ones, so netpolc neither renders, imports nor evaluates them.
pub fn v4_mapped(a: &Ipv6Addr) -> bool {
    let s = a.segments();
    s[..5].iter().all(|&x| x == 0) && s[5] == 0xffff
}

/// [`v4_mapped`] for any address (an IPv4 one never is).
pub fn is_v4_mapped(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(_) => false,
        IpAddr::V6(v6) => v4_mapped(v6),
    }
}

/// Why an evaluator refuses the block written `text`: the words `eval`, `diff` and the
/// proofs of existing manifests give, after the object and field they name.
pub fn refusal(text: &str) -> String {
    format!(
        "`{text}` is an IPv4-mapped IPv6 CIDR, which a CNI may read as IPv4 or as IPv6 addresses: netpolc does not evaluate it; write the IPv4 CIDR"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_in_the_mapped_block_are_mapped() {
        for (text, mapped) in [
            ("::ffff:10.0.0.0", true),
            ("::ffff:0:0", true),
            ("::ffff:ffff:ffff", true),
            ("::", false),
            ("::1", false),
            // The IPv4-compatible form (deprecated) and neighbours of the block.
            ("::10.0.0.1", false),
            ("::fffe:10.0.0.0", false),
            ("0:0:0:0:1:ffff:a00:0", false),
            ("64:ff9b::10.0.0.1", false),
            ("2001:db8::ffff:10.0.0.0", false),
            ("10.0.0.0", false),
        ] {
            let a: IpAddr = text.parse().unwrap();
            assert_eq!(is_v4_mapped(&a), mapped, "{text}");
        }
    }
}
