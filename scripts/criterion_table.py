#!/usr/bin/env python3
"""Print criterion results as a table of GB/s (10^9 bytes/s) from medians.

Usage: scripts/criterion_table.py [GROUP_PREFIX ...]
Reads target/criterion/<group>/<function>/<size>/new/{estimates,benchmark}.json.
"""
import json
import pathlib
import sys

def l3_bytes():
    """The last-level cache size, to label sizes hot (fit) or cold (DRAM)."""
    try:
        for idx in sorted(pathlib.Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
            if (idx / "level").read_text().strip() == "3":
                return int((idx / "size").read_text().strip().rstrip("K")) * 1024
    except OSError:
        pass
    return None


L3 = l3_bytes()


root = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
prefixes = [a for a in sys.argv[1:] if not a.startswith("--")] or [""]
rows = {}
labels = {}
for est in sorted(root.glob("**/new/estimates.json")):
    if not (est.parent / "benchmark.json").exists():
        continue
    bench = json.loads((est.parent / "benchmark.json").read_text())
    group, func, size = bench["group_id"], bench["function_id"], bench.get("value_str")
    if func and "/" in func and size is None:
        func, size = func.rsplit("/", 1)
    if not any(group.startswith(p) for p in prefixes):
        continue
    median_ns = json.loads(est.read_text())["median"]["point_estimate"]
    tp = bench.get("throughput") or {}
    nbytes = tp.get("Bytes") or tp.get("BytesDecimal")
    value = nbytes / median_ns if nbytes else None  # bytes per ns == GB/s
    key = int(size) if size is not None and str(size).isdigit() else "GB/s"
    rows.setdefault(group, {}).setdefault(func, {})[key] = (value, median_ns)
    if isinstance(key, int) and nbytes:
        labels[(group, key)] = "hot" if L3 is None or nbytes <= L3 else "cold, DRAM"


ORDER = ["naive iter().sum()", "naive iter().map(to_f32).sum()", "half to_f32_vec + faer",
         "half to_f32_vec + openblas, threaded", "naive", "faer", "ndarray", "nalgebra", "openblas, 1 thread", "openblas, threaded",
         "openblas nrm2², threaded", "scalar", "portable", "avx", "avx512", "dispatched", "parallel", "parallel-in-pool"]


def rank(name):
    return (ORDER.index(name), name) if name in ORDER else (len(ORDER), name)


for group, funcs in (rows.items() if "--headline" not in sys.argv else []):
    gsizes = sorted({s for f in funcs.values() for s in f}, key=str)
    if all(isinstance(s, int) for s in gsizes):
        gsizes = sorted(gsizes)
    print(f"\n{group} (GB/s, criterion median)")
    heads = [f"{s:,} ({labels.get((group, s), '')})" if isinstance(s, int) else s for s in gsizes]
    print("| kernel | " + " | ".join(heads) + " | median time |" * (gsizes == ["GB/s"]) + " |" * (gsizes != ["GB/s"]))
    print("|---|" + "---:|" * (len(gsizes) + (gsizes == ["GB/s"])))
    for func, by_size in sorted(funcs.items(), key=lambda kv: rank(kv[0])):
        cells = []
        for s in gsizes:
            v = by_size.get(s)
            cells.append("" if v is None or v[0] is None else f"{v[0]:.1f}")
        if gsizes == ["GB/s"]:
            ns = by_size["GB/s"][1]
            cells.append(f"{ns / 1e6:.2f} ms" if ns >= 1e5 else f"{ns / 1e3:.1f} µs")
        print(f"| {func} | " + " | ".join(cells) + " |")


def present(groups):
    """(group, its rows) for each of `groups` that the run measured."""
    return [(g, rows[g]) for g in groups if rows.get(g)]


def headline():
    """A compact summary: regnorm against the best peer, per size and model."""
    regnorm_rows = {"avx512", "avx", "portable", "scalar", "dispatched", "parallel", "parallel-in-pool"}
    print("| reduction | size | one-thread ceiling (regnorm's share) | regnorm one thread | best one-thread peer | regnorm 2 threads (from a worker) | best peer, any threads |")
    print("|---|---|---:|---:|---|---:|---|")
    for group, funcs in present(["sum_abs/f32", "sum_sq/f32", "sum_abs/f64", "sum_sq/f64",
                                  "sum_abs/bf16", "sum_sq/bf16", "sum_abs/f16", "sum_sq/f16"]):
        for size in sorted({s for f in funcs.values() for s in f if isinstance(s, int) and s >= 16384}):
            def g(name):
                v = funcs.get(name, {}).get(size)
                return v[0] if v else None
            # The ceiling is not a peer: it is what the machine allows.
            peers = {f: g(f) for f in funcs if f not in regnorm_rows and f != "ceiling" and g(f) is not None}
            one = {f: v for f, v in peers.items() if "threaded" not in f}
            b1 = max(one.items(), key=lambda kv: kv[1])
            ba = max(peers.items(), key=lambda kv: kv[1])
            d, w, c = g("dispatched"), g("parallel-in-pool"), g("ceiling")
            ceiling = f"{c:.1f} ({d / c:.2f})" if c else "–"
            print(f"| {group} | {size:,} ({labels.get((group, size), '')}) | {ceiling} | {d:.1f} ({d / b1[1]:.2f}×) | {b1[0]} {b1[1]:.1f} "
                  f"| {w:.1f} ({w / ba[1]:.2f}×) | {ba[0]} {ba[1]:.1f} |")
    print()
    print("| whole model | regnorm `penalty_model` | best per-tensor peer loop | speed-up |")
    print("|---|---:|---|---:|")
    for group, funcs in present(["model_l1/resnet18", "model_l2/resnet18", "model_l1/gpt2_small", "model_l2/gpt2_small",
                                  "model_l1/gpt2_small_bf16", "model_l2/gpt2_small_bf16"]):
        ours = funcs["regnorm penalty_model"]["GB/s"][1]
        peers = {f: v["GB/s"][1] for f, v in funcs.items() if "per-tensor loop" in f and not f.startswith("regnorm")}
        best = min(peers.items(), key=lambda kv: kv[1])
        print(f"| {group.replace('model_', '')} | {ours / 1e6:.2f} ms | {best[0]} {best[1] / 1e6:.2f} ms | {best[1] / ours:.2f}× |")

    ew = rows.get("elementwise_64Mi_f32", {})
    if ew:
        t = lambda f: ew[f]["GB/s"][1]
        gbs = lambda f: ew[f]["GB/s"][0]
        print()
        print("| training step, 64 Mi f32, 2 threads | result |")
        print("|---|---:|")
        print(f"| fused penalty + gradient vs penalty, then gradient | {t('fused_penalty_gradient') / 1e6:.2f} ms vs "
              f"{t('two_pass_penalty_then_gradient') / 1e6:.2f} ms: {t('two_pass_penalty_then_gradient') / t('fused_penalty_gradient'):.2f}× |")
        for f in ["prox_step", "weight_decay", "add_gradient"]:
            print(f"| {f.replace('_', ' ')}, GB/s moved vs a parallel memory copy | {gbs(f):.1f} vs {gbs('memcpy_parallel'):.1f}: "
                  f"{100 * gbs(f) / gbs('memcpy_parallel'):.0f}% |")
    for name in ["resnet18", "gpt2_small"]:
        m = rows.get(f"model_{name}_f32", {})
        if m:
            c, f = m["clip_norm_only"]["GB/s"][1], m["sum_sq_flat_buffer"]["GB/s"][1]
            print(f"| clip_grad_norm over {name} vs one sum_sq over a flat buffer | {c / 1e6:.2f} ms vs {f / 1e6:.2f} ms: {c / f:.2f}× |")


if "--headline" in sys.argv:
    headline()
