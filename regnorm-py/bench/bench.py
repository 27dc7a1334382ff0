"""regnorm.torch against PyTorch on the parameter shapes of ResNet-18
(torchvision, 62 tensors, 11.7 M) and GPT-2 small (148 tensors, 124 M), in
float32 and bfloat16: interleaved rounds (each round times every contender
once, back to back), medians of the per-round ratios, torch with its default
threads. Prints one table; run it alone on the machine.

    python regnorm-py/bench/bench.py             # about 3 minutes
    python regnorm-py/bench/bench.py --quick     # fewer rounds, ResNet-18 only

What is measured (targets from issue 25):
* clip_grad_norm_, no clipping (max_norm above the norm) and clipping,
  against torch.nn.utils.clip_grad_norm_ (target >= 1.5x without clipping);
* l1_penalty(ps, lam).backward() against the seed's L1Regularization
  forward + backward (target >= 2x), and add_penalty_grad_ (target >= 3x);
* the Python layer: regnorm.L1(lam).penalty(tensors) against the Rust
  crate's own L1::penalty_model on the same buffers in this process (target:
  <= 10 % more for ResNet-18, <= 2 % for GPT-2 small).
"""

import argparse
import platform
import statistics
import time

import torch

import regnorm
import regnorm.torch as rt
from regnorm import _native


def resnet18():
    shapes = [64 * 3 * 7 * 7, 64, 64]
    in_ch = 64
    for out_ch in (64, 128, 256, 512):
        for block in range(2):
            first_in = in_ch if block == 0 else out_ch
            shapes += [out_ch * first_in * 9, out_ch, out_ch, out_ch * out_ch * 9, out_ch, out_ch]
            if block == 0 and out_ch != in_ch:
                shapes += [out_ch * in_ch, out_ch, out_ch]
        in_ch = out_ch
    return shapes + [1000 * 512, 1000]


def gpt2_small():
    d = 768
    shapes = [50257 * d, 1024 * d]
    for _ in range(12):
        shapes += [d, d, d * 3 * d, 3 * d, d * d, d, d, d, d * 4 * d, 4 * d, 4 * d * d, d]
    return shapes + [d, d]


class SeedL1(torch.nn.Module):
    def __init__(self, lam):
        super().__init__()
        self.lam = lam

    def forward(self, params):
        return self.lam * sum(torch.abs(p).sum() for p in params)


def timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def batch(f, seconds):
    """Seconds per call of f over a batch of about `seconds`."""
    once = timed(f)
    reps = max(1, int(seconds / max(once, 1e-7)))
    return timed(lambda: [f() for _ in range(reps)]) / reps


def model(shapes, dtype):
    torch.manual_seed(0)
    ps = [torch.nn.Parameter((torch.rand(n) * 2 - 1).to(dtype)) for n in shapes]
    for p in ps:
        p.grad = (torch.rand(p.shape) * 2 - 1).to(dtype) * 1e-3
    return ps


def measure(name, shapes, dtype, rounds, seconds):
    ps = model(shapes, dtype)
    norm = float(torch.nn.utils.get_total_norm([p.grad for p in ps]))
    lam = 1e-4

    def seed_l1():
        SeedL1(lam)(ps).backward()

    def ours_l1():
        rt.l1_penalty(ps, lam).backward()

    def ours_fused():
        rt.add_penalty_grad_(ps, regnorm.L1(lam))

    # Clipping scales the gradients down by a factor near 1 each call, so the
    # values stay in range over the rounds.
    big, small = norm * 10, norm * 0.999
    contenders = {
        "torch clip (no clipping)": lambda: torch.nn.utils.clip_grad_norm_(ps, big),
        "regnorm clip (no clipping)": lambda: rt.clip_grad_norm_(ps, big),
        "torch clip (clipping)": lambda: torch.nn.utils.clip_grad_norm_(ps, small),
        "regnorm clip (clipping)": lambda: rt.clip_grad_norm_(ps, small),
        "seed L1 fwd+bwd": seed_l1,
        "l1_penalty().backward()": ours_l1,
        "add_penalty_grad_": ours_fused,
        "regnorm.L1.penalty (Python)": lambda: regnorm.L1(lam).penalty(ps),
    }
    views, kind = regnorm._model(ps, "params")
    times = {k: [] for k in contenders}
    times["L1::penalty_model (Rust)"] = []
    for f in contenders.values():
        f()
    python_call = contenders.pop("regnorm.L1.penalty (Python)")
    times["regnorm.L1.penalty (Python)"] = []
    for r in range(rounds):
        for k, f in contenders.items():
            times[k].append(batch(f, seconds))
        # The Python layer against the crate's own call: a pause first (the
        # threads of torch's thread pool spin for a while after its calls),
        # then single calls of the two in alternation, the first pairs
        # untimed (on this VM the first ~50 ms of work after a pause run up
        # to twice as slow, whichever call comes first); each round keeps
        # the median of its timed pairs.
        time.sleep(0.3)
        py, rust, pairs = [], [], 20
        for j in range(2 * pairs):
            py.append(timed(python_call))
            rust.append(_native._time_l1_penalty(views, kind, 1, 1))
        times["regnorm.L1.penalty (Python)"].append(statistics.median(py[pairs:]))
        times["L1::penalty_model (Rust)"].append(statistics.median(rust[pairs:]))

    def ratio(a, b):
        return statistics.median(x / y for x, y in zip(times[a], times[b]))

    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(f"\n### {name}, {str(dtype).replace('torch.', '')} ({len(shapes)} tensors, {sum(shapes):,} values)\n")
    print("| call | median ms |")
    print("|---|---:|")
    for k, v in med.items():
        print(f"| {k} | {v:.3f} |")
    rows = [
        ("clip_grad_norm_, no clipping: torch / regnorm", ratio("torch clip (no clipping)", "regnorm clip (no clipping)"), ">= 1.5x"),
        ("clip_grad_norm_, clipping: torch / regnorm", ratio("torch clip (clipping)", "regnorm clip (clipping)"), "> 1x"),
        ("seed L1 fwd+bwd / l1_penalty().backward()", ratio("seed L1 fwd+bwd", "l1_penalty().backward()"), ">= 2x"),
        ("seed L1 fwd+bwd / add_penalty_grad_", ratio("seed L1 fwd+bwd", "add_penalty_grad_"), ">= 3x"),
        ("Python layer: regnorm.L1.penalty / Rust L1::penalty_model", ratio("regnorm.L1.penalty (Python)", "L1::penalty_model (Rust)"), "<= 1.10 (ResNet-18), <= 1.02 (GPT-2)"),
    ]
    print("\n| ratio (median of rounds) | value | target |")
    print("|---|---:|---|")
    for what, value, target in rows:
        print(f"| {what} | {value:.2f} | {target} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer rounds, ResNet-18 only")
    args = ap.parse_args()
    rounds, seconds = (5, 0.05) if args.quick else (11, 0.2)
    print(
        f"regnorm {regnorm.tier()} tier, {regnorm.get_num_threads()} threads; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; {platform.processor() or platform.machine()}; "
        f"{time.strftime('%Y-%m-%d')}"
    )
    cases = [("ResNet-18", resnet18())]
    if not args.quick:
        cases.append(("GPT-2 small", gpt2_small()))
    for name, shapes in cases:
        for dtype in (torch.float32, torch.bfloat16):
            measure(name, shapes, dtype, rounds, seconds)


if __name__ == "__main__":
    main()
