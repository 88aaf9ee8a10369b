#!/usr/bin/env python3
"""Writes a generated policy repository: N namespaces x 25 intents (web, api, db, cache,
worker, queue and metrics groups, a peer group in the next namespace, a team group by
namespace labels, a partner CIDR, a port range, a named port, UDP and one deny per
namespace). Usage: gen-repo.py N OUT_DIR (writes OUT_DIR/policies/*.yaml)."""
import os, sys
n = int(sys.argv[1]); out = sys.argv[2]
os.makedirs(os.path.join(out, "policies"), exist_ok=True)
groups = ["web", "api", "db", "cache", "worker", "queue", "metrics"]
for i in range(n):
    ns = f"ns-{i:04d}"; nxt = f"ns-{(i+1)%n:04d}"
    team = i // 10; other_team = (team + 1) % ((n + 9)//10)
    g = "\n".join(f"    {x}: {{selector: {{app: {x}}}}}" for x in groups)
    intents = [
        "{name: web-to-api, from: web, to: api, ports: [8080/tcp]}",
        "{name: api-to-db, from: api, to: db, ports: [5432/tcp]}",
        "{name: api-to-cache, from: api, to: cache, ports: [6379/tcp]}",
        "{name: worker-to-queue, from: worker, to: queue, ports: [5672/tcp]}",
        "{name: api-to-queue, from: api, to: queue, ports: [5672/tcp]}",
        "{name: worker-to-db, from: worker, to: db, ports: [5432/tcp]}",
        "{name: worker-to-cache, from: worker, to: cache, ports: [6379/tcp]}",
        "{name: metrics-scrape-web, from: metrics, to: web, ports: [9090/tcp]}",
        "{name: metrics-scrape-api, from: metrics, to: api, ports: [9090/tcp]}",
        "{name: metrics-scrape-db, from: metrics, to: db, ports: [9187/tcp]}",
        "{name: metrics-scrape-cache, from: metrics, to: cache, ports: [9121/tcp]}",
        "{name: metrics-scrape-queue, from: metrics, to: queue, ports: [15692/tcp]}",
        "{name: metrics-scrape-worker, from: metrics, to: worker, ports: [9090/tcp]}",
        "{name: web-to-world, from: web, to: world, ports: [443/tcp]}",
        "{name: api-to-partner, from: api, to: partner, ports: [443/tcp]}",
        "{name: worker-batch, from: worker, to: api, ports: [30000-30100/tcp]}",
        "{name: api-statsd, from: api, to: metrics, ports: [8125/udp]}",
        "{name: web-statsd, from: web, to: metrics, ports: [8125/udp]}",
        "{name: to-peer-api, from: api, to: peer-api, ports: [8443/tcp]}",
        "{name: from-team, from: team, to: web, ports: [8080/tcp]}",
        "{name: web-http, from: web, to: api, ports: [http/tcp]}",
        "{name: queue-to-worker, from: queue, to: worker, ports: [8081/tcp]}",
        "{name: cache-repl, from: cache, to: cache, ports: [16379/tcp]}",
        "{name: db-repl, from: db, to: db, ports: [5433/tcp]}",
        "{name: no-web-to-db, from: web, to: db, ports: [5432/tcp], action: deny}",
    ]
    body = "\n".join(f"    - {x}" for x in intents)
    text = f"""apiVersion: netpolc.dev/v1alpha1
kind: IntentSet
metadata: {{name: {ns}}}
spec:
  namespace: {ns}
  namespaceLabels: {{team: t{team}, tier: {'web' if i%2==0 else 'data'}}}
  isolate: [ingress, egress]
  presets: [allow-dns, block-cloud-metadata]
  groups:
{g}
    peer-api: {{selector: {{app: api}}, namespaces: [{nxt}]}}
    team: {{namespaces: {{team: t{other_team}}}}}
    partner: {{cidrs: [{'198.51.%d.0/24' % (i % 250)}]}}
  intents:
{body}
"""
    open(os.path.join(out, "policies", f"{ns}.yaml"), "w").write(text)
open(os.path.join(out, "policies", "cluster-profile.yaml"), "w").write(
    "apiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\n"
    "spec:\n  nodeCIDRs: [192.168.0.0/24]\n"
)
