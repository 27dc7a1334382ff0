#!/usr/bin/env python3
"""NumPy as a peer: GB/s of the usual NumPy spellings of sum|w| and sum w^2,
at the sizes of the compare example, as a markdown table.

    python3 scripts/numpy_peer.py [--samples N]

Needs numpy (pip install numpy threadpoolctl). scripts/benchmarks.sh runs it
when numpy is importable. Each figure is the median of N timed samples; a
sample repeats the call for at least ~10 ms on the same buffer (allocated
once); 64 Mi elements are larger than the last-level cache, so cold.
"""

import argparse
import statistics
import sys
import time

try:
    import numpy as np
except ImportError:
    sys.exit("numpy_peer.py: numpy is not installed (pip install numpy)")

SIZES = [1000, 16384, 262144, 4194304, 67108864]


def kernels():
    """(label, op, function of x and a scratch buffer)."""
    return [
        ("np.abs(x).sum()", "sum_abs", lambda x, buf: np.abs(x).sum()),
        ("np.abs(x, out=buf).sum()", "sum_abs", lambda x, buf: np.abs(x, out=buf).sum()),
        ("np.linalg.norm(x, 1)", "sum_abs", lambda x, buf: np.linalg.norm(x, 1)),
        ("(x * x).sum()", "sum_sq", lambda x, buf: (x * x).sum()),
        ("np.dot(x, x) (BLAS)", "sum_sq", lambda x, buf: np.dot(x, x)),
        ("np.linalg.norm(x) ** 2", "sum_sq", lambda x, buf: np.linalg.norm(x) ** 2),
    ]


def gbps(f, x, buf, samples):
    reps = 1
    while True:
        start = time.perf_counter()
        for _ in range(reps):
            f(x, buf)
        if time.perf_counter() - start >= 0.01:
            break
        reps *= 2
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(reps):
            f(x, buf)
        times.append((time.perf_counter() - start) / reps)
    return x.nbytes / statistics.median(times) / 1e9


def level(nbytes):
    return "DRAM, cold" if nbytes > 64 << 20 else "hot"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_info

        blas = "; ".join(
            f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}, {i.get('num_threads')} threads"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        )
    except ImportError:
        blas = "unknown (pip install threadpoolctl to see it)"
    print(f"NumPy {np.__version__}; its BLAS: {blas}")
    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        for op in ("sum_abs", "sum_sq"):
            print()
            print(f"{op} over {name}, NumPy: GB/s of input read (median of {args.samples})")
            print()
            head = " | ".join(f"{n} ({level(n * np.dtype(dtype).itemsize)})" for n in SIZES)
            print(f"| kernel | {head} |")
            print("|---|" + "---:|" * len(SIZES))
            data = {n: rng.uniform(-1, 1, n).astype(dtype) for n in SIZES}
            for label, kop, f in kernels():
                if kop != op:
                    continue
                cells = []
                for n in SIZES:
                    x = data[n]
                    buf = np.empty_like(x)
                    cells.append(f"{gbps(f, x, buf, args.samples):.1f}")
                    print(f"  {name} {label} {n}", file=sys.stderr)
                print(f"| {label} | " + " | ".join(cells) + " |")
            del data


if __name__ == "__main__":
    main()
