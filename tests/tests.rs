//! netpolc's integration tests: one binary, one module per concern.
//!
//! - `corpus`: every case under `tests/cases/` through every stage, as insta snapshots.
//! - `manifests`: every emitted object (golden/ and the corpus) against the official
//!   schemas, the k8s-openapi types and each back end's server- or agent-side rules.
//! - `seed`: the seed scenario's two traps, shown impossible.
//! - `determinism`: identical bytes across runs and file orders.
//! - `cli`: the binary's contract (exit codes, stdout/stderr, atomic writes).
//! - `hostile`: hostile input (file names, links, paths) and honest diagnostics (every
//!   error in its place, bounded output, JSON/GitHub/SARIF/JUnit for CI).
//! - `fuzz`: a bounded fuzz of the loader and `fn` (no panic, exit 2 with a diagnostic).
//! - `docs`: every example of docs/diagnostics.md renders as documented.
//! - `golden`: writing golden/ (kills, concurrency, links, empty sets) and its layout.
//! - `gitops_repo`: the GitOps-scale repository of the benchmarks (also used by `benches/golden.rs`).
//! - `import`: existing policies into intents, proved equal (e2e scenarios, the seed).
//! - `diff`: `netpolc diff` on real Git repositories and manifests, and `netpolc graph`.
//! - `lean`: one object per subject and direction at GitOps scale, same meaning.

mod cli;
mod corpus;
mod determinism;
mod diff;
mod docs;
mod e2e;
mod eval;
mod fuzz;
mod gitops;
mod gitops_repo;
mod golden;
mod hostile;
mod import;
mod intent_schema;
mod lean;
mod manifests;
mod metadata;
mod proof;
mod properties;
mod release;
mod seed;
mod util;
