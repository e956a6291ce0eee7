#!/usr/bin/env python3
"""Write a FASTA file of synthetic DNA sequences, the same for the same seed on any machine.

    python3 datasets/sequences/make-sequences.py OUT.fasta [COUNT [SEED]]

Each sequence has its own GC bias (0.30-0.70) and length (150-900 bases); about half carry a
planted open reading frame (ATG, 30-200 codons without a stop, then TAA/TAG/TGA), so the longest
ORF varies widely. A 64-bit linear congruential generator (Knuth's MMIX constants) is used instead
of `random`, whose algorithms may change between Python versions.
"""

import sys

STOPS = ("TAA", "TAG", "TGA")


class Lcg:
    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFFFFFFFFFF

    def unit(self):
        """A float in [0, 1) from the top 53 bits."""
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % 2**64
        return (self.state >> 11) / float(1 << 53)

    def below(self, n):
        return int(self.unit() * n)


def base(rng, gc):
    if rng.unit() < gc:
        return "G" if rng.unit() < 0.5 else "C"
    return "A" if rng.unit() < 0.5 else "T"


def orf(rng, gc):
    codons = ["ATG"]
    for _ in range(30 + rng.below(171)):
        while True:
            codon = base(rng, gc) + base(rng, gc) + base(rng, gc)
            if codon not in STOPS:
                break
        codons.append(codon)
    codons.append(STOPS[rng.below(3)])
    return "".join(codons)


def sequence(rng):
    gc = 0.30 + 0.40 * rng.unit()
    length = 150 + rng.below(751)
    seq = "".join(base(rng, gc) for _ in range(length))
    if rng.unit() < 0.5:
        planted = orf(rng, gc)
        at = rng.below(length)
        seq = seq[:at] + planted + seq[at:]
    return seq


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 2026
    rng = Lcg(seed)
    with open(out, "w", newline="\n") as f:
        for i in range(count):
            seq = sequence(rng)
            f.write(f">seq{i:05d} synthetic length={len(seq)}\n")
            for start in range(0, len(seq), 60):
                f.write(seq[start : start + 60] + "\n")


if __name__ == "__main__":
    main()
