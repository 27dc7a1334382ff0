"""regnorm on NumPy arrays: the Rust crate's bits, the documented bound,
the NaN/Inf rules, bad input (nothing written), threads and fork."""

import math
import multiprocessing as mp
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import regnorm
from conftest import bits, data

# Computed by the Rust crate (regnorm 0.1.0) on the same data.
RUST = {
    "f32 sums": (0x4107DABF18000000, 0x411F13771AE80000),
    "f64 sums": (0x40DFCE436AAAAAAC, 0x40DB9F7F1431C71C),
    "model sums": (0x410A7F1D80000000, 0x4121428413F60000),
    "l1": 0x406B21E8F5C28F5C,
    "l2": 0x4081AC8F7099999A,
    "en": 0x4070711426E24DD3,
    "l1 pg": (0x406B21E8F5C28F5C, 0x40FA860D0E6B2680, 0x4101494DCA34B786),
    "clip": (0x407784F885CFC39F, 0x40720B32D48E3980, 0x3FF00000009B3F77),
}

# regnorm.relative_error_bound at 2^30 elements (it grows with the length).
BOUND = {np.float32: 3.82e-6, np.float64: 9.89e-15}


def test_bits_equal_the_rust_crate(model):
    x = data(100_003, 1)
    assert tuple(map(bits, regnorm.sums(x))) == RUST["f32 sums"]
    y = data(50_001, 2).astype(np.float64) / 3.0
    assert tuple(map(bits, regnorm.sums(y))) == RUST["f64 sums"]
    assert tuple(map(bits, regnorm.sums(model))) == RUST["model sums"]
    assert bits(regnorm.sum_abs(model)) == RUST["model sums"][0]
    assert bits(regnorm.sum_sq(model)) == RUST["model sums"][1]
    assert bits(regnorm.L1(0.001).penalty(model)) == RUST["l1"]
    assert bits(regnorm.L2(0.001).penalty(model)) == RUST["l2"]
    assert bits(regnorm.ElasticNet(0.001, 0.3).penalty(model)) == RUST["en"]
    grads = [t * np.float32(0.5) for t in model]
    p = regnorm.L1(0.001).penalty_and_gradient_(model, grads)
    assert (bits(p), *map(bits, regnorm.sums(grads))) == RUST["l1 pg"]
    n = regnorm.ClipGradNorm(1.0).clip_(grads)
    assert (bits(n), *map(bits, regnorm.sums(grads))) == RUST["clip"]


def test_every_thread_count_gives_the_same_bits(model):
    before = regnorm.get_num_threads()
    try:
        got = set()
        for n in (1, 2, 3):
            regnorm.set_num_threads(n)
            assert regnorm.get_num_threads() == n
            got.add(tuple(map(bits, regnorm.sums(model))))
        assert got == {RUST["model sums"]}
    finally:
        regnorm.set_num_threads(before)


finite32 = st.floats(-1e6, 1e6, width=32, allow_subnormal=True)
finite64 = st.floats(-1e150, 1e150, allow_subnormal=True)


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(np.float32, st.integers(0, 5000), elements=finite32),
    st.integers(0, 15),
)
def test_f32_within_the_bound_of_the_exact_sum(x, offset):
    x = x[offset:]
    a, s = regnorm.sums(x)
    exact_abs = math.fsum(abs(float(v)) for v in x)
    exact_sq = math.fsum(float(v) * float(v) for v in x)
    assert abs(a - exact_abs) <= BOUND[np.float32] * exact_abs
    assert abs(s - exact_sq) <= BOUND[np.float32] * exact_sq + len(x) * 2.0**-149


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 3000), elements=finite64))
def test_f64_within_the_bound_of_the_exact_sum(x):
    a, s = regnorm.sums(x)
    assert abs(a - math.fsum(abs(v) for v in x.tolist())) <= BOUND[np.float64] * math.fsum(
        abs(v) for v in x.tolist()
    )
    exact_sq = math.fsum(v * v for v in x.tolist())
    assert abs(s - exact_sq) <= BOUND[np.float64] * exact_sq + len(x) * 2.0**-1074


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float16, st.integers(0, 3000)))
def test_f16_equals_its_f32_widening(x):
    got = regnorm.sums(x)
    want = regnorm.sums(x.astype(np.float32))
    assert list(map(bits, got)) == list(map(bits, want)) or (math.isnan(got[0]) and math.isnan(want[0]))


