#!/usr/bin/env bash
# solguard against what a user would build instead (benches/peer/peer.py: zipfile, ElementTree
# iterparse with elements cleared, four rules in Rego on Microsoft's regorus engine, compiled
# once), measured side by side in one run, whole processes, median of RUNS:
#   1. every zip of the shared corpus in one run of each;
#   2. one attribute-dense package (benches/peer/make_dense_package.py: 300 tables x 80 columns,
#      about 45 MB of customizations.xml, about 70:1).
# The peer's Python environment is made once in target/peer-venv (PyPI: gordon-to-regorus, which
# installs microsoft/regorus as `regorus`).
#
#   bash benches/peer_compare.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
corpus="${SOLGUARD_CORPUS:-$(cd .. && pwd)/shared/corpus}"
venv=target/peer-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q gordon-to-regorus
fi
cargo build --release --quiet --bin solguard
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" benches/peer/make_dense_package.py "$work/dense.zip" >&2
mapfile -t zips < <(find "$corpus" -name '*.zip' | sort)

# Median wall time in ms of running "$@" $runs times (output discarded).
median_ms() {
  "$venv/bin/python" - "$runs" "$@" <<'PY'
import subprocess, sys, time
runs, command = int(sys.argv[1]), sys.argv[2:]
times = []
for _ in range(runs):
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    times.append((time.perf_counter() - started) * 1000)
times.sort()
print(f"{times[len(times) // 2]:.1f}")
PY
}

compare() {
  local label="$1"; shift
  local ours peer
  ours="$(median_ms target/release/solguard check --format json --fail-on never "$@")"
  peer="$(median_ms "$venv/bin/python" benches/peer/peer.py "$@")"
  awk -v label="$label" -v ours="$ours" -v peer="$peer" \
    'BEGIN { printf "| %s | %.0f ms | %.0f ms | %.1fx |\n", label, ours, peer, peer / ours }'
}

echo "solguard check vs the Python + regorus peer, median of $runs whole-process runs, $(nproc) cores"
echo
echo "| input | solguard | peer | solguard is faster by |"
echo "|---|---:|---:|---:|"
compare "${#zips[@]} corpus zips in one run" "${zips[@]}"
compare "attribute-dense package (45 MB XML)" "$work/dense.zip"
