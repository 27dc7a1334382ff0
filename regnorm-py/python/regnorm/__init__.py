"""regnorm: SIMD, multi-threaded, bitwise-reproducible L1/L2 regularization.

The Rust crate ``regnorm`` for NumPy arrays and CPU PyTorch tensors of
float32, float64, float16 and bfloat16. A *model* is one array or a
sequence of arrays (all of one element type); every result is a Python
float with exactly the Rust crate's bits (one canonical summation order,
the same on every CPU tier, thread count and architecture).

Inputs are read without a copy when C-contiguous; a non-contiguous input to
a reduction is copied once. Functions that update in place (their names end
in ``_``) accept only contiguous, writable CPU arrays and raise ``TypeError``
or ``ValueError`` (naming the argument) without writing anything otherwise,
also when two arrays they would write, or one they write and one they read,
share memory. Every kernel runs with the GIL released.

>>> import numpy as np, regnorm
>>> w = np.array([3.0, -4.0], dtype=np.float32)
>>> regnorm.sums(w)
(7.0, 25.0)
>>> regnorm.norm([w, np.zeros(3, np.float32)])
5.0
>>> regnorm.L1(0.5).penalty(w)
3.5
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple, Tuple

import numpy as np

from . import _native

__all__ = [
    "sum_abs",
    "sum_sq",
    "sums",
    "norm",
    "L1",
    "L2",
    "ElasticNet",
    "ProxStats",
    "WeightDecay",
    "ClipGradNorm",
    "set_num_threads",
    "get_num_threads",
    "tier",
]

_NUMPY_KINDS = {
    np.dtype(np.float32): "f32",
    np.dtype(np.float64): "f64",
    np.dtype(np.float16): "f16",
}


def _is_torch_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "data_ptr")


_TORCH_KINDS: dict = {}


def _torch_kind(x: Any, name: str) -> str:
    if not _TORCH_KINDS:
        import torch

        _TORCH_KINDS.update(
            {torch.float32: "f32", torch.float64: "f64", torch.float16: "f16", torch.bfloat16: "bf16"}
        )
    kind = _TORCH_KINDS.get(x.dtype)
    if kind is None:
        raise TypeError(f"{name}: dtype {x.dtype}; expected float32, float64, float16 or bfloat16")
    return kind


def _torch_view(x: Any, name: str) -> Tuple[Any, str]:
    """A tensor goes to the native module as it is: it takes the tensor's
    memory, device, dtype and layout from the DLPack capsule torch exports,
    checks them, and copies a non-contiguous tensor that is only read."""
    return x, _torch_kind(x, name)


def _numpy_view(x: Any, name: str, write: bool) -> Tuple[np.ndarray, str]:
    if not isinstance(x, np.ndarray):
        if write:
            raise TypeError(f"{name}: expected a NumPy array or a torch tensor, got {type(x).__name__}")
        x = np.asarray(x)
    kind = _NUMPY_KINDS.get(x.dtype)
    if kind is None:
        raise TypeError(f"{name}: dtype {x.dtype}; expected float32, float64 or float16")
    if not x.flags.c_contiguous:
        if write:
            raise ValueError(f"{name}: not contiguous; cannot be updated in place")
        x = np.ascontiguousarray(x)  # one copy, for reading
    if write and not x.flags.writeable:
        raise ValueError(f"{name}: read-only; cannot be updated in place")
    return x, kind


def _one(x: Any, name: str, write: bool) -> Tuple[np.ndarray, str]:
    if _is_torch_tensor(x):
        return _torch_view(x, name)
    return _numpy_view(x, name, write)


def _is_one(x: Any) -> bool:
    return isinstance(x, np.ndarray) or _is_torch_tensor(x) or np.isscalar(x)


def _tensor_class() -> Any:
    """``torch.Tensor`` if the caller has imported torch (never imports it)."""
    torch = sys.modules.get("torch")
    return getattr(torch, "Tensor", None)


def _model(xs: Any, name: str, write: bool = False) -> Tuple[list, str]:
    """A model (one array or a sequence of them) as arrays of one kind."""
    items = [xs] if _is_one(xs) else xs if isinstance(xs, list) else list(xs)
    tensor = _tensor_class()
    if tensor is not None and items and isinstance(items[0], tensor):
        # The common case, kept cheap: a list of CPU tensors goes to the
        # native module as it is, which checks every item (exact type,
        # device, dtype of the first, contiguity; a tensor only read that
        # is not contiguous is copied once there).
        return items, _torch_kind(items[0], f"{name}[0]")
    views, kind = [], None
    for i, x in enumerate(items):
        v, k = _one(x, f"{name}[{i}]", write)
        if kind is None:
            kind = k
        elif k != kind:
            raise TypeError(f"{name}[{i}]: element type {k}, but {name}[0] is {kind}; a model has one element type")
        views.append(v)
    return views, kind or "f32"


def sum_abs(x: Any) -> float:
    """Σ|x| over one array or a model, as the Rust crate computes it.

    >>> import numpy as np, regnorm
    >>> regnorm.sum_abs(np.array([1.5, -2.5]))
    4.0
    """
    views, kind = _model(x, "x")
    return _native.sum_abs(views, kind)


def sum_sq(x: Any) -> float:
    """Σx² over one array or a model.

    >>> import numpy as np, regnorm
    >>> regnorm.sum_sq([np.array([3.0]), np.array([4.0])])
    25.0
    """
    views, kind = _model(x, "x")
    return _native.sum_sq(views, kind)


def sums(x: Any) -> Tuple[float, float]:
    """(Σ|x|, Σx²) in one pass.

    >>> import numpy as np, regnorm
    >>> regnorm.sums(np.array([-1.0, 2.0], dtype=np.float16))
    (3.0, 5.0)
    """
    views, kind = _model(x, "x")
    return _native.sums(views, kind)


def norm(x: Any) -> float:
    """The Euclidean norm of one array or of a whole model, √(Σx²).

    >>> import numpy as np, regnorm
    >>> regnorm.norm(np.array([3.0, 4.0]))
    5.0
    """
    return sum_sq(x) ** 0.5


class ProxStats(NamedTuple):
    """What a proximal step leaves: the penalty after it, and the number of
    weights that are exactly zero after it."""

    penalty: float
    zeros: int


class _Regularizer:
    _r: Any

    def penalty(self, xs: Any) -> float:
        """The penalty of one array or a model."""
        views, kind = _model(xs, "params")
        return self._r.penalty(views, kind)

    def add_gradient_(self, params: Any, grads: Any) -> None:
        """Adds the penalty's gradient to ``grads`` in place."""
        p, kind = _model(params, "params")
        g, gkind = _model(grads, "grads", write=True)
        _same_kind(kind, gkind)
        self._r.gradient(p, g, kind, False)

    def penalty_and_gradient_(self, params: Any, grads: Any) -> float:
        """The penalty, and its gradient added to ``grads``, in one pass."""
        p, kind = _model(params, "params")
        g, gkind = _model(grads, "grads", write=True)
        _same_kind(kind, gkind)
        return self._r.gradient(p, g, kind, True)

    def prox_step_(self, params: Any, eta: float) -> ProxStats:
        """The proximal step of step size ``eta`` in place (soft-threshold
        for L1, shrink for L2)."""
        p, kind = _model(params, "params", write=True)
        return ProxStats(*self._r.prox_step(p, float(eta), kind))


