//! Compiling deny rules away by subtraction, for allow-only back ends (Kubernetes).
//!
//! [`lower`] returns a program with the same meaning (see the crate docs) and no
//! [`Action::Deny`] rule, or diagnostics naming each deny intent that cannot be
//! subtracted exactly.

use crate::{Action, Program};
use netpolc_source::Diagnostic;

/// Subtracts every deny rule from the allow rules it overlaps.
///
/// # Errors
/// One diagnostic per deny intent that cannot be expressed exactly by subtraction.
pub fn lower(program: &Program) -> Result<Program, Vec<Diagnostic>> {
    let mut out = program.clone();
    out.rules.retain(|r| r.action == Action::Allow);
    // Work in progress: the subtraction itself lands with the front end.
    if program.rules.iter().any(|r| r.action == Action::Deny) {
        return Err(vec![Diagnostic::error(
            "NP3001",
            "deny intents are not yet subtracted for the kubernetes backend",
        )]);
    }
    Ok(out)
}
