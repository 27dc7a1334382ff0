"""regnorm.torch against torch itself and the seed's modules."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import regnorm  # noqa: E402
import regnorm.torch as rt  # noqa: E402


class SeedL1(torch.nn.Module):
    """The seed's module: λ·Σ|w| by a loop over the parameters."""

    def __init__(self, lam):
        super().__init__()
        self.lam = lam

    def forward(self, model):
        return self.lam * sum(torch.abs(p).sum() for p in model.parameters())


class SeedL2(torch.nn.Module):
    def __init__(self, lam):
        super().__init__()
        self.lam = lam

    def forward(self, model):
        return self.lam * sum(torch.pow(p, 2).sum() for p in model.parameters())


def net(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(30, 64), torch.nn.ReLU(), torch.nn.Linear(64, 5))
    return m.to(dtype)


def grads_of(m):
    return [None if p.grad is None else p.grad.clone() for p in m.parameters()]


@pytest.mark.parametrize("ours,seed", [(rt.L1Regularization, SeedL1), (rt.L2Regularization, SeedL2)])
def test_autograd_gradients_equal_the_seed_modules(ours, seed):
    a, b = net(), net()
    x = torch.randn(8, 30)
    (a(x).square().mean() + ours(1e-3)(a)).backward()
    (b(x).square().mean() + seed(1e-3)(b)).backward()
    for ga, gb in zip(grads_of(a), grads_of(b)):
        torch.testing.assert_close(ga, gb, rtol=1e-6, atol=1e-9)
    pa, pb = ours(1e-3)(a), seed(1e-3)(b)
    torch.testing.assert_close(pa.detach(), pb.detach(), rtol=1e-5, atol=0)


def test_penalty_grad_without_prior_grad_and_repeated_backward():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.0]))
    rt.l1_penalty([p], 0.5).backward()
    assert p.grad.tolist() == [0.5, -0.5, 0.0]
    (2 * rt.l1_penalty([p], 0.5)).backward()
    assert p.grad.tolist() == [1.5, -1.5, 0.0]
    q = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    (-rt.elastic_net_penalty([q], 1.0, 0.5)).backward()
    expected = -(0.5 * torch.sign(q.detach()) + 0.5 * q.detach())
    torch.testing.assert_close(q.grad, expected)


def test_add_penalty_grad_is_the_fused_pass():
    a, b = net(1), net(1)
    x = torch.randn(4, 30)
    a(x).sum().backward()
    b(x).sum().backward()
    value = rt.add_penalty_grad_(a.parameters(), regnorm.L1(1e-2))
    (SeedL1(1e-2)(b)).backward()
    for ga, gb in zip(grads_of(a), grads_of(b)):
        torch.testing.assert_close(ga, gb, rtol=1e-6, atol=1e-9)
    assert math.isclose(value, float(SeedL1(1e-2)(b).detach()), rel_tol=1e-5)


def clip_case(max_norm, dtype=torch.float32, none_at=(), scale=1.0, nonfinite=None):
    m = net(2, dtype)
    ps = list(m.parameters())
    for i, p in enumerate(ps):
        p.grad = None if i in none_at else torch.randn_like(p) * scale
    if nonfinite is not None:
        ps[-1].grad[0] = nonfinite
    return ps


@pytest.mark.parametrize("max_norm,scale", [(1.0, 1.0), (100.0, 1.0), (0.5, 10.0), (1e-3, 1e-4)])
@pytest.mark.parametrize("none_at", [(), (0,), (1, 3)])
def test_clip_grad_norm_matches_torch(max_norm, scale, none_at):
    ours, theirs = clip_case(max_norm, none_at=none_at, scale=scale), clip_case(max_norm, none_at=none_at, scale=scale)
    n_ours = rt.clip_grad_norm_(ours, max_norm)
    n_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert n_ours.dim() == 0 and n_ours.dtype == n_theirs.dtype
    torch.testing.assert_close(n_ours, n_theirs, rtol=1e-5, atol=0)
    for a, b in zip(ours, theirs):
        if a.grad is None:
            assert b.grad is None
        else:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-7)


def test_clip_empty_and_all_none():
    assert float(rt.clip_grad_norm_([], 1.0)) == 0.0
    ps = clip_case(1.0, none_at=range(10))
    assert float(rt.clip_grad_norm_(ps, 1.0)) == 0.0


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_clip_non_finite(bad):
    ours, theirs = clip_case(1.0, nonfinite=bad), clip_case(1.0, nonfinite=bad)
    before = [p.grad.clone() for p in ours]
    with pytest.raises(RuntimeError):
        rt.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    for p, b in zip(ours, before):
        assert torch.equal(p.grad.nan_to_num(1.0), b.nan_to_num(1.0))
    n_ours = rt.clip_grad_norm_(ours, 1.0)
    n_theirs = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert (math.isnan(n_ours) and math.isnan(n_theirs)) or float(n_ours) == float(n_theirs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, equal_nan=True)


def test_other_norm_types_go_to_torch():
    ours, theirs = clip_case(1.0), clip_case(1.0)
    torch.testing.assert_close(rt.clip_grad_norm_(ours, 1.0, norm_type=1.0),
                               torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=1.0))


def test_get_total_norm_and_clip_with_norm():
    ps = clip_case(1.0)
    grads = [p.grad for p in ps]
    torch.testing.assert_close(rt.get_total_norm(grads), torch.nn.utils.get_total_norm(grads), rtol=1e-5, atol=0)
    ours, theirs = clip_case(1.0), clip_case(1.0)
    rt.clip_grads_with_norm_(ours, 1.0, 7.0)
    torch.nn.utils.clip_grads_with_norm_(theirs, 1.0, torch.tensor(7.0))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-7)


