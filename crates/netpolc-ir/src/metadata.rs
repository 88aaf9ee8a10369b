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
