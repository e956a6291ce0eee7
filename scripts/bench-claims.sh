#!/usr/bin/env bash
# Claim overhead, whole processes, side by side on the same disk: a no-op script over 20 000 items
# with --jobs 2, in both forms, against a MultiProcessTools-style Python loop (2 processes,
# O_EXCL .tmp claim + final-file check). Prints items/s (median of RUNS) and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
RUNS=${RUNS:-3}
cargo build --release -q -p claimsh
BIN=$PWD/target/release/claimsh
WORK=$(mktemp -d "$PWD/target/bench-claims.XXXX")
trap 'rm -rf "$WORK"' EXIT

source scripts/claim-harness.sh
claim_scripts "$WORK" "$N"


declare -A T
for run in $(seq "$RUNS"); do
  for form in per-item claimed; do
    rm -rf "$WORK/state"
    T[$form]+="$(seconds "$BIN" run "$WORK/$form.rhai" --jobs 2 --state "$WORK/state" -q --no-progress)"$'\n'
  done
  rm -rf "$WORK/py"; mkdir -p "$WORK/py"
  s=$(date +%s.%N)
  python3 "$MPT_LOOP" "$N" "$WORK/py" & python3 "$MPT_LOOP" "$N" "$WORK/py" & wait
  e=$(date +%s.%N)
  T[python]+="$(echo "$e - $s" | bc -l)"$'\n'
done
py=$(printf '%s' "${T[python]}" | median)
printf '%-34s %10.0f items/s\n' "python MultiProcessTools-style x2" "$(echo "$N / $py" | bc -l)"
for form in per-item claimed; do
  t=$(printf '%s' "${T[$form]}" | median)
  printf '%-34s %10.0f items/s  %6.1fx python\n' "claimsh $form --jobs 2" "$(echo "$N / $t" | bc -l)" "$(echo "$py / $t" | bc -l)"
done
