"""Sharded models over torch.distributed (gloo, 1-4 processes on
127.0.0.1): the merged sums have the single-process bits."""

import os
import socket

import numpy as np
import pytest

import regnorm
from regnorm import shard

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

LENS = [1000, 70_001, 64, 40_000, 3, 100_000]


def model():
    rng = np.random.default_rng(7)
    return [rng.standard_normal(n).astype(np.float32) for n in LENS]


def my_pieces(tensors, rank, size):
    """The two largest tensors split over all ranks; the rest whole,
    round-robin (a rank may have none)."""
    pieces = []
    big = sorted(range(len(LENS)), key=lambda t: -LENS[t])[:2]
    nxt = 0
    for t, x in enumerate(tensors):
        if t in big:
            start, stop = shard.split(LENS, t, size, np.float32)[rank]
            pieces.append((t, start, x[start:stop]))
        else:
            if nxt % size == rank:
                pieces.append((t, 0, x))
            nxt += 1
    return pieces


def test_two_ranks_in_one_process_match_one_process():
    m = model()
    words = [shard.partial_sums(LENS, my_pieces(m, r, 2), np.float32) for r in range(2)]
    total, per_tensor = shard.merge(LENS, words, np.float32)
    assert total == regnorm.sums(m)
    assert per_tensor == [regnorm.sums(x) for x in m]


def test_a_gap_is_an_error_on_every_rank():
    m = model()
    words = [shard.partial_sums(LENS, my_pieces(m, 0, 2), np.float32)]
    with pytest.raises(ValueError):
        shard.merge(LENS, words, np.float32)


def _rank(rank, size, port, out):
    os.environ["OMP_NUM_THREADS"] = "1"
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size)
    try:
        m = model()
        mine = torch.from_numpy(shard.partial_sums(LENS, my_pieces(m, rank, size), np.float32).view(np.int64))
        n = torch.tensor([mine.numel()])
        ns = [torch.zeros(1, dtype=torch.int64) for _ in range(size)]
        dist.all_gather(ns, n)
        width = int(max(int(x) for x in ns))
        padded = torch.zeros(width, dtype=torch.int64)
        padded[: mine.numel()] = mine
        got = [torch.zeros(width, dtype=torch.int64) for _ in range(size)]
        dist.all_gather(got, padded)
        words = [g[: int(k)] for g, k in zip(got, ns)]
        total, _ = shard.merge(LENS, words, np.float32)
        out.put((rank, total))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_gloo_processes_get_the_single_process_bits(size):
    import torch.multiprocessing as tmp

    ctx = tmp.get_context("spawn")
    out = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_rank, args=(r, size, port, out)) for r in range(size)]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=120) for _ in range(size))
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    want = regnorm.sums(model())
    assert all(results[r] == want for r in range(size)), (results, want)
