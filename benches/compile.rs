//! Benchmarks of the netpolc pipeline on a generated repository: load + compile, render
//! and YAML emission on 1,000 namespaces (`pipeline`), their growth on 50, 100 and 200
//! namespaces (`scaling`), and the exact proof of all three back ends by part (model
//! derivation, read-back and evaluators, the proof itself) on 50, 100 and 200 namespaces
//! (`validation`).
//!
//! Each namespace is an `IntentSet` that isolates both directions, uses the `allow-dns`
//! and `block-cloud-metadata` presets, has 3–5 groups (two of them in other namespaces, by
//! name and by label) and 5–10 intents, among them cross-namespace ones, a port range, a
//! named port, UDP, `world` and a deny.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-verify cargo bench --bench compile`. Sample sizes
//! are small so the whole run takes a few minutes; medians are what to compare.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use netpolc_driver::{load, verify, Options, Target};
use netpolc_ir::Program;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The namespace name of index `i`.
fn ns(i: usize) -> String {
    format!("ns-{i:04}")
}

/// The intent set of namespace `i` in a repository of `n` namespaces.
fn intent_set(i: usize, n: usize) -> String {
    let groups = 3 + i % 3;
    let intents = 5 + i % 6;
    let mut s = String::new();
    let _ = write!(
        s,
        "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {{name: {name}}}\nspec:\n  namespace: {name}\n  namespaceLabels: {{team: t{team}, tier: {tier}}}\n  isolate: [ingress, egress]\n  presets: [allow-dns, block-cloud-metadata]\n  groups:\n    web: {{selector: {{app: web}}}}\n    api: {{selector: {{matchLabels: {{app: api}}, matchExpressions: [{{key: track, operator: NotIn, values: [canary]}}]}}}}\n    db: {{selector: {{app: db}}}}\n",
        name = ns(i),
        team = i / 10,
        tier = if i % 2 == 0 { "web" } else { "data" },
    );
    if groups >= 4 {
        let _ = writeln!(
            s,
            "    peer-api: {{selector: {{app: api}}, namespaces: [{}]}}",
            ns((i + 1) % n)
        );
    }
    if groups >= 5 {
        // Teams own ten namespaces each, so a team selector spans ten namespaces whatever
        // the size of the repository (objects then grow linearly with namespaces).
        let _ = writeln!(
            s,
            "    team: {{namespaces: {{team: t{}}}}}",
            ((i / 10) + 1) % n.div_ceil(10)
        );
    }
    let mut candidates: Vec<String> = vec![
        "{name: web-to-api, from: web, to: api, ports: [8080/tcp]}".into(),
        "{name: api-to-db, from: api, to: db, ports: [5432/tcp]}".into(),
        "{name: web-to-world, from: web, to: world, ports: [443/tcp]}".into(),
        "{name: scrape, from: all, to: all, ports: [9090/tcp]}".into(),
        "{name: no-web-scrape-db, from: web, to: db, ports: [9090/tcp], action: deny}".into(),
    ];
    if groups >= 4 {
        candidates.push("{name: to-peer-api, from: api, to: peer-api, ports: [8443/tcp]}".into());
    }
    if groups >= 5 {
        candidates.push("{name: from-team, from: team, to: web, ports: [8080/tcp]}".into());
    }
    candidates.extend([
        "{name: batch, from: web, to: api, ports: [30000-30100/tcp]}".to_string(),
        "{name: statsd, from: api, to: db, ports: [8125/udp]}".to_string(),
        "{name: web-http, from: web, to: api, ports: [http/tcp]}".to_string(),
    ]);
    s.push_str("  intents:\n");
    for c in candidates.iter().take(intents) {
        let _ = writeln!(s, "    - {c}");
    }
    s
}