def test_nan_and_inf_rules():
    x = np.array([1.0, np.inf, 2.0], np.float32)
    assert regnorm.sums(x) == (math.inf, math.inf)
    x[0] = np.nan
    a, s = regnorm.sums(x)
    assert math.isnan(a) and math.isnan(s)
    assert regnorm.sums(np.array([-0.0])) == (0.0, 0.0)
    assert regnorm.sums(np.zeros(0, np.float32)) == (0.0, 0.0)
    assert regnorm.sums([]) == (0.0, 0.0)


def test_non_contiguous_reductions_copy_once():
    x = data(1000, 4)
    assert regnorm.sums(x[::2]) == regnorm.sums(np.ascontiguousarray(x[::2]))


def test_bad_constructor_arguments_are_value_errors():
    for bad in (lambda: regnorm.L1(-1.0), lambda: regnorm.L2(math.nan), lambda: regnorm.ElasticNet(1.0, 1.5),
                lambda: regnorm.WeightDecay(-0.1), lambda: regnorm.ClipGradNorm(-1.0)):
        with pytest.raises(ValueError):
            bad()
    w, g = data(10, 1), np.zeros(10, np.float32)
    with pytest.raises(ValueError):
        regnorm.L1(0.1).prox_step_(w, -1.0)
    with pytest.raises(ValueError):
        regnorm.WeightDecay(0.1).apply_(w, math.inf)


def unchanged(arrays, f, error, match=None):
    before = [a.copy() for a in arrays]
    with pytest.raises(error, match=match):
        f()
    for a, b in zip(arrays, before):
        assert a.tobytes() == b.tobytes(), "an array was written"


def test_bad_in_place_input_writes_nothing():
    w = data(64, 1)
    g = np.ones(64, np.float32)
    l1 = regnorm.L1(0.1)
    # non-contiguous, read-only, integer, bool, wrong length, mixed types
    unchanged([w, g], lambda: l1.add_gradient_(w, g[::2]), ValueError, "grads")
    ro = g.copy()
    ro.flags.writeable = False
    unchanged([w], lambda: l1.add_gradient_(w, ro), ValueError, "read-only")
    unchanged([w], lambda: l1.prox_step_(np.arange(4), 0.1), TypeError, "params")
    unchanged([w], lambda: l1.prox_step_(np.ones(4, bool), 0.1), TypeError)
    unchanged([w, g], lambda: l1.add_gradient_(w, g[:10].copy()), ValueError, "elements")
    unchanged([w, g], lambda: l1.add_gradient_([w, w], [g, np.ones(64)]), TypeError)
    unchanged([w, g], lambda: l1.add_gradient_([w], [g, g]), ValueError)


def test_overlapping_buffers_are_refused():
    w = data(64, 1)
    g = np.ones(64, np.float32)
    l1 = regnorm.L1(0.1)
    # the same array twice, overlapping views, params and grads sharing memory
    unchanged([g], lambda: regnorm.ClipGradNorm(0.1).clip_([g, g]), ValueError, "share memory")
    unchanged([g], lambda: regnorm.ClipGradNorm(0.1).clip_([g[:40], g[30:]]), ValueError, "share memory")
    unchanged([g], lambda: l1.add_gradient_(g, g), ValueError, "share memory")
    unchanged([w], lambda: l1.prox_step_([w, w[10:20]], 0.1), ValueError, "share memory")
    unchanged([w, g], lambda: l1.add_gradient_([w, g[:32]], [g[32:], w[:1].copy()[:1]]), ValueError)
    # disjoint views of one buffer are fine
    regnorm.ClipGradNorm(1e9).clip_([g[:32], g[32:]])


def test_two_threads_at_once_both_progress(model):
    results, errors = [], []

    def work():
        try:
            for _ in range(50):
                results.append(tuple(map(bits, regnorm.sums(model))))
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(results) == 100 and set(results) == {RUST["model sums"]}


def _child(q):
    from conftest import data as d

    m = [d(n, k + 3) for k, n in enumerate([1000, 64, 40_000, 3, 70_000])]
    q.put(tuple(map(bits, regnorm.sums(m))))


def test_fork_after_use_gives_the_child_the_same_bits(model):
    regnorm.sums(model)  # the helpers exist now
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    got = q.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0 and got == RUST["model sums"]
    assert tuple(map(bits, regnorm.sums(model))) == RUST["model sums"]


def test_weight_decay_and_prox():
    w = np.array([1.0, -0.05, 0.5], np.float64)
    stats = regnorm.L1(0.1).prox_step_(w, 1.0)
    assert stats.zeros == 1 and w.tolist() == [0.9, 0.0, 0.4]
    regnorm.WeightDecay(0.5).apply_(w, 1.0)
    assert w.tolist() == [0.45, 0.0, 0.2]
