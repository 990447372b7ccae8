#!/usr/bin/env bash
# How much a small package's `check` costs beyond process start-up:
#   1. wall time, median of RUNS whole-process runs of `solguard --version` and of
#      `solguard check --format json PACKAGE`, interleaved;
#   2. instructions of each (callgrind; stable on a noisy machine), when valgrind is there.
#
#   bash benches/startup.sh [PACKAGE] [RUNS]
# (default: the corpus's Success_1_1_0_0_managed.zip, 61 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${SOLGUARD_CORPUS:-$(cd .. && pwd)/shared/corpus}"
package="${1:-$corpus/xrm-ci-framework/Success_1_1_0_0_managed.zip}"
runs="${2:-61}"
cargo build --release --quiet --bin solguard
bin=target/release/solguard

python3 - "$runs" "$bin" "$package" <<'PY'
import subprocess, sys, time
runs, binary, package = int(sys.argv[1]), sys.argv[2], sys.argv[3]
commands = {
    "start-up (--version)": [binary, "--version"],
    "check of the package": [binary, "check", "--format", "json", "--fail-on", "never", package],
}
times = {name: [] for name in commands}
for _ in range(runs):
    for name, command in commands.items():
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times[name].append((time.perf_counter() - started) * 1000)
medians = {}
for name, values in times.items():
    values.sort()
    medians[name] = values[len(values) // 2]
    print(f"{name}: median {medians[name]:.2f} ms, fastest {values[0]:.2f} ms")
print(f"check - start-up: {medians['check of the package'] - medians['start-up (--version)']:.2f} ms")
PY

if command -v valgrind >/dev/null; then
  instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
      awk '/Collected/ { print $NF }'
  }
  echo "instructions (callgrind): start-up $(instructions "$bin" --version)," \
    "check $(instructions "$bin" check --format json --fail-on never "$package")"
fi
