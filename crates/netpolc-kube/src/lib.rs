//! Shared Kubernetes knowledge, written once for the front end and every back end:
//!
//! - [`addr`]: which written addresses netpolc refuses (IPv4-mapped IPv6 blocks).
//!   `netpolc_ir::addr` re-exports it.
//! - [`names`]: the apimachinery name rules (DNS-1123 labels and subdomains, qualified
//!   names, label values). Needs nothing; `netpolc_ir::names` re-exports it.
//! - `networkpolicy` (feature `networkpolicy`): the one reader of `networking.k8s.io/v1`
//!   NetworkPolicy manifests, on `k8s_openapi`'s types, producing one typed form checked
//!   as the API server checks it (unknown fields included). The three back ends'
//!   evaluators read plain NetworkPolicies through it, each then applying its own CNI's
//!   semantics, so they accept and refuse exactly the same objects with the same words.
//! - `edits` (tests, and feature `test-support`): edits of a JSON tree for the
//!   differential tests of the fast readers.
//!
//! Like every library of netpolc, this crate never chooses k8s-openapi's API version
//! feature; the binary does.

pub mod addr;
#[cfg(any(test, feature = "test-support"))]
pub mod edits;
pub mod names;
#[cfg(feature = "networkpolicy")]
pub mod networkpolicy;
