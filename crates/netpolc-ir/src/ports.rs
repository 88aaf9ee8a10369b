//! Protocols and ports, with the set operations the deny subtraction needs.

use std::collections::BTreeSet;
use std::fmt;

/// An IP protocol netpolc can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
    /// ICMP (IPv4).
    Icmp,
    /// ICMPv6.
    IcmpV6,
}

impl Protocol {
    /// Upper-case spelling used by Kubernetes, Calico and Cilium (`ICMPv6` for v6).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
            Protocol::Icmp => "ICMP",
            Protocol::IcmpV6 => "ICMPv6",
        }
    }

    /// Whether the protocol has ports.
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::Tcp | Protocol::Udp | Protocol::Sctp)
    }

    /// The protocols with ports, the ones a flow in the cluster model uses.
    pub const PORTED: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().to_ascii_lowercase())
    }
}

/// Which ports of a protocol.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortSpec {
    /// Every port (or, for ICMP, every type).
    All,
    /// An inclusive range `start..=end`, `1 <= start <= end`; a single port has
    /// `start == end`.
    Range {
        /// First port.
        start: u16,
        /// Last port (inclusive).
        end: u16,
    },
    /// A named container port, resolved on the destination pod.
    Named(String),
    /// An ICMP type and optional code (protocol ICMP or ICMPv6 only).
    Icmp {
        /// ICMP type, 0–254.
        icmp_type: u8,
        /// ICMP code, 0–255.
        code: Option<u8>,
    },
}

/// One protocol with its ports.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortMatch {
    /// The protocol.
    pub protocol: Protocol,
    /// The ports.
    pub port: PortSpec,
}

impl PortMatch {
    /// `protocol` on a single port.
    pub fn single(protocol: Protocol, port: u16) -> Self {
        PortMatch {
            protocol,
            port: PortSpec::Range {
                start: port,
                end: port,
            },
        }
    }

    /// Whether a flow on `protocol`/`port` matches; `named` resolves a port name on the
    /// destination pod to `(protocol, number)`.
    pub fn matches(
        &self,
        protocol: Protocol,
        port: u16,
        named: &dyn Fn(&str) -> Option<(Protocol, u16)>,
    ) -> bool {
        self.protocol == protocol
            && self
                .span(named)
                .is_some_and(|(first, last)| (first..=last).contains(&port))
    }

    /// The ports of its protocol this match takes, `first..=last`; `None` when it takes
    /// none (a name the destination pod does not have on this protocol, an ICMP type).
    fn span(&self, named: &dyn Fn(&str) -> Option<(Protocol, u16)>) -> Option<(u16, u16)> {
        match &self.port {
            PortSpec::All => Some((0, u16::MAX)),
            PortSpec::Range { start, end } => Some((*start, *end)),
            PortSpec::Named(n) => match named(n) {
                Some((protocol, port)) if protocol == self.protocol => Some((port, port)),
                _ => None,
            },
            PortSpec::Icmp { .. } => None,
        }
    }
}

impl fmt::Display for PortMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.port {
            PortSpec::All => write!(f, "*/{}", self.protocol),
            PortSpec::Range { start, end } if start == end => {
                write!(f, "{start}/{}", self.protocol)
            }
            PortSpec::Range { start, end } => write!(f, "{start}-{end}/{}", self.protocol),
            PortSpec::Named(n) => write!(f, "{n}/{}", self.protocol),
            PortSpec::Icmp {
                icmp_type,
                code: None,
            } => write!(f, "{}:{icmp_type}", self.protocol),
            PortSpec::Icmp {
                icmp_type,
                code: Some(c),
            } => write!(f, "{}:{icmp_type}:{c}", self.protocol),
        }
    }
}

/// The ports of a rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ports {
    /// Every protocol and port (including protocols netpolc cannot name).
    Any,
    /// Exactly these; never empty. Shared: every rule an intent lowers to carries its
    /// ports, and a large program holds hundreds of thousands of rules.
    Only(std::sync::Arc<BTreeSet<PortMatch>>),
}

impl Ports {
    /// Exactly `ports` (never empty: see [`Ports::Only`]).
    pub fn only(ports: impl IntoIterator<Item = PortMatch>) -> Ports {
        Ports::Only(std::sync::Arc::new(ports.into_iter().collect()))
    }

