//! The metadata every emitted object carries, one name each (docs/backend-conventions.md,
//! "Metadata of every emitted object"): every back end writes them, the evaluators read
//! the intent back, `netpolc fn` recognises its own objects by the label.

/// The label every emitted object carries, with value [`MANAGED_BY`].
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "netpolc";
/// The annotation naming the intent file (`Origin::file`).
pub const SOURCE_ANNOTATION: &str = "netpolc.dev/source";
/// The annotation naming the one intent an object implements (`set/intent`).
pub const INTENT_ANNOTATION: &str = "netpolc.dev/intent";

/// The object metadata netpolc reads and writes for the Calico and Cilium kinds (the
/// Kubernetes back end uses `k8s_openapi`'s): other metadata fields are accepted and
/// dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// `metadata.name`.
    #[serde(default)]
    pub name: String,
    /// `metadata.namespace` (namespaced kinds only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.labels`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// `metadata.annotations`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}
