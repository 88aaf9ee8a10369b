#!/usr/bin/env bash
# `netpolc eval` at cluster scale: generates dumps of N namespaces × 10 pods with 11
# NetworkPolicies per namespace (benches/gen-cluster.py), runs the connectivity map and
# prints wall time, peak RSS and rows. Run by hand: benches/eval-scale.sh [NAMESPACES...]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/netpolc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-10s %-8s %-10s %-10s %-12s %-6s\n' namespaces pods policies wall_s peak_rss_mb rows
if [ "$#" -eq 0 ]; then set -- 100 1000; fi
for n in "$@"; do
  python3 benches/gen-cluster.py "$n" "$work/$n"
  /usr/bin/time -v "$bin" eval --cluster "$work/$n/cluster.yaml" "$work/$n/policies.yaml" \
    >"$work/$n/out" 2>"$work/$n/time"
  wall=$(grep 'Elapsed (wall clock)' "$work/$n/time" | awk '{print $NF}')
  rss=$(grep 'Maximum resident' "$work/$n/time" | awk '{print int($NF/1024)}')
  rows=$(grep -vc '^#' "$work/$n/out" || true)
  printf '%-10s %-8s %-10s %-10s %-12s %-6s\n' "$n" "$((n * 10))" "$((n * 11))" "$wall" "$rss" "$rows"
done
