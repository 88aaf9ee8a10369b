//! Stable diagnostic codes of the Cilium back end (`NP5xxx`).
//!
//! A code is never reused for another meaning. Each diagnostic's primary label is the
//! intent's span, its message names the intent, and its notes say why Cilium cannot
//! express the construct exactly.

/// Error: a subject or peer selects pods by a label key that Cilium's default identity
/// label filter leaves out of security identities (`pod-template-hash`,
/// `kubernetes.io/*`, `statefulset.kubernetes.io/pod-name`, …). Such a selector never
/// matches on Cilium: an allow would silently shrink and a deny would silently widen.
pub const EXCLUDED_LABEL: &str = "NP5001";

/// Warning: a CIDR peer overlaps the profile's pod or node networks. Cilium CIDR rules
/// never match pods (nor, by default, nodes), so the overlapping part means nothing on
/// Cilium; the intent must select pods by labels or name an entity instead.
pub const CIDR_OVERLAPS_CLUSTER: &str = "NP5002";

/// Error: an SCTP port while `Options::sctp` is off. Cilium ignores SCTP rules unless the
/// agent runs with `enable-sctp` (off by default).
pub const SCTP_DISABLED: &str = "NP5003";

/// Error: an L7 HTTP constraint or an FQDN peer on a deny intent. Cilium deny rules take
/// neither (`ingressDeny`/`egressDeny` have no `rules` and no `toFQDNs`).
pub const L7_ON_DENY: &str = "NP5004";

/// Error: an FQDN peer on ingress. Cilium only has `toFQDNs`, on egress.
pub const FQDN_ON_INGRESS: &str = "NP5005";

/// Error: an FQDN egress allow whose subject has no DNS allow toward the profile's DNS
/// pods on port 53. Cilium learns FQDN addresses only from DNS answers seen by its DNS
/// proxy, which needs such an allow carrying `rules.dns`; netpolc never adds an allow
/// the intents did not ask for.
pub const FQDN_WITHOUT_DNS: &str = "NP5006";

/// Error: an L7 HTTP constraint on ports Cilium cannot attach L7 rules to: any port that
/// is not TCP, "all ports" (port 0) or "any protocol", or ICMP.
pub const HTTP_NEEDS_TCP_PORTS: &str = "NP5007";

/// Error: an ICMP code. Cilium `icmps` match the ICMP type only.
pub const ICMP_CODE: &str = "NP5008";

/// Error: an FQDN Cilium's schema rejects (`matchName` takes letters, digits, `-`, `_`
/// and dots; `matchPattern` also `*`; at most 255 characters).
pub const INVALID_FQDN: &str = "NP5009";
