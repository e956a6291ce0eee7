# Sourced by the claim benchmarks: `claim_scripts DIR N` writes the two no-op loop forms of
# claimsh over N items (per-item.rhai, claimed.rhai) into DIR; MPT_LOOP is the Python
# MultiProcessTools-style loop they are compared with (scripts/mpt-loop.py N DIR).
MPT_LOOP="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/mpt-loop.py"
claim_scripts() {
  local dir=$1 n=$2
  printf 'for i in 0..%s { let k = `k${i}`; if claim(k) { done(k); } }\n' "$n" > "$dir/per-item.rhai"
  printf 'let keys = []; for i in 0..%s { keys.push(`k${i}`); }\nfor k in claimed(keys) { done(k); }\n' "$n" > "$dir/claimed.rhai"
}

# Seconds a command takes (its output discarded), and the median of numbers on stdin.
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
