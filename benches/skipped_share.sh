#!/usr/bin/env bash
# How much of a real customizations.xml is subtrees no check reads (forms, views, ribbons, site
# maps, ...), which the reader scans past without tokenizing: the reader logs, at debug level,
# the bytes it scanned past in each XML file, and this sums them over every zip of the corpus.
#
#   bash benches/skipped_share.sh [CORPUS]   (default ../shared/corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${1:-${SOLGUARD_CORPUS:-$(cd .. && pwd)/shared/corpus}}"
cargo build --release --quiet --bin solguard
mapfile -t zips < <(find "$corpus" -name '*.zip' | sort)
for zip in "${zips[@]}"; do
  SOLGUARD_LOG=solguard::package::xml=debug target/release/solguard --log-format json \
    inspect "$zip" 2>&1 >/dev/null | grep '"XML stream done"' || true
done | python3 -c '
import json, sys
rows = {}
for line in sys.stdin:
    fields = json.loads(line)["fields"]
    if fields["file"].lower().endswith("customizations.xml"):
        rows[fields["package"]] = (int(fields["bytes"]), int(fields["scanned_bytes"]))
if not rows:
    sys.exit("no customizations.xml read")
total = sum(b for b, _ in rows.values())
scanned = sum(s for _, s in rows.values())
shares = sorted(s / b for b, s in rows.values() if b)
large = sorted(s / b for b, s in rows.values() if b >= 100_000)
median = lambda v: v[len(v) // 2] if v else 0
print(f"customizations.xml of {len(rows)} corpus zips: {total / 1048576:.1f} MiB, of which "
      f"{scanned / 1048576:.1f} MiB ({scanned / total:.0%}) scanned past, not tokenized")
print(f"per package: median {median(shares):.0%}, range {shares[0]:.0%}-{shares[-1]:.0%}; "
      f"the {len(large)} of at least 100 KB: median {median(large):.0%}"
      + (f", range {large[0]:.0%}-{large[-1]:.0%}" if large else ""))
'
