#!/usr/bin/env bash
# Claim overhead from Python, on the same disk (target/): `ledger.claimed(N keys)` with no-op work
# against a MultiProcessTools-style loop (O_EXCL .tmp claim + final-file check per item), one
# process each. Prints items/s (median of RUNS) and the ratio. Installs the package into
# target/py-venv (as scripts/test-python.sh does) unless it is importable there already.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
RUNS=${RUNS:-5}
VENV=${PY_VENV:-$PWD/target/py-venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import claimsh' 2>/dev/null ||
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check ./crates/claimsh-py
WORK=$(mktemp -d "$PWD/target/bench-python.XXXX")
trap 'rm -rf "$WORK"' EXIT

"$VENV/bin/python" - "$N" "$RUNS" "$WORK" <<'PY'
import os, shutil, statistics, sys, time
import claimsh

n, runs, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
keys = [f"k{i}" for i in range(n)]

def claimed():
    state = os.path.join(work, "state")
    shutil.rmtree(state, ignore_errors=True)
    t0 = time.perf_counter()
    ledger = claimsh.Ledger(state)
    for k in ledger.claimed(keys):
        pass
    t = time.perf_counter() - t0
    assert ledger.status()["done"] == n
    return t

def mpt():
    d = os.path.join(work, "mpt")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    t0 = time.perf_counter()
    for k in keys:
        final = os.path.join(d, f"{k}.done")
        if os.path.exists(final):
            continue
        tmp = os.path.join(d, f"{k}.tmp")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            continue
        os.close(fd)
        with open(final, "w") as f:
            f.write("done")
        os.remove(tmp)
    return time.perf_counter() - t0

t_c = statistics.median(claimed() for _ in range(runs))
t_m = statistics.median(mpt() for _ in range(runs))
print(f"{n} keys, median of {runs} runs, disk of {work}")
print(f"{'python MultiProcessTools-style loop':38} {n / t_m:12.0f} items/s  ({t_m:.3f} s)")
print(f"{'python claimsh ledger.claimed()':38} {n / t_c:12.0f} items/s  ({t_c:.3f} s)  {t_m / t_c:6.1f}x")
PY
