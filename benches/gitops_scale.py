#!/usr/bin/env python3
"""GitOps-scale measurements of netpolc (issue "Lean output at GitOps scale").

Generates the repository of the issue -- N namespaces x 25 intents (web, api, db, cache,
worker, queue and metrics groups, a peer group in the next namespace, a team group by
namespace labels, a partner CIDR, a port range, UDP and one deny per namespace, plus the
allow-dns preset) -- and prints, for each N, a markdown table of wall time, peak RSS
(`/usr/bin/time -v`), objects and bytes for `netpolc render --target T`, and, unless
`--no-build`, the same for `netpolc build` plus `kubectl kustomize golden/<backend>`.

`build` and `render` both run the exact proof of what they emit (every path does), and
`build` also writes golden/ atomically; `render` is measured on its own.

Usage (from the repository root, after `cargo build --release`):

    python3 benches/gitops_scale.py                 # N = 100 500 1000 2000
    python3 benches/gitops_scale.py 100 500 --no-build
    python3 benches/gitops_scale.py --bin target/release/netpolc --keep 100
    python3 benches/gitops_scale.py 250 500 1000 --no-build --wide

`--wide` makes the team group select half of all namespaces by a label (`tier: web`)
instead of a team of ten: every one of those namespaces then gets an egress rule per
namespace, and objects and proof work grow with the square of the namespaces.

Nothing is timed by the test suite; this script is how the numbers in the closing note
and ARCHITECTURE.md are produced. The generated repositories live under $TMPDIR and are
removed afterwards unless `--keep`.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TARGETS = ["kubernetes", "calico", "cilium"]


def ns(i):
    return f"ns-{i:04d}"


def intent_set(i, n, wide=False):
    teams = max(1, (n + 9) // 10)
    peer = ns((i + 1) % n)
    team = f"t{((i // 10) + 1) % teams}"
    intents = [
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
    ]
    assert len(intents) == 25
    lines = [
        "apiVersion: netpolc.dev/v1alpha1",
        "kind: IntentSet",
        f"metadata: {{name: {ns(i)}}}",
        "spec:",
        f"  namespace: {ns(i)}",
        f"  namespaceLabels: {{team: t{i // 10}, tier: {'web' if i % 2 == 0 else 'data'}}}"
        if wide
        else f"  namespaceLabels: {{team: t{i // 10}}}",
        "  isolate: [ingress, egress]",
        "  presets: [allow-dns]",
        "  groups:",
    ]
    for g in ["web", "api", "db", "cache", "worker", "queue", "metrics"]:
        lines.append(f"    {g}: {{selector: {{app: {g}}}}}")
    lines.append(f"    peer-api: {{selector: {{app: api}}, namespaces: [{peer}]}}")
    # --wide: the team group is every other namespace (a label half of them carry), so
    # each of those gets an egress rule towards every namespace.
    lines.append(
        "    team: {namespaces: {tier: web}}"
        if wide
        else f"    team: {{namespaces: {{team: {team}}}}}"
    )
    lines.append("    partner: {cidrs: [203.0.113.0/24]}")
    lines.append("  intents:")
    lines.extend(f"    - {x}" for x in intents)
    return "\n".join(lines) + "\n"


def repository(n, base, wide=False):
    root = os.path.join(base, f"repo-{n}")
    shutil.rmtree(root, ignore_errors=True)
    pol = os.path.join(root, "policies")
    os.makedirs(pol)
    with open(os.path.join(pol, "cluster-profile.yaml"), "w") as f:
        f.write(
            "apiVersion: netpolc.dev/v1alpha1\nkind: ClusterProfile\nmetadata: {name: cluster}\n"
            "spec:\n  podCIDRs: [10.244.0.0/16]\n  serviceCIDRs: [10.96.0.0/12]\n  nodeCIDRs: [192.168.0.0/24]\n"
        )
    for i in range(n):
        with open(os.path.join(pol, f"{ns(i)}.yaml"), "w") as f:
            f.write(intent_set(i, n, wide))
    return root


def timed(cmd, cwd, stdout=subprocess.DEVNULL, timeout=None):
    """Runs `cmd` under /usr/bin/time -v; returns (exit code, seconds, peak RSS MB, stderr).

    Past `timeout` seconds the whole process group is killed (`/usr/bin/time` does not
    pass a kill on to its child) and the exit code is the string "timeout", so that the
    table gets a row instead of the script stopping with an orphan left running."""
    start = time.monotonic()
    p = subprocess.Popen(
        ["/usr/bin/time", "-v"] + cmd,
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, err = p.communicate(timeout=timeout)
        code = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
        code = "timeout"
    wall = time.monotonic() - start
    err = err.decode(errors="replace")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    rss = int(m.group(1)) / 1024 if m else float("nan")
    return code, wall, rss, err


def count_objects(text):
    return sum(1 for line in text.splitlines() if line.startswith("kind: "))


def tree_stats(path):
    files = size = objects = 0
    for d, _, names in os.walk(path):
        for name in names:
            p = os.path.join(d, name)
            files += 1
            size += os.path.getsize(p)
            if name != "kustomization.yaml":
                with open(p, encoding="utf-8", errors="replace") as f:
                    objects += count_objects(f.read())
    return files, size, objects


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="*", type=int, default=[100, 500, 1000, 2000])
    ap.add_argument("--bin", default="target/release/netpolc")
    ap.add_argument("--no-build", action="store_true", help="measure render only")
    ap.add_argument("--no-kustomize", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the generated repositories")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument(
        "--wide",
        action="store_true",
        help="the team group selects half of all namespaces (tier: web) instead of ten",
    )
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    if not os.path.exists(binary):
        sys.exit(f"{binary} does not exist; run `cargo build --release` first")
    base = tempfile.mkdtemp(prefix="netpolc-scale-")
    print(f"binary: {binary}")
    print("| N (intents) | command | exit | wall s | peak RSS MB | objects | bytes | files |")
    print("|---|---|---|---|---|---|---|---|")
    try:
        for n in args.sizes:
            root = repository(n, base, args.wide)
            label = f"{n} ({n * 25:,})"
            for t in TARGETS:
                out_path = os.path.join(base, f"render-{n}-{t}.yaml")
                with open(out_path, "wb") as out:
                    code, wall, rss, _ = timed(
                        [binary, "render", "--target", t], root, out, args.timeout
                    )
                with open(out_path, encoding="utf-8") as f:
                    text = f.read()
                print(
                    f"| {label} | render {t} | {code} | {wall:.2f} | {rss:.0f} | "
                    f"{count_objects(text):,} | {len(text.encode()):,} | - |",
                    flush=True,
                )
                os.remove(out_path)
            if args.no_build:
                continue
            code, wall, rss, err = timed([binary, "build"], root, timeout=args.timeout)
            files, size, objects = tree_stats(os.path.join(root, "golden"))
            print(
                f"| {label} | build | {code} | {wall:.2f} | {rss:.0f} | {objects:,} | "
                f"{size:,} | {files:,} |",
                flush=True,
            )
            if code != 0:
                print(err[-2000:], file=sys.stderr)
                continue
            if args.no_kustomize or shutil.which("kubectl") is None:
                continue
            for t in TARGETS:
                code, wall, rss, _ = timed(
                    ["kubectl", "kustomize", os.path.join("golden", t)],
                    root,
                    timeout=args.timeout,
                )
                print(
                    f"| {label} | kubectl kustomize golden/{t} | {code} | {wall:.2f} | "
                    f"{rss:.0f} | - | - | - |",
                    flush=True,
                )
    finally:
        if args.keep:
            print(f"repositories kept under {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
