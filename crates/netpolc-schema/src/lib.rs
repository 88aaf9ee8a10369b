//! Validation of emitted manifests against the official schemas (test support).
//!
//! The back ends' tests check every object they emit against the schema the cluster
//! would use: the Kubernetes OpenAPI document for `NetworkPolicy`, and the
//! CustomResourceDefinitions of Calico, Cilium and network-policy-api, all kept unmodified
//! in `tests/fixtures/schemas/` (vendored; see its `README.md`). [`Validator::validate`] returns every
//! problem as `path: message`, e.g. `spec.ingress[0].ports[0].port: expected integer or
//! string`.
//!
//! The validator implements the Kubernetes *structural schema* subset of OpenAPI v3 itself
//! (no JSON Schema engine): `type`, `properties`, `required`, `additionalProperties`,
//! `items`, `enum`, `pattern`, bounds on numbers, lengths, items and properties,
//! `allOf`/`anyOf`/`oneOf`/`not`, `nullable`, the formats `cidr`, `ip`, `ipv4`, `ipv6`,
//! `int32` and `int64`, `x-kubernetes-int-or-string`, `x-kubernetes-list-type: set|map`
//! and `$ref`. Unknown fields are errors unless `x-kubernetes-preserve-unknown-fields` is
//! set, as with `kubectl apply --validate=strict`. CEL rules (`x-kubernetes-validations`)
//! are not evaluated; [`Validator::cel_rules`] lists them so back ends can test that they
//! re-implement each one.
//!
//! ```
//! use netpolc_schema::{schemas_dir, Validator};
//! let v = Validator::kubernetes_networkpolicy(&schemas_dir()).unwrap();
//! let policy = serde_json::json!({
//!     "apiVersion": "networking.k8s.io/v1",
//!     "kind": "NetworkPolicy",
//!     "metadata": {"name": "allow-dns", "namespace": "shop"},
//!     "spec": {
//!         "podSelector": {},
//!         "policyTypes": ["Egress"],
//!         "egress": [{"ports": [{"protocol": "UDP", "port": true}]}]
//!     }
//! });
//! assert_eq!(
//!     v.validate(&policy),
//!     ["spec.egress[0].ports[0].port: expected integer or string"]
//! );
//! ```
#![deny(missing_docs)]

mod check;
mod formats;
mod validator;

#[cfg(test)]
mod tests;

pub use validator::Validator;

use std::path::PathBuf;

/// The vendored schemas, `tests/fixtures/schemas` of this repository (provenance and
/// licences in its README), found from this crate's location at compile time.
pub fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/schemas")
}
