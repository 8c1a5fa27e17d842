#!/usr/bin/env bash
# Compares benchmark figures with the committed ones by ratio, so that a regression shows.
#   scripts/bench-compare.sh [NEW.tsv...]
# NEW: results.tsv files written by the bench-*.sh scripts (default: target/bench-*/results.tsv);
# baseline: docs/bench/baseline.tsv (BASELINE=FILE to use another). A figure is "worse" when its
# median moved the wrong way by more than TOLERANCE (default 0.15: these VMs vary by ±5–15 %
# between runs) and outside the baseline's own min..max; a baseline of 0 (nothing lost) is
# worse as soon as the new median is above 0. Exit status 1 when any figure is worse.
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
BASELINE=${BASELINE:-$ROOT/docs/bench/baseline.tsv}
TOLERANCE=${TOLERANCE:-0.15}
[ $# -gt 0 ] || set -- "$ROOT"/target/bench-*/results.tsv
for f in "$BASELINE" "$@"; do
    [ -f "$f" ] || { echo "bench-compare: no $f (run a bench-*.sh script first)" >&2; exit 2; }
done
cat "$@" | awk -F'\t' -v tol="$TOLERANCE" '
    BEGIN { printf "%-70s %14s %14s %8s  %s\n", "figure", "baseline", "new", "ratio", "verdict" }
    NR == FNR { if ($0 !~ /^#/) { base[$1] = $4; lo[$1] = $5; hi[$1] = $6 }; next }
    $0 ~ /^#/ { next }
    !($1 in base) { printf "%-70s %14s %14s %8s  %s\n", $1, "-", $4, "-", "new"; next }
    {
        b = base[$1]; n = $4; higher = ($3 == "higher")
        if (b == 0) { ratio = "-"; worse = !higher && n > 0; better = higher && n > 0 }
        else {
            r = n / b; ratio = sprintf("%.3f", r)
            worse = higher ? (r < 1 - tol && n < lo[$1]) : (r > 1 + tol && n > hi[$1])
            better = higher ? (r > 1 + tol && n > hi[$1]) : (r < 1 - tol && n < lo[$1])
        }
        verdict = worse ? "WORSE" : better ? "better" : "same"
        if (worse) bad++
        printf "%-70s %14s %14s %8s  %s\n", $1, b, n, ratio, verdict
    }
    END {
        printf "%d figure(s) worse than the baseline (tolerance %.0f %%)\n", bad, tol * 100 > "/dev/stderr"
        exit bad > 0
    }' "$BASELINE" -