def test_bf16_and_f16_equal_their_f32_widening():
    torch.manual_seed(3)
    for dtype in (torch.bfloat16, torch.float16):
        ts = [torch.randn(n).to(dtype) for n in (1, 100, 5000, 70_001)]
        got = regnorm.sums(ts)
        want = regnorm.sums([t.float() for t in ts])
        assert got == want


def test_tensors_are_read_without_a_copy_and_written_in_place():
    t = torch.tensor([3.0, 4.0])
    regnorm.ClipGradNorm(1.0).clip_(t)
    torch.testing.assert_close(t, torch.tensor([0.6, 0.8]))
    b = torch.tensor([3.0, 4.0], dtype=torch.bfloat16)
    regnorm.WeightDecay(0.5).apply_(b, 1.0)
    assert b.tolist() == [1.5, 2.0]


def test_bad_tensors_write_nothing():
    w = torch.randn(16)
    g = torch.zeros(16)
    l1 = regnorm.L1(0.1)
    cases = [
        (lambda: l1.add_gradient_(w, torch.zeros(32)[::2]), ValueError),       # non-contiguous
        (lambda: l1.add_gradient_(w, g.to(torch.int32)), TypeError),          # integer
        (lambda: l1.add_gradient_(w, torch.zeros(16, dtype=torch.bool)), TypeError),
        (lambda: l1.add_gradient_(w, torch.zeros(16, device="meta")), ValueError),
        (lambda: l1.add_gradient_(g, g), ValueError),                          # same storage
        (lambda: l1.add_gradient_(w, w.view(4, 4)), ValueError),               # tied weights
        (lambda: regnorm.ClipGradNorm(1e-3).clip_([g, g[4:8]]), ValueError),
    ]
    g += 1
    before_w, before_g = w.clone(), g.clone()
    for f, err in cases:
        with pytest.raises(err):
            f()
        assert torch.equal(w, before_w) and torch.equal(g, before_g)


def test_empty_and_non_contiguous_tensors_are_read():
    # An empty tensor's data_ptr() is 0: read as an empty slice.
    empty = torch.zeros(0)
    assert empty.data_ptr() == 0
    assert regnorm.sums([empty]) == (0.0, 0.0)
    assert regnorm.ClipGradNorm(1.0).clip_([empty]) == 0.0
    # Read through one contiguous copy, as torch would; the original is
    # left as it is.
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    p = torch.nn.Parameter(x.t())
    assert not p.is_contiguous()
    assert regnorm.sums([torch.ones(3), p, x[:, ::2]]) == (3.0 + 66.0 + 30.0, 3.0 + 506.0 + 220.0)
    assert torch.equal(p, x.t())


def test_objects_that_lie_about_their_memory_are_refused():
    class Fake:
        is_cpu = True
        dtype = torch.float32

        def data_ptr(self):
            return 8  # nowhere

        def numel(self):
            return 1 << 40

        def is_contiguous(self):
            return True

    with pytest.raises(TypeError):
        regnorm.sums([torch.zeros(4), Fake()])

    class Sub(torch.Tensor):
        def numel(self):
            return 1 << 40

    with pytest.raises(TypeError):
        regnorm.sums([torch.zeros(4), torch.zeros(4).as_subclass(Sub)])

    t = torch.zeros(4)
    t.numel = lambda: 1 << 40  # an instance attribute does not answer
    assert regnorm.sums([t]) == (0.0, 0.0)


def test_a_call_running_on_a_tensor_refuses_calls_that_would_race_it():
    # Deterministic: _while_claimed holds a running call's claim while the
    # callback makes the second call (torch tensors have no borrow flags,
    # so without the claim both calls would run, one writing what the other
    # reads or writes).
    from regnorm import _native

    w, g, other = torch.ones(64), torch.ones(64), torch.ones(64)
    clip = regnorm.ClipGradNorm(1e-3)
    l1 = regnorm.L1(0.5)

    def refused(f):
        with pytest.raises(ValueError, match="in use by another regnorm call"):
            f()

    def while_read():
        refused(lambda: clip.clip_([g[8:16]]))  # writes what is read
        assert regnorm.sums([g]) == (64.0, 64.0)  # two readers are fine
        clip.clip_([other])  # other memory is free
        return "ran"

    def while_written():
        refused(lambda: regnorm.sums([g[60:]]))  # reads what is written
        refused(lambda: l1.add_gradient_([w], [g]))  # writes it too
        assert l1.penalty([w]) == 32.0
        return "ran"

    assert _native._while_claimed([g], "f32", False, while_read) == "ran"
    assert _native._while_claimed([g], "f32", True, while_written) == "ran"
    # The claims end with their calls.
    clip.clip_([g])
    assert float(other.norm()) <= 1e-3 * (1 + 1e-6)


def test_two_threads_writing_one_tensor_do_not_both_write():
    import threading

    g = torch.ones(1 << 22)
    errors, done = [], []

    def clip():
        try:
            for _ in range(50):
                regnorm.ClipGradNorm(1e9).clip_([g])
            done.append(1)
        except ValueError as e:
            errors.append(str(e))

    threads = [threading.Thread(target=clip) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    # Either call may be refused while the other runs; none writes at once.
    assert all("in use by another regnorm call" in e for e in errors)
    assert len(done) + len(errors) == 2
