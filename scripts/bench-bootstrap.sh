#!/usr/bin/env bash
# The bootstrap of issue 19, 200 000 resamples of 15 values, side by side in one run:
#   (a)  claimsh, pure Rhai: par_map over the seeds, the closure captures `data` and calls the
#        script's `lcg` (the algorithm of the old examples/bootstrap.rhai)
#   (a1) the same in a serial `for` loop, and (a2) a serial `map` of the same closure
#   (b)  claimsh with the native blocks: par_map(0..n, |i| mean(resample(data, rng(i))))
#   (c)  CPython, serial loop, the algorithm of (a)      (d) the same on multiprocessing.Pool(2)
# Whole-process wall time (startup and compile included), median and range of RUNS runs taken
# in turns, and CPU time (user + sys), which a busy machine inflates less than wall time.
#
#   scripts/bench-bootstrap.sh [RESAMPLES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
RUNS=${2:-5}
PYTHON=${PYTHON:-python3}
cargo build --release -q -p claimsh
BIN=$PWD/target/release/claimsh
WORK=$(mktemp -d "$PWD/target/bench-bootstrap.XXXX")
trap 'rm -rf "$WORK"' EXIT

cat > "$WORK/lcg.rhai" <<'RHAI'
// ARGS: resamples, "par" | "for" | "map"
let data = [4.1, 5.3, 3.9, 6.2, 5.0, 4.8, 5.7, 6.9, 4.4, 5.1, 3.6, 5.9, 6.4, 4.0, 5.5];
let n = parse_int(ARGS[0]);
fn lcg(state) { (state * 1103515245 + 12345) % 2147483648 }
let seeds = [];
for i in 0..n { seeds.push(i + 1); }
let one = |seed| {
    let s = lcg(seed);
    let total = 0.0;
    for k in 0..data.len() { s = lcg(s); total += data[(s >> 16) % data.len()]; }
    total / data.len()
};
let means = [];
if ARGS[1] == "par" {
    means = par_map(seeds, one);
} else if ARGS[1] == "map" {
    means = seeds.map(one);
} else {
    for seed in seeds {
        let s = lcg(seed);
        let total = 0.0;
        for k in 0..data.len() { s = lcg(s); total += data[(s >> 16) % data.len()]; }
        means.push(total / data.len());
    }
}
means.sort();
write_text(ARGS[2], `${means[n * 25 / 1000]},${means[n * 975 / 1000]}`);
RHAI
cat > "$WORK/native.rhai" <<'RHAI'
let data = [4.1, 5.3, 3.9, 6.2, 5.0, 4.8, 5.7, 6.9, 4.4, 5.1, 3.6, 5.9, 6.4, 4.0, 5.5];
let n = parse_int(ARGS[0]);
let means = par_map(0..n, |i| mean(resample(data, rng(i))));
write_text(ARGS[1], `${quantile(means, 0.025)},${quantile(means, 0.975)}`);
RHAI

run() { "$BIN" -j 1 -q --no-progress --state "$WORK/state" "$@"; }
declare -A CMD=(
    [a]="run $WORK/lcg.rhai $N par $WORK/a.txt"
    [a1]="run $WORK/lcg.rhai $N for $WORK/a1.txt"
    [a2]="run $WORK/lcg.rhai $N map $WORK/a2.txt"
    [b]="run $WORK/native.rhai $N $WORK/b.txt"
    [c]="$PYTHON scripts/bench-bootstrap.py $N serial > $WORK/c.txt"
    [d]="$PYTHON scripts/bench-bootstrap.py $N pool > $WORK/d.txt"
)
ORDER=(a a1 a2 b c d)
for _ in $(seq "$RUNS"); do
    for k in "${ORDER[@]}"; do
        start=$(date +%s%N)
        /usr/bin/time -f "%U %S" -o "$WORK/time" bash -c "$(declare -f run); BIN=$BIN WORK=$WORK; ${CMD[$k]}"
        end=$(date +%s%N)
        echo "$k $(( (end - start) / 1000 )) $(awk '{print $1 + $2}' "$WORK/time")" >> "$WORK/times"
    done
done

"$PYTHON" - "$WORK" "$N" "$RUNS" <<'PY'
import statistics, sys, pathlib, os
work, n, runs = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
wall, cpu = {}, {}
for line in (work / "times").read_text().split("\n"):
    if line:
        k, us, c = line.split()
        wall.setdefault(k, []).append(int(us) / 1e6)
        cpu.setdefault(k, []).append(float(c))
med = {k: statistics.median(v) for k, v in wall.items()}
names = {
    "a": "(a)  Rhai par_map, captured array + script fn",
    "a1": "(a1) Rhai serial for loop, same algorithm",
    "a2": "(a2) Rhai serial map, same closure",
    "b": "(b)  Rhai par_map + rng/resample/mean",
    "c": "(c)  CPython serial",
    "d": "(d)  CPython multiprocessing.Pool(2)",
}
print(f"bootstrap, {n} resamples, {runs} runs, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
print(f"{'run':48s} {'wall median':>11s} {'range':>13s} {'cpu':>7s}")
for k, name in names.items():
    w = wall[k]
    print(f"{name:48s} {med[k]:10.2f}s {min(w):6.2f}-{max(w):<6.2f} {statistics.median(cpu[k]):6.2f}s")
print(f"(a) speedup over its serial for loop (a1): {med['a1'] / med['a']:.2f}x   over serial map (a2): {med['a2'] / med['a']:.2f}x   (goal >= 1.8)")
print(f"(b) against (d): {med['d'] / med['b']:.2f}x faster   against (c): {med['c'] / med['b']:.2f}x faster   (goal: (b) faster than (d))")
res = {k: (work / f"{k}.txt").read_text().strip() for k in names}
same = res["a"] == res["a1"] == res["a2"] == res["c"] == res["d"]
print(f"CI95 of (a), (a1), (a2), (c), (d): {res['a']} ({'identical' if same else 'DIFFERENT: ' + str(res)}); (b), another generator: {res['b']}")
PY
