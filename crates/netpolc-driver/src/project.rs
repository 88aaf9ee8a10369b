//! The back ends a project builds: the ClusterProfile's `targets` (all three when
//! absent), and the check that a requested target is one of them. `build`, `check`,
//! `render`, `fn` and the Argo CD plugin (through `render`) go through [`choose`].

use crate::Target;
use netpolc_ir::Program;

/// The project's back ends, in output order.
pub fn targets(program: &Program) -> Vec<Target> {
    match &program.profile.targets {
        None => Target::ALL.to_vec(),
        Some(names) => Target::ALL
            .into_iter()
            .filter(|t| names.iter().any(|n| n == t.name()))
            .collect(),
    }
}

/// The targets to render: `requested` when every one is a back end of the project, the
/// project's back ends when none is requested.
///
/// # Errors
/// A message naming the requested target and the project's back ends.
pub fn choose(program: &Program, requested: &[Target]) -> Result<Vec<Target>, String> {
    let project = targets(program);
    if requested.is_empty() {
        return Ok(project);
    }
    for t in requested {
        if !project.contains(t) {
            let names: Vec<&str> = project.iter().map(|t| t.name()).collect();
            return Err(format!(
                "target `{t}` is not a back end of this project (the ClusterProfile's `targets`: [{}])",
                names.join(", ")
            ));
        }
    }
    Ok(requested.to_vec())
}
