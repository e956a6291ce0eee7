#!/usr/bin/env bash
# What a script-API call costs: the same scripts on a BASE claimsh (built from main, say) and on
# this tree's, alternated RUNS times; seconds as median (range), and BASE's median / this one's.
#   per-item  N x `if claim(k) { done(k); }`, one worker, ledger on tmpfs (claims' hot loop)
#   claimed   N items through `for k in claimed(keys) { done(k); }`
#   calls     M x `worker_id()`: a stateful function alone (dispatch and finding the worker)
#   par_map   `par_map(0..M, |i| i + 1)`: the cost per element of a parallel map
# Usage: BASE=/tmp/claimsh-main scripts/bench-api-calls.sh   (N, M, RUNS, DIR override)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
M=${M:-1000000}
RUNS=${RUNS:-5}
DIR=${DIR:-/dev/shm}
: "${BASE:?set BASE to the claimsh binary to compare with}"
cargo build --release -q -p claimsh
NEW=$PWD/target/release/claimsh
WORK=$(mktemp -d "$DIR/bench-api.XXXX")
trap 'rm -rf "$WORK"' EXIT

source scripts/claim-harness.sh
claim_scripts "$WORK" "$N"
printf 'let n = 0; for i in 0..%s { n += worker_id(); }\n' "$M" > "$WORK/calls.rhai"
printf 'let r = par_map(0..%s, |i| i + 1);\n' "$M" > "$WORK/par_map.rhai"

once() { rm -rf "$WORK/state"; seconds "$1" run "$WORK/$2.rhai" --jobs 1 --state "$WORK/state" -q --no-progress; }
stats() { sort -g | awk '{a[NR]=$1} END {printf "%.3f s (%.3f-%.3f)", a[int((NR+1)/2)], a[1], a[NR]}'; }
echo "seconds, median (range) of $RUNS alternated runs; N=$N, M=$M, $DIR:"
for script in per-item claimed calls par_map; do
  base="" new=""
  for _ in $(seq "$RUNS"); do
    base+="$(once "$BASE" "$script")"$'\n'
    new+="$(once "$NEW" "$script")"$'\n'
  done
  b=$(printf '%s' "$base" | median)
  n=$(printf '%s' "$new" | median)
  printf '  %-9s base %s   this %s   base/this %.2f\n' "$script" \
    "$(printf '%s' "$base" | stats)" "$(printf '%s' "$new" | stats)" "$(echo "$b / $n" | bc -l)"
done
