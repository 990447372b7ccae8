#!/usr/bin/env bash
# Prints the performance report (Markdown) that BENCHMARKS.md records:
#   1. `solguard check` per package against the inflate + tokenize floor, with peak memory, on
#      every zip of the shared corpus and on generated packages of 1, 10, 50 and 200 MiB of
#      customizations.xml (examples/perf_table.rs);
#   2. the daemon's burst throughput and complete-to-report latency (examples/watch_burst.rs).
# Usage: bash benches/perf_report.sh [CORPUS]   (default ../shared/corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${1:-${SOLGUARD_CORPUS:-../shared/corpus}}"
cargo build --release --quiet --bin solguard --example perf_table --example make_large_package --example watch_burst
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for size in 1 10 50 200; do
  target/release/examples/make_large_package "$work/generated_${size}MiB.zip" "$size" > /dev/null
done
echo "## check against the floor: shared corpus"
echo
mapfile -t zips < <(find "$corpus" -name '*.zip' | sort)
target/release/examples/perf_table "${zips[@]}"
echo
echo "## check against the floor: generated packages"
echo
target/release/examples/perf_table "$work"/generated_{1,10,50,200}MiB.zip
echo
echo "## Daemon burst"
echo
echo '```'
target/release/examples/watch_burst 1000 2000 copy
echo '```'
