//! netpolc's integration tests: one binary, one module per concern.
//!
//! - `corpus`: every case under `tests/cases/` through every stage, as insta snapshots.
//! - `manifests`: every emitted object (golden/ and the corpus) against the official
//!   schemas, the k8s-openapi types and each back end's server- or agent-side rules.
//! - `seed`: the seed scenario's two traps, shown impossible.
//! - `determinism`: identical bytes across runs and file orders.
//! - `cli`: the binary's contract (exit codes, stdout/stderr, atomic writes).
//! - `golden`: writing golden/ (kills, concurrency, links, empty sets) and its layout.

mod cli;
mod corpus;
mod determinism;
mod e2e;
mod eval;
mod gitops;
mod golden;
mod manifests;
mod properties;
mod seed;
mod util;
