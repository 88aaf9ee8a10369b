//! The GitOps-scale repository of `benches/gitops_scale.py`, written from Rust: N
//! namespaces × 25 intents (seven app groups, a peer group in the next namespace, a team
//! group by namespace labels, a partner CIDR, a port range, UDP and one deny each), plus a
//! ClusterProfile declaring the node networks. Shared by `tests/lean.rs` and
//! `benches/golden.rs` (included there with `#[path]`).

use std::fmt::Write as _;
use std::path::Path;

pub(crate) fn ns(i: usize) -> String {
    format!("ns-{i:04}")
}

const INTENTS: [&str; 25] = [
    "{name: web-to-api, from: web, to: api, ports: [8080/tcp]}",
    "{name: api-to-db, from: api, to: db, ports: [5432/tcp]}",
    "{name: api-to-cache, from: api, to: cache, ports: [6379/tcp]}",
    "{name: web-to-cache, from: web, to: cache, ports: [6379/tcp]}",
    "{name: worker-to-queue, from: worker, to: queue, ports: [5672/tcp]}",
    "{name: api-to-queue, from: api, to: queue, ports: [5672/tcp]}",
    "{name: worker-to-db, from: worker, to: db, ports: [5432/tcp]}",
    "{name: scrape-web, from: metrics, to: web, ports: [9090/tcp]}",
    "{name: scrape-api, from: metrics, to: api, ports: [9090/tcp]}",
    "{name: scrape-db, from: metrics, to: db, ports: [9187/tcp]}",
    "{name: scrape-cache, from: metrics, to: cache, ports: [9121/tcp]}",
    "{name: scrape-worker, from: metrics, to: worker, ports: [9090/tcp]}",
    "{name: scrape-queue, from: metrics, to: queue, ports: [15692/tcp]}",
    "{name: web-to-peer, from: web, to: peer-api, ports: [8443/tcp]}",
    "{name: api-to-peer, from: api, to: peer-api, ports: [8443/tcp]}",
    "{name: team-to-web, from: team, to: web, ports: [8080/tcp]}",
    "{name: team-to-api, from: team, to: api, ports: [8080/tcp]}",
    "{name: api-to-partner, from: api, to: partner, ports: [443/tcp]}",
    "{name: worker-to-partner, from: worker, to: partner, ports: [443/tcp]}",
    "{name: worker-batch, from: worker, to: api, ports: [30000-30100/tcp]}",
    "{name: api-statsd, from: api, to: metrics, ports: [8125/udp]}",
    "{name: worker-statsd, from: worker, to: metrics, ports: [8125/udp]}",
    "{name: cache-replication, from: cache, to: cache, ports: [16379/tcp]}",
    "{name: queue-cluster, from: queue, to: queue, ports: [25672/tcp]}",
    "{name: no-web-to-db, from: web, to: db, ports: [5432/tcp], action: deny}",
];

pub(crate) fn intent_set(i: usize, n: usize) -> String {
    let teams = n.div_ceil(10).max(1);
    let mut s = format!(
        "apiVersion: netpolc.dev/v1alpha1\nkind: IntentSet\nmetadata: {{name: {name}}}\nspec:\n  namespace: {name}\n  namespaceLabels: {{team: t{team}}}\n  isolate: [ingress, egress]\n  presets: [allow-dns]\n  groups:\n",
        name = ns(i),
        team = i / 10,
    );
    for g in ["web", "api", "db", "cache", "worker", "queue", "metrics"] {
        let _ = writeln!(s, "    {g}: {{selector: {{app: {g}}}}}");
    }
    let _ = writeln!(
        s,
        "    peer-api: {{selector: {{app: api}}, namespaces: [{}]}}",
        ns((i + 1) % n)
    );
    let _ = writeln!(
        s,
        "    team: {{namespaces: {{team: t{}}}}}",
        (i / 10 + 1) % teams
    );
    s.push_str("    partner: {cidrs: [203.0.113.0/24]}\n  intents:\n");
    for x in INTENTS {
        let _ = writeln!(s, "    - {x}");
    }
    s
}

/// Writes the repository's intent files (and its ClusterProfile) into `policies`.
pub(crate) fn write(policies: &Path, n: usize) {
    std::fs::create_dir_all(policies).unwrap();
    std::fs::write(
        policies.join("cluster-profile.yaml"),
        "apiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\nspec:\n  podCIDRs: [10.244.0.0/16]\n  serviceCIDRs: [10.96.0.0/12]\n  nodeCIDRs: [192.168.0.0/24]\n",
    )
    .unwrap();
    for i in 0..n {
        std::fs::write(policies.join(format!("{}.yaml", ns(i))), intent_set(i, n)).unwrap();
    }
}
