"""The MultiProcessTools-style claim loop the benchmarks compare against: N no-op items, a final
file per item checked first, an O_EXCL temporary file as the claim. Usage: mpt-loop.py N DIR."""
import os
import sys

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
