//! Stable diagnostic codes of the front end (`NP2xxx`); `NP1xxx` belong to the YAML
//! loader. Every code is listed with an example in `docs/diagnostics.md`.

/// Missing or unsupported `apiVersion`/`kind`.
pub const BAD_KIND: &str = "NP2001";
/// A name defined twice (set, namespace, intent, test, profile).
pub const DUPLICATE: &str = "NP2002";
/// A reference to a group that does not exist.
pub const UNKNOWN_GROUP: &str = "NP2003";
/// A preset that does not exist.
pub const UNKNOWN_PRESET: &str = "NP2004";
/// An invalid port.
pub const BAD_PORT: &str = "NP2005";
/// An invalid CIDR or except.
pub const BAD_CIDR: &str = "NP2006";
/// An invalid label key or value.
pub const BAD_LABEL: &str = "NP2007";
/// A group that is empty or mixes kinds of peers.
pub const BAD_GROUP: &str = "NP2008";
/// An invalid enumerated value (direction, action, entity…).
pub const BAD_VALUE: &str = "NP2009";
/// An invalid name.
pub const BAD_NAME: &str = "NP2010";
/// A CIDR inside the cluster's own networks.
pub const CIDR_IN_CLUSTER: &str = "NP2011";
/// An invalid selector (operator, values, contradiction).
pub const BAD_SELECTOR: &str = "NP2012";
/// An intent with no pod at either end.
pub const NO_POD_SIDE: &str = "NP2013";
/// A DNS-name group used as a source.
pub const BAD_DIRECTION: &str = "NP2014";
/// An invalid connectivity test.
pub const BAD_TEST: &str = "NP2015";
/// An invalid L7 (HTTP) rule.
pub const BAD_L7: &str = "NP2016";
/// Note: one side of an intent lies in a namespace netpolc does not manage.
pub const UNMANAGED_SIDE: &str = "NP2021";
/// A selector on a label key that a CNI sets itself (`projectcalico.org/…`,
/// `io.kubernetes.pod.namespace`, `io.cilium.k8s.…`, `pcns.`/`pcsa.` prefixes): it
/// matches on one back end and not on another.
pub const CNI_LABEL: &str = "NP2040";
/// A ClusterProfile `targets` entry that is not a back end, or repeated, or an empty list.
pub const BAD_TARGETS: &str = "NP2041";
/// Something that has no effect (a note or warning).
pub const NO_EFFECT: &str = "NP2020";
