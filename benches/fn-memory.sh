#!/bin/sh
# Peak memory and time of `netpolc fn` on a large ResourceList of small items.
#
#   benches/fn-memory.sh [ITEMS] [NETPOLC]
#
# Generates ITEMS (default 300000) one-line ConfigMap items, about 63 bytes each (18.8 MB
# for 300,000), with a functionConfig that allows an empty result, and runs
# NETPOLC (default target/release/netpolc) under /usr/bin/time -v.
set -eu
items=${1:-300000}
netpolc=${2:-target/release/netpolc}
input=$(mktemp)
trap 'rm -f "$input"' EXIT
{
  printf 'apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n'
  awk -v n="$items" 'BEGIN { for (i = 0; i < n; i++) printf "- {apiVersion: v1, kind: ConfigMap, metadata: {name: c%d}}\n", i }'
  printf 'functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: netpolc}\n  data: {target: kubernetes, allow-empty: "true"}\n'
} > "$input"
printf 'input: %s bytes\n' "$(wc -c < "$input")"
/usr/bin/time -v "$netpolc" fn < "$input" 2>&1 >/dev/null | grep -E 'Maximum resident|Elapsed|Exit status'
