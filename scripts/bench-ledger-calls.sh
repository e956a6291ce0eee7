#!/usr/bin/env bash
# What a claim costs where every metadata call is a round trip to a file server: metadata calls
# and sched_yield calls per item (strace -f -c, whole processes), for both loop forms of claimsh
# and the MultiProcessTools-style Python loop, 20 000 no-op items, 2 workers each; then seconds
# side by side (median and range of RUNS alternated runs), and the million-item list numbers.
# Runs on tmpfs (/dev/shm) unless DIR says otherwise. Needs strace, python3, bc.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
RUNS=${RUNS:-5}
DIR=${DIR:-/dev/shm}
cargo build --release -q -p claimsh
BIN=$PWD/target/release/claimsh
WORK=$(mktemp -d "$DIR/bench-calls.XXXX")
trap 'rm -rf "$WORK"' EXIT
META='open,openat,openat2,creat,stat,lstat,fstat,newfstatat,statx,access,faccessat,faccessat2,unlink,unlinkat,link,linkat,rename,renameat,renameat2,mkdir,mkdirat,rmdir,getdents64,readlink,readlinkat,utimensat,ftruncate,fsync,fdatasync,flock'

source scripts/claim-harness.sh
claim_scripts "$WORK" "$N"
cat > "$WORK/mpt.sh" <<SH
python3 "$MPT_LOOP" $N "\$1" & python3 "$MPT_LOOP" $N "\$1" & wait
SH

fresh() { rm -rf "$WORK/state" "$WORK/py"; mkdir -p "$WORK/py"; }
run() {
  case $1 in
    python) sh "$WORK/mpt.sh" "$WORK/py" ;;
    *) "$BIN" run "$WORK/$1.rhai" --jobs 2 --state "$WORK/state" -q --no-progress ;;
  esac
}
# Sum strace's call counts for the metadata calls and for sched_yield.
calls() {
  fresh
  strace -f -c -o "$WORK/trace" -e trace="$META,sched_yield" bash -c "$(declare -f run); BIN=$BIN WORK=$WORK N=$N run $1" >/dev/null 2>&1
  # strace -c columns: % time, seconds, usecs/call, calls, [errors,] syscall.
  awk -v meta=",$META," '$4 ~ /^[0-9]+$/ && $NF ~ /^[a-z_0-9]+$/ {
      if ($NF == "sched_yield") y += $4; else if (index(meta, "," $NF ",")) m += $4 }
    END { printf "%d %d\n", m, y }' "$WORK/trace"
}
echo "metadata calls per item ($N no-op items, 2 workers, $DIR):"
for form in python per-item claimed; do
  read -r m y < <(calls "$form")
  printf '  %-10s %6.2f metadata calls/item  %6.3f sched_yield/item\n' "$form" "$(echo "$m / $N" | bc -l)" "$(echo "$y / $N" | bc -l)"
done

run_seconds() { local s e; fresh; s=$(date +%s.%N); run "$1" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
stats() { sort -g | awk '{a[NR]=$1} END {printf "%.3f s (%.3f-%.3f)", a[int((NR+1)/2)], a[1], a[NR]}'; }
declare -A T
for _ in $(seq "$RUNS"); do
  for form in python per-item claimed; do T[$form]+="$(run_seconds "$form")"$'\n'; done
done
py=$(printf '%s' "${T[python]}" | median)
echo "seconds for $N no-op items, 2 workers (median of $RUNS alternated runs, range):"
for form in python per-item claimed; do
  t=$(printf '%s' "${T[$form]}" | median)
  printf '  %-10s %s  %6.1fx python\n' "$form" "$(printf '%s' "${T[$form]}" | stats)" "$(echo "$py / $t" | bc -l)"
done

# A million items: a fresh list with 2 workers, then the same list grown after 990 000 are done.
cat > "$WORK/million.rhai" <<'RHAI'
let n = parse_int(ARGS[0]);
let keys = []; for i in 0..n { keys.push(`m${i}`); }
let t = timestamp();
let it = claimed(keys);
if worker_id() == 0 { warn(`opened a list of ${n} items in ${t.elapsed} s`); }
for k in it { done(k); }
RHAI
rm -rf "$WORK/state"
s=$(date +%s.%N); "$BIN" run "$WORK/million.rhai" --jobs 2 --state "$WORK/state" --no-progress -- 1000000; e=$(date +%s.%N)
printf 'fresh 1 000 000-item no-op list, 2 workers: %.2f s (building the key array in Rhai included)\n' "$(echo "$e - $s" | bc -l)"
rm -rf "$WORK/state"
"$BIN" run "$WORK/million.rhai" --jobs 2 --state "$WORK/state" -q --no-progress -- 990000 >/dev/null
echo "finished records after 990 000 done: $(ls "$WORK/state/finished" | wc -l) files"
"$BIN" run "$WORK/million.rhai" --jobs 1 --state "$WORK/state" --no-progress -- 1000000
