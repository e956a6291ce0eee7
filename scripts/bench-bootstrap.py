"""The bootstrap of scripts/bench-bootstrap.sh (LCG-seeded resampling of 15 values, mean), in
CPython: the algorithm of the Rhai scripts there, step for step.

    python3 scripts/bench-bootstrap.py RESAMPLES serial|pool
"""
import multiprocessing
import sys

DATA = [4.1, 5.3, 3.9, 6.2, 5.0, 4.8, 5.7, 6.9, 4.4, 5.1, 3.6, 5.9, 6.4, 4.0, 5.5]


def lcg(state):
    return (state * 1103515245 + 12345) % 2147483648


def one(seed):
    s = lcg(seed)
    total = 0.0
    n = len(DATA)
    for _ in range(n):
        s = lcg(s)
        total += DATA[(s >> 16) % n]
    return total / n


def main():
    resamples, how = int(sys.argv[1]), sys.argv[2]
    seeds = range(1, resamples + 1)
    if how == "pool":
        with multiprocessing.Pool(2) as pool:
            means = pool.map(one, seeds)
    else:
        means = [one(seed) for seed in seeds]
    means.sort()
    print(f"{means[resamples * 25 // 1000]},{means[resamples * 975 // 1000]}")


if __name__ == "__main__":
    main()