def _same_kind(a: str, b: str) -> None:
    if a != b:
        raise TypeError(f"params are {a} but grads are {b}")


class L1(_Regularizer):
    """λ·Σ|w|.

    >>> import numpy as np, regnorm
    >>> w = np.array([1.0, -2.0]); g = np.zeros(2)
    >>> regnorm.L1(0.1).penalty_and_gradient_(w, g)
    0.30000000000000004
    >>> g
    array([ 0.1, -0.1])
    >>> regnorm.L1(-1.0)
    Traceback (most recent call last):
    ValueError: ...
    """

    def __init__(self, lam: float) -> None:
        self.lam = float(lam)
        self._r = _native.Regularizer.l1(self.lam)

    def __repr__(self) -> str:
        return f"L1({self.lam})"


class L2(_Regularizer):
    """λ·Σw² (no ½).

    >>> import numpy as np, regnorm
    >>> regnorm.L2(0.5).penalty(np.array([2.0]))
    2.0
    """

    def __init__(self, lam: float) -> None:
        self.lam = float(lam)
        self._r = _native.Regularizer.l2(self.lam)

    def __repr__(self) -> str:
        return f"L2({self.lam})"


class ElasticNet(_Regularizer):
    """λ·(r·Σ|w| + (1−r)/2·Σw²), as scikit-learn.

    >>> import numpy as np, regnorm
    >>> regnorm.ElasticNet(1.0, 0.5).penalty(np.array([2.0]))
    2.0
    """

    def __init__(self, lam: float, l1_ratio: float) -> None:
        self.lam, self.l1_ratio = float(lam), float(l1_ratio)
        self._r = _native.Regularizer.elastic_net(self.lam, self.l1_ratio)

    def __repr__(self) -> str:
        return f"ElasticNet({self.lam}, {self.l1_ratio})"


class WeightDecay:
    """Decoupled weight decay (AdamW): ``w ← w − η·λ·w`` in place.

    >>> import numpy as np, regnorm
    >>> w = np.array([1.0, -2.0])
    >>> regnorm.WeightDecay(0.1).apply_(w, 0.5)
    >>> w
    array([ 0.95, -1.9 ])
    """

    def __init__(self, lam: float) -> None:
        _native.check_decay(float(lam))
        self.lam = float(lam)

    def apply_(self, params: Any, eta: float) -> None:
        p, kind = _model(params, "params", write=True)
        _native.decay(self.lam, p, float(eta), kind)


class ClipGradNorm:
    """Clips gradients by their global norm, as
    ``torch.nn.utils.clip_grad_norm_``: if the norm exceeds ``max_norm``,
    every gradient is scaled by ``max_norm / (norm + 1e-6)``. Returns the
    norm before clipping; with ``error_if_nonfinite``, a NaN or infinite norm
    raises ``RuntimeError`` and nothing is written.

    >>> import numpy as np, regnorm
    >>> g = [np.array([3.0]), np.array([4.0])]
    >>> regnorm.ClipGradNorm(1.0).clip_(g)
    5.0
    >>> round(float(g[0][0]), 6), round(float(g[1][0]), 6)
    (0.6, 0.8)
    """

    def __init__(self, max_norm: float, error_if_nonfinite: bool = False) -> None:
        _native.check_clip(float(max_norm))
        self.max_norm = float(max_norm)
        self.error_if_nonfinite = bool(error_if_nonfinite)

    def clip_(self, grads: Any) -> float:
        g, kind = _model(grads, "grads", write=True)
        return _native.clip(self.max_norm, self.error_if_nonfinite, g, kind)


def set_num_threads(n: int) -> None:
    """Limits the threads regnorm's calls use (the caller's included)."""
    _native.set_num_threads(int(n))


def get_num_threads() -> int:
    """The threads a call may use: ``set_num_threads``, else the environment
    variable ``REGNORM_NUM_THREADS``, else the CPUs this process may run on."""
    return _native.get_num_threads()


def tier() -> str:
    """The kernel tier dispatch uses on this CPU (``avx512``, ``avx``,
    ``portable`` or ``scalar``)."""
    return _native.tier()