    /// Whether a flow matches.
    pub fn matches(
        &self,
        protocol: Protocol,
        port: u16,
        named: &dyn Fn(&str) -> Option<(Protocol, u16)>,
    ) -> bool {
        match self {
            Ports::Any => true,
            Ports::Only(set) => set.iter().any(|m| m.matches(protocol, port, named)),
        }
    }

    /// Calls `hit(k)` for each `k` such that the flow `samples[k]` matches (what
    /// [`Ports::matches`] tells of each sample), in no set order and possibly more than
    /// once per `k`.
    ///
    /// The set is walked once for all the samples, and a port name is resolved once, not
    /// once per sample: a prepared side asks about a dozen samples per other end.
    pub fn each_match(
        &self,
        samples: &[(Protocol, u16)],
        named: &dyn Fn(&str) -> Option<(Protocol, u16)>,
        mut hit: impl FnMut(usize),
    ) {
        let set = match self {
            Ports::Any => {
                (0..samples.len()).for_each(hit);
                return;
            }
            Ports::Only(set) => set,
        };
        for m in set.iter() {
            let Some((first, last)) = m.span(named) else {
                continue;
            };
            for (k, &(protocol, port)) in samples.iter().enumerate() {
                if protocol == m.protocol && (first..=last).contains(&port) {
                    hit(k);
                }
            }
        }
    }

    /// The set, or `None` for [`Ports::Any`].
    pub fn as_set(&self) -> Option<&BTreeSet<PortMatch>> {
        match self {
            Ports::Any => None,
            Ports::Only(s) => Some(s),
        }
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ports::Any => f.write_str("any port"),
            Ports::Only(set) => {
                let parts: Vec<String> = set.iter().map(|p| p.to_string()).collect();
                f.write_str(&parts.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`Ports::each_match`] and [`Ports::matches`] tell of each sample what the rule's
    /// ports mean.
    #[test]
    fn each_match_and_matches_tell_what_the_ports_mean() {
        let named = |n: &str| match n {
            "http" => Some((Protocol::Tcp, 8080)),
            "dns" => Some((Protocol::Udp, 53)),
            _ => None,
        };
        let samples: Vec<(Protocol, u16)> = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
            .into_iter()
            .flat_map(|p| [0, 1, 53, 54, 79, 80, 81, 443, 8080, 8081, 65535].map(|n| (p, n)))
            .collect();
        let sets = [
            Ports::Any,
            Ports::only([PortMatch::single(Protocol::Tcp, 80)]),
            Ports::only([
                PortMatch {
                    protocol: Protocol::Tcp,
                    port: PortSpec::Range { start: 1, end: 80 },
                },
                PortMatch {
                    protocol: Protocol::Udp,
                    port: PortSpec::All,
                },
            ]),
            Ports::only([
                PortMatch {
                    protocol: Protocol::Tcp,
                    port: PortSpec::Named("http".into()),
                },
                // A name that resolves to another protocol matches nothing.
                PortMatch {
                    protocol: Protocol::Tcp,
                    port: PortSpec::Named("dns".into()),
                },
                PortMatch {
                    protocol: Protocol::Tcp,
                    port: PortSpec::Named("none".into()),
                },
                PortMatch {
                    protocol: Protocol::Icmp,
                    port: PortSpec::Icmp {
                        icmp_type: 8,
                        code: None,
                    },
                },
                PortMatch {
                    protocol: Protocol::Sctp,
                    port: PortSpec::Range {
                        start: 443,
                        end: 65535,
                    },
                },
            ]),
        ];
        for ports in &sets {
            let mut got = vec![false; samples.len()];
            ports.each_match(&samples, &named, |k| got[k] = true);
            // What a rule's ports mean, written out here (both methods share `span`).
            let means = |p: Protocol, n: u16| match ports {
                Ports::Any => true,
                Ports::Only(set) => set.iter().any(|m| {
                    m.protocol == p
                        && match &m.port {
                            PortSpec::All => true,
                            PortSpec::Range { start, end } => *start <= n && n <= *end,
                            PortSpec::Named(name) => named(name) == Some((p, n)),
                            PortSpec::Icmp { .. } => false,
                        }
                }),
            };
            let want: Vec<bool> = samples.iter().map(|&(p, n)| means(p, n)).collect();
            let matched: Vec<bool> = samples
                .iter()
                .map(|&(p, n)| ports.matches(p, n, &named))
                .collect();
            assert_eq!(got, want, "{ports}");
            assert_eq!(matched, want, "{ports}");
        }
    }
}