/// Writes a repository of `n` namespaces (one file each, plus the cluster profile) under
/// a fresh temporary directory; returns the project root.
fn repository(n: usize) -> PathBuf {
    let root = std::env::temp_dir().join(format!("netpolc-bench-{n}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("policies");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("cluster-profile.yaml"),
        "apiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\nspec:\n  podCIDRs: [10.244.0.0/16]\n  serviceCIDRs: [10.96.0.0/12]\n  nodeCIDRs: [192.168.0.0/24]\n",
    )
    .unwrap();
    for i in 0..n {
        std::fs::write(dir.join(format!("{}.yaml", ns(i))), intent_set(i, n)).unwrap();
    }
    root
}

fn compile(root: &Path) -> Program {
    let loaded = load::policies(root, Path::new("policies")).expect("policies exist");
    let compiled = netpolc_driver::compile(&loaded);
    let errors: Vec<String> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    compiled.program.expect("compiles")
}

fn render_all(program: &Program) -> Vec<(Target, Vec<serde_json::Value>)> {
    Target::ALL
        .iter()
        .map(|t| {
            let r = netpolc_driver::render(program, *t, &Options::default())
                .unwrap_or_else(|d| panic!("{t}: {d:?}"));
            (*t, r.objects)
        })
        .collect()
}

fn render(program: &Program, t: Target) -> usize {
    netpolc_driver::render(program, t, &Options::default())
        .unwrap_or_else(|d| panic!("{t}: {d:?}"))
        .objects
        .len()
}

/// 1,000 namespaces: load + compile, render each back end (`netpolc_driver::render`:
/// compile, the objects as JSON, the `${` guard and validation; no proof), emit the YAML
/// of every object.
fn pipeline(c: &mut Criterion) {
    let n = 1000;
    let root = repository(n);
    let program = compile(&root);
    let intents: usize = (0..n).map(|i| 5 + i % 6).sum();
    eprintln!(
        "repository: {n} namespaces, {intents} intents, {} IR rules",
        program.rules.len()
    );

    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    g.bench_function(BenchmarkId::new("load+compile", n), |b| {
        b.iter(|| black_box(compile(&root)))
    });
    let mut objects = Vec::new();
    for t in Target::ALL {
        // The generated repository has deny intents Kubernetes refuses; every back end
        // that renders it is measured.
        let Ok(rendered) = netpolc_driver::render(&program, t, &Options::default()) else {
            eprintln!("{t}: refused, not measured");
            continue;
        };
        let rendered = rendered.objects;
        eprintln!("{t}: {} objects", rendered.len());
        objects.extend(rendered);
        g.bench_function(BenchmarkId::new(format!("render/{t}"), n), |b| {
            b.iter(|| black_box(render(&program, t)))
        });
    }
    g.bench_function(BenchmarkId::new("emit-yaml/calico+cilium", n), |b| {
        b.iter(|| {
            black_box(
                objects
                    .iter()
                    .map(|o| netpolc_driver::emit::to_yaml(o).len())
                    .sum::<usize>(),
            )
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&root);
}

/// Growth with the number of namespaces: load + compile and render per back end on 50,
/// 100 and 200 namespaces.
fn scaling(c: &mut Criterion) {
    let mut g = c.benchmark_group("scaling");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for n in [50, 100, 200] {
        let root = repository(n);
        let program = compile(&root);
        g.bench_function(BenchmarkId::new("load+compile", n), |b| {
            b.iter(|| black_box(compile(&root)))
        });
        for t in Target::ALL {
            eprintln!("{n} namespaces, {t}: {} objects", render(&program, t));
            g.bench_function(BenchmarkId::new(format!("render/{t}"), n), |b| {
                b.iter(|| black_box(render(&program, t)))
            });
        }
        let _ = std::fs::remove_dir_all(&root);
    }
    g.finish();
}

fn describe(n: usize, model: &netpolc_ir::model::ClusterModel) {
    eprintln!(
        "{n} namespaces: model of {} namespaces, {} pods, {} addresses, {} ports: {} flows",
        model.namespaces.len(),
        model.pods.len(),
        model.externals.len(),
        model.ports.len(),
        model.flows().len()
    );
}

/// The exact proof (`netpolc_ir::proof`) of all three back ends, by part: model
/// derivation; reading the emitted objects back and building the evaluators
/// (`verify::applied_evaluator`); and the proof alone on evaluators built once, on 50,
/// 100 and 200 namespaces. Every part grows linearly in the namespaces (`benches/proof.sh`
/// runs the whole `netpolc check` up to 2,000).
fn validation(c: &mut Criterion) {
    let mut g = c.benchmark_group("validation");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    for n in [50, 100, 200] {
        let root = repository(n);
        let program = compile(&root);
        let rendered = render_all(&program);
        let model = netpolc_ir::derive::derive(&program);
        describe(n, &model);
        let found = verify::validate(&program, &model, &rendered, 10).expect("evaluates");
        assert!(found.is_empty(), "{found:?}");
        g.bench_function(BenchmarkId::new("derive", n), |b| {
            b.iter(|| black_box(netpolc_ir::derive::derive(&program).pods.len()))
        });
        g.bench_function(BenchmarkId::new("read-back+evaluators", n), |b| {
            b.iter(|| {
                for (t, objects) in &rendered {
                    black_box(verify::applied_evaluator(*t, objects).is_ok());
                }
            })
        });
        let evaluators: Vec<_> = rendered
            .iter()
            .map(|(t, objects)| verify::applied_evaluator(*t, objects).expect("reads back"))
            .collect();
        let targets: Vec<&dyn netpolc_ir::model::Evaluator> =
            evaluators.iter().map(|e| e.as_ref()).collect();
        let intended = netpolc_ir::eval::intended(&program);
        let networks = program.profile.cluster_cidrs();
        g.bench_function(BenchmarkId::new("prove", n), |b| {
            b.iter(|| {
                let proof = netpolc_ir::proof::prove(&model, &networks, &intended, &targets, 10);
                assert!(proof.findings.is_empty());
                black_box(proof.stats.side_checks)
            })
        });
        let _ = std::fs::remove_dir_all(&root);
    }
    g.finish();
}

/// What `netpolc render --target T` does after the front end, for each back end on 100
/// and 200 namespaces: `pipeline::build` of one target (compile, each object's text
/// written and read back, the evaluator, the exact proof), on every core.
fn proved(c: &mut Criterion) {
    let mut g = c.benchmark_group("proved");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    for n in [100, 200] {
        let root = repository(n);
        let program = compile(&root);
        for t in Target::ALL {
            g.bench_function(BenchmarkId::new(format!("build/{t}"), n), |b| {
                b.iter(|| {
                    let built =
                        netpolc_driver::pipeline::build(&program, &[t], &Options::default())
                            .unwrap_or_else(|_| panic!("{t}: refused"));
                    black_box(built.stats.side_checks)
                })
            });
        }
        let _ = std::fs::remove_dir_all(&root);
    }
    g.finish();
}

criterion_group!(benches, pipeline, scaling, validation, proved);
criterion_main!(benches);
