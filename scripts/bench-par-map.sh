#!/usr/bin/env bash
# par_map with a Rhai closure, in one run: serial Rhai `map` against `par_map` on tiny closures
# (overhead per element; also reading a captured array) and CPU-bound closures (speedup on all
# cores). Medians of 5.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p claimsh
WORK=$(mktemp -d "$PWD/target/bench-par-map.XXXX")
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/par.rhai" <<'RHAI'
fn median(xs) { xs.sort(); xs[xs.len() / 2] }
fn spin(n) { let a = 1; for i in 0..n { a = (a * 31 + i) % 1000003; } a }
let tiny = []; for i in 0..100000 { tiny.push(i); }
let heavy = []; for i in 0..64 { heavy.push(20000); }
let data = [1, 2, 3, 4, 5, 6, 7, 8];
let ts = []; let tp = []; let cs = []; let cp = []; let hs = []; let hp = [];
for r in 0..5 {
    let t = timestamp(); tiny.map(|x| x * 2); ts.push(t.elapsed);
    let t = timestamp(); par_map(tiny, |x| x * 2); tp.push(t.elapsed);
    let t = timestamp(); tiny.map(|x| x * data[x % 8]); cs.push(t.elapsed);
    let t = timestamp(); par_map(tiny, |x| x * data[x % 8]); cp.push(t.elapsed);
    let t = timestamp(); heavy.map(|n| spin(n)); hs.push(t.elapsed);
    let t = timestamp(); par_map(heavy, |n| spin(n)); hp.push(t.elapsed);
}
let ts = median(ts); let tp = median(tp); let hs = median(hs); let hp = median(hp);
let cs = median(cs); let cp = median(cp);
print(`tiny closures: serial map ${ts * 1e9 / 100000.0} ns/elem, par_map ${tp * 1e9 / 100000.0} ns/elem, ratio ${tp / ts}`);
print(`tiny closures reading a captured array: serial map ${cs * 1e9 / 100000.0} ns/elem, par_map ${cp * 1e9 / 100000.0} ns/elem, ratio ${cp / cs}`);
print(`CPU-bound closures: par_map speedup ${hs / hp}x over serial map (workers() = ${workers()})`);
RHAI

target/release/claimsh "$WORK/par.rhai" -j 1 -v --no-progress 2>&1 | grep -E "closures" | sed 's/\x1b\[[0-9;]*m//g; s/.*}: //'
