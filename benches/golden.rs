//! Benchmarks of golden/ at GitOps scale, on the repository of `benches/gitops_scale.py`
//! (N namespaces × 25 intents: seven app groups, a peer group in the next namespace, a
//! team group by namespace labels, a partner CIDR, a port range, UDP and one deny each):
//! render + layout into per-namespace files per back end (`golden/files`), and a complete
//! atomic `golden::write` of all three back ends into a fresh folder (`golden/write`).
//!
//! Run: `cargo bench --bench golden`. Process-level numbers (wall time, peak RSS, objects,
//! bytes, `kubectl kustomize`) come from `python3 benches/gitops_scale.py`.

#[path = "../tests/gitops_repo.rs"]
mod gitops_repo;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use netpolc_driver::{golden, load, Options, Target};
use netpolc_ir::Program;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn repository(n: usize) -> PathBuf {
    let root =
        std::env::temp_dir().join(format!("netpolc-bench-golden-{n}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    gitops_repo::write(&root.join("policies"), n);
    root
}

fn compile(root: &Path) -> Program {
    let loaded = load::policies(root, Path::new("policies")).expect("policies exist");
    netpolc_driver::compile(&loaded).program.expect("compiles")
}

fn files(program: &Program, t: Target) -> golden::Files {
    let objects = netpolc_driver::render(program, t, &Options::default())
        .unwrap_or_else(|d| panic!("{t}: {d:?}"))
        .objects;
    golden::files(t, &netpolc_driver::emit::Emitted::all(t, &objects))
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("golden");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    for n in [100, 500] {
        let root = repository(n);
        let program = compile(&root);
        let mut all = golden::Files::new();
        for t in Target::ALL {
            let f = files(&program, t);
            eprintln!(
                "{n} namespaces, {t}: {} files, {} bytes",
                f.len(),
                f.values().map(String::len).sum::<usize>()
            );
            all.extend(f);
            g.bench_function(BenchmarkId::new(format!("files/{t}"), n), |b| {
                b.iter(|| black_box(files(&program, t).len()))
            });
        }
        let out = root.join("golden");
        g.bench_function(BenchmarkId::new("write/all", n), |b| {
            b.iter(|| {
                let _ = std::fs::remove_dir_all(&out);
                let lock = golden::lock(&out, true, || {}).expect("lock");
                black_box(golden::write(&root, &out, &Target::ALL, &all, &lock).expect("write"))
            })
        });
        let _ = std::fs::remove_dir_all(&root);
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
