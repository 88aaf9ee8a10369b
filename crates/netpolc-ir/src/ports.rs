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
        if self.protocol != protocol {
            return false;
        }
        match &self.port {
            PortSpec::All => true,
            PortSpec::Range { start, end } => (*start..=*end).contains(&port),
            PortSpec::Named(n) => named(n) == Some((protocol, port)),
            PortSpec::Icmp { .. } => false,
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
