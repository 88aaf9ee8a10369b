#!/usr/bin/env bash
# The exact proof at scale: generates repositories of N namespaces x 25 intents
# (benches/gen-repo.py) and runs `netpolc check -v` on each (render all three back ends and
# prove them), printing wall time, peak RSS and what the proof compared.
# Run by hand (not in CI): bash benches/proof.sh [N ...]   (default: 100 250 500 1000 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="$PWD/target/release/netpolc"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf '%-6s %-8s %-9s %-10s %s\n' "ns" "intents" "wall_s" "peak_MB" "proof"
if [ "$#" -eq 0 ]; then set -- 100 250 500 1000 2000; fi
for n in "$@"; do
  for m in $n; do
    python3 benches/gen-repo.py "$m" "$work/r$m"
    (cd "$work/r$m" && /usr/bin/time -f '%e %M' -o "$work/time" "$bin" check -v \
      >/dev/null 2>"$work/err") || true
    read -r wall kb < <(tail -1 "$work/time")
    proof="$(grep -o 'proved.*' "$work/err" | head -1)"
    printf '%-6s %-8s %-9s %-10s %s\n' "$m" "$((m * 25))" "$wall" "$((kb / 1024))" "$proof"
  done
done
