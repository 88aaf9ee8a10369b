#!/usr/bin/env bash
# `netpolc diff` at scale: generates the repository of N namespaces x 25 intents
# (benches/gen-repo.py), commits it to a fresh Git repository, then times
#   - a rename of one intent (no connectivity change),
#   - one intent changed (ns-0001 web -> api widened from 8080/tcp to every port),
#   - one intent removed (ns-0001 api -> db),
# each as `netpolc diff` against HEAD (the base read from Git), printing wall time, peak
# RSS, the number of changed rows, where the time goes and how many of the model's
# sides the comparison prepared. Run by hand: bash benches/diff.sh [N ...]
# (default: 100 500 2000); RUNS=3 times each case three times and prints the medians
# (the machine is often shared). Needs git and a release build (built here).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="$PWD/target/release/netpolc"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
g() { git -c user.name=bench -c user.email=bench@netpolc.invalid -c commit.gpgsign=false "$@"; }
printf '%-6s %-8s %-19s %-7s %-7s %-8s %-5s %s\n' ns intents change wall_s user_s peak_MB rows "split (-v: compile both / compare, sides prepared)"
for n in "${@:-100 500 2000}"; do
  repo="$work/r$n"
  python3 benches/gen-repo.py "$n" "$repo"
  (cd "$repo" && g init -q && g add -A && g commit -q -m base)
  file="$repo/policies/ns-0001.yaml"
  for change in rename widen-one-intent remove-one-intent; do
    (cd "$repo" && git checkout -q -- policies)
    case "$change" in
      rename) sed -i 's/name: web-to-api,/name: frontend-to-api,/' "$file" ;;
      widen-one-intent) sed -i 's/{name: web-to-api, from: web, to: api, ports: \[8080\/tcp\]}/{name: web-to-api, from: web, to: api}/' "$file" ;;
      remove-one-intent) sed -i '/name: api-to-db,/d' "$file" ;;
    esac
    : >"$work/times"
    for _ in $(seq "${RUNS:-1}"); do
      (cd "$repo" && /usr/bin/time -f '%e %U %M' -o "$work/time" "$bin" diff --output json >"$work/out" 2>"$work/err") || {
        cat "$work/err"; exit 1; }
      tail -1 "$work/time" >>"$work/times"
    done
    read -r wall user kb < <(python3 -c 'import statistics as s, sys
rows = [l.split() for l in open(sys.argv[1])]
print(*(s.median(float(r[i]) for r in rows) for i in range(2)), int(s.median(int(r[2]) for r in rows)))' "$work/times")
    rows="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["changes"]))' "$work/out")"
    # Where the time goes (a second run; -v also prints the intents' notes, not timed).
    split="$(cd "$repo" && "$bin" diff -v 2>&1 >/dev/null | sed -n 's/^note: read and compiled both versions in \(.*\)$/\1/p; s/^note: compared the versions in \([^ ]*\) ([^;]*; \([0-9]* of [0-9]* sides\).*/\1 (\2)/p' | paste -sd/ -)"
    printf '%-6s %-8s %-19s %-7s %-7s %-8s %-5s %s\n' "$n" "$((n * 25))" "$change" "$wall" "$user" "$((kb / 1024))" "$rows" "${split:-0 (no model)}"
  done
done
