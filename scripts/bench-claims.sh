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

cat > "$WORK/per-item.rhai" <<RHAI
for i in 0..$N { let k = \`k\${i}\`; if claim(k) { done(k); } }
RHAI
cat > "$WORK/claimed.rhai" <<RHAI
let keys = []; for i in 0..$N { keys.push(\`k\${i}\`); }
for k in claimed(keys) { done(k); }
RHAI
cat > "$WORK/mpt.py" <<'PY'
import os, sys
n, d = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    final = os.path.join(d, f"k{i}.done")
    if os.path.exists(final):
        continue
    tmp = os.path.join(d, f"k{i}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        continue
    os.close(fd)
    with open(final, "w") as f:
        f.write("done")
    os.remove(tmp)
PY

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A T
for run in $(seq "$RUNS"); do
  for form in per-item claimed; do
    rm -rf "$WORK/state"
    T[$form]+="$(seconds "$BIN" run "$WORK/$form.rhai" --jobs 2 --state "$WORK/state" -q --no-progress)"$'\n'
  done
  rm -rf "$WORK/py"; mkdir -p "$WORK/py"
  s=$(date +%s.%N)
  python3 "$WORK/mpt.py" "$N" "$WORK/py" & python3 "$WORK/mpt.py" "$N" "$WORK/py" & wait
  e=$(date +%s.%N)
  T[python]+="$(echo "$e - $s" | bc -l)"$'\n'
done
py=$(printf '%s' "${T[python]}" | median)
printf '%-34s %10.0f items/s\n' "python MultiProcessTools-style x2" "$(echo "$N / $py" | bc -l)"
for form in per-item claimed; do
  t=$(printf '%s' "${T[$form]}" | median)
  printf '%-34s %10.0f items/s  %6.1fx python\n' "claimsh $form --jobs 2" "$(echo "$N / $t" | bc -l)" "$(echo "$py / $t" | bc -l)"
done
