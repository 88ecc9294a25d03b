#!/usr/bin/env python3
"""The table of bench/latency_floor.sh from its tab-separated rows (bench/latency-floor/Program.cs)."""
import math
import statistics
import sys


def within(pairs):
    return sum(1 for p, m in pairs if abs(p - m) <= 0.10 * abs(m) + 1e-12)


def main(path):
    with open(path) as f:
        lines = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    rows = [dict(zip(lines[0], map(float, r))) for r in lines[1:]]
    n = len(rows)
    print("| clock | batch | pass A vs pass B | alone: within | alone: spread | alone: scaled on 3 | in context: within | in context: spread | in context: scaled on 3 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for clock, name in (("w", "wall"), ("c", "thread CPU")):
        for b in ("1", "256"):
            a = [r[f"A{clock}{b}"] for r in rows]
            again = within(list(zip([r[f"B{clock}{b}"] for r in rows], a)))
            cells = [f"{again} of {n}"]
            for m in ("sum", "ctx"):
                p = [max(r[f"{clock}_{m}{b}"], 1e-9) for r in rows]
                spread = statistics.pstdev([math.log(x / y) for x, y in zip(p, a)])
                scale = statistics.median([y / x for x, y in zip(p[:3], a[:3])])   # fitted on the first 3, counted on the rest
                cells += [f"{within(list(zip(p, a)))} of {n}", f"{spread:.2f}", f"{within([(x * scale, y) for x, y in zip(p[3:], a[3:])])} of {n - 3}"]
            print(f"| {name} | {b} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
