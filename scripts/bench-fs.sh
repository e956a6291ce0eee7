#!/usr/bin/env bash
# Claim overhead on a slow shared filesystem: the FUSE test bed (scripts/fuse-bed.py) charging
# LATENCY_MS per metadata call with a CACHE-second name and attribute cache (NFS's actimeo).
# A no-op script over N items with --jobs 2, in both forms, against the MultiProcessTools-style
# Python loop (2 processes, O_EXCL .tmp claim + final-file check; see bench-claims.sh), each with
# its state on the mount. Prints items/s (median of RUNS) side by side and ratios.
# Needs root, /dev/fuse, libfuse2 and fusepy (Debian: python3-fusepy).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
RUNS=${RUNS:-3}
LATENCY_MS=${LATENCY_MS:-0.5}
CACHE=${CACHE:-1}
PY=/usr/bin/python3
"$PY" -c 'import fusepy' 2>/dev/null || PY=python3
cargo build --release -q -p claimsh
BIN=$PWD/target/release/claimsh
WORK=$(mktemp -d "$PWD/target/bench-fs.XXXX")
mkdir -p "$WORK/backing" "$WORK/mnt"
"$PY" scripts/fuse-bed.py "$WORK/backing" "$WORK/mnt" --latency-ms "$LATENCY_MS" --cache "$CACHE" &
BED=$!
cleanup() { umount "$WORK/mnt" 2>/dev/null || umount -l "$WORK/mnt" 2>/dev/null || true; wait "$BED" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q " $WORK/mnt .* fuse.bed " /proc/self/mountinfo && break; sleep 0.1; done
grep -q " $WORK/mnt .* fuse.bed " /proc/self/mountinfo || { echo "the FUSE test bed did not mount" >&2; exit 1; }
M=$WORK/mnt

source scripts/claim-harness.sh
claim_scripts "$WORK" "$N"


"$BIN" check-fs "$M" | grep -E "round trip|verdict"
declare -A T
for run in $(seq "$RUNS"); do
  for form in per-item claimed; do
    rm -rf "$M/state"
    T[$form]+="$(seconds "$BIN" run "$WORK/$form.rhai" --jobs 2 --state "$M/state" -q --no-progress)"$'\n'
    "$BIN" status --state "$M/state" --json > "$WORK/status.json"
    [ "$(grep -m1 '"done"' "$WORK/status.json" | tr -dc 0-9)" = "$N" ] || { echo "$form: not all done" >&2; exit 1; }
  done
  rm -rf "$M/py"; mkdir -p "$M/py"
  s=$(date +%s.%N)
  python3 "$MPT_LOOP" "$N" "$M/py" & p1=$!
  python3 "$MPT_LOOP" "$N" "$M/py" & p2=$!
  wait $p1 $p2
  e=$(date +%s.%N)
  T[python]+="$(echo "$e - $s" | bc -l)"$'\n'
done
echo "$N no-op items, 2 workers, ${LATENCY_MS} ms per metadata call, ${CACHE} s name/attribute cache:"
py=$(printf '%s' "${T[python]}" | median)
printf '%-34s %10.0f items/s\n' "python MultiProcessTools-style x2" "$(echo "$N / $py" | bc -l)"
for form in per-item claimed; do
  t=$(printf '%s' "${T[$form]}" | median)
  printf '%-34s %10.0f items/s  %6.1fx python\n' "claimsh $form --jobs 2" "$(echo "$N / $t" | bc -l)" "$(echo "$py / $t" | bc -l)"
done
