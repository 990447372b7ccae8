#!/usr/bin/env bash
# Prints the performance report (Markdown) that BENCHMARKS.md records, every figure from one run:
#   1. the machine;
#   2. `solguard check` per package against the inflate + tokenize floor, with peak memory, on
#      every zip of the shared corpus, on generated real-shaped packages of 1, 10, 50 and 200 MiB
#      of customizations.xml and on the attribute-dense package (examples/perf_table.rs), and
#      the share of the corpus's customizations.xml that is scanned past (skipped_share.sh);
#   3. against the Python + regorus pipeline a user would write (benches/peer_compare.sh);
#   4. a small package against process start-up (benches/startup.sh);
#   5. the daemon: 1,000 packages at once, then arriving at 200 per second
#      (examples/watch_burst.rs);
#   6. audits of 2,000 generated packages, cold and warm, reading against evaluating
#      (examples/audit_repo.rs).
# Usage: bash benches/perf_report.sh [CORPUS]   (default ../shared/corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${1:-${SOLGUARD_CORPUS:-$(cd .. && pwd)/shared/corpus}}"
export SOLGUARD_CORPUS="$corpus"
cargo build --release --quiet --bin solguard --example perf_table --example make_large_package \
  --example watch_burst --example audit_repo
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for size in 1 10 50 200; do
  target/release/examples/make_large_package "$work/generated_${size}MiB.zip" "$size" > /dev/null
done
python3 benches/peer/make_dense_package.py "$work/attribute_dense.zip" > /dev/null

echo "## Machine"
echo
echo "$(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(uname -sr), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(rustc --version | cut -d' ' -f1-2)"
echo
echo "## check against the floor: shared corpus"
echo
bash benches/skipped_share.sh "$corpus"
echo
mapfile -t zips < <(find "$corpus" -name '*.zip' | sort)
target/release/examples/perf_table "${zips[@]}"
echo
echo "## check against the floor: generated packages"
echo
echo 'Real-shaped packages (`examples/make_large_package.rs`: tables with their forms, views and ribbons) and the attribute-dense one (`benches/peer/make_dense_package.py`: 300 tables x 80 custom nvarchar columns with every child element an export writes, nothing else).'
echo
target/release/examples/perf_table "$work"/generated_{1,10,50,200}MiB.zip "$work/attribute_dense.zip"
echo
echo "## Against the pipeline a user would write instead"
echo
echo 'The peer is `benches/peer/peer.py`: zipfile, ElementTree with `iterparse` clearing elements as read, four Rego rules on Microsoft'"'"'s regorus engine compiled once (PyPI `gordon-to-regorus`), run by `benches/peer_compare.sh`.'
echo
bash benches/peer_compare.sh 5
echo
echo "## A small package against process start-up"
echo
echo '`bash benches/startup.sh` (the corpus'"'"'s `Success_1_1_0_0_managed.zip`, 148 KB of XML; median of 61 interleaved runs; callgrind for instructions):'
echo
echo '```'
bash benches/startup.sh
echo '```'
echo
echo "## Daemon burst"
echo
echo '`examples/watch_burst.rs`: 1,000 distinct real exports (352 MiB) copied into `drop/`, all at once, then arriving at 200 per second (the copying shares the two cores with the daemon); settle time 2 s; one daemon, two workers, SQLite history.'
echo
echo '```'
target/release/examples/watch_burst 1000 2000 copy
target/release/examples/watch_burst 1000 2000 copy 1 200
echo '```'
echo
echo "## Audit of a release repository"
echo
echo '`examples/audit_repo.rs`: 2,000 packages (50 streams of 40 releases, renamed copies of 8 corpus exports); reading alone is timed with the audit'"'"'s own parallel scan on a warm page cache.'
echo
echo '```'
target/release/examples/audit_repo 2000
echo '```'
