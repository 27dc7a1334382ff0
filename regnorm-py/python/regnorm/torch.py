"""regnorm for PyTorch: clipping with ``torch.nn.utils``' semantics,
penalties that work with autograd, and drop-in regularization modules.

Only CPU tensors of float32, float64, float16 and bfloat16 are computed by
regnorm; other inputs (CUDA tensors, norm types other than 2) are handed to
torch's own functions, so these are safe drop-ins.

>>> import torch, regnorm.torch as rt
>>> p = torch.nn.Parameter(torch.tensor([3.0, -4.0]))
>>> loss = rt.l1_penalty([p], 0.5)
>>> loss
tensor(3.5000, grad_fn=<_L1PenaltyBackward>)
>>> loss.backward()
>>> p.grad
tensor([ 0.5000, -0.5000])
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Union

import torch

import regnorm
from regnorm import _native

__all__ = [
    "clip_grad_norm_",
    "get_total_norm",
    "clip_grads_with_norm_",
    "l1_penalty",
    "l2_penalty",
    "elastic_net_penalty",
    "add_penalty_grad_",
    "L1Regularization",
    "L2Regularization",
]

_KINDS = {torch.float32, torch.float64, torch.float16, torch.bfloat16}

Tensors = Union[torch.Tensor, Iterable[torch.Tensor]]


def _list(tensors: Tensors) -> List[torch.Tensor]:
    if isinstance(tensors, torch.Tensor):
        return [tensors]
    return list(tensors)


def _ours(tensors: List[torch.Tensor]) -> bool:
    """Whether regnorm computes over these: CPU, one supported dtype."""
    return (
        len(tensors) > 0
        and all(t.device.type == "cpu" for t in tensors)
        and tensors[0].dtype in _KINDS
        and all(t.dtype == tensors[0].dtype for t in tensors)
    )


def get_total_norm(
    tensors: Tensors,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: Optional[bool] = None,
) -> torch.Tensor:
    """The norm of all ``tensors`` together, as
    ``torch.nn.utils.get_total_norm`` (a 0-dim tensor).

    >>> import torch, regnorm.torch as rt
    >>> rt.get_total_norm([torch.tensor([3.0]), torch.tensor([4.0])])
    tensor(5.)
    """
    ts = _list(tensors)
    if float(norm_type) != 2.0 or not _ours(ts):
        return torch.nn.utils.get_total_norm(ts, norm_type, error_if_nonfinite, foreach)
    total = regnorm.norm(ts)
    if error_if_nonfinite and not _finite(total):
        raise RuntimeError(_nonfinite_message(norm_type))
    return torch.tensor(total, dtype=ts[0].dtype)


def _finite(x: float) -> bool:
    return x == x and x not in (float("inf"), float("-inf"))


def _nonfinite_message(norm_type: float) -> str:
    return (
        f"The total norm of order {float(norm_type)} for gradients from `parameters` is "
        "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
        "by the non-finite norm anyway, set `error_if_nonfinite=False`"
    )


def _grads(parameters: Tensors) -> List[torch.Tensor]:
    return [p.grad for p in _list(parameters) if p.grad is not None]


def clip_grads_with_norm_(
    parameters: Tensors,
    max_norm: float,
    total_norm: Union[float, torch.Tensor],
    foreach: Optional[bool] = None,
) -> None:
    """Scales the gradients of ``parameters`` by
    ``min(1, max_norm / (total_norm + 1e-6))``, as
    ``torch.nn.utils.clip_grads_with_norm_``.

    >>> import torch, regnorm.torch as rt
    >>> p = torch.nn.Parameter(torch.zeros(2)); p.grad = torch.tensor([3.0, 4.0])
    >>> rt.clip_grads_with_norm_([p], 1.0, 5.0)
    >>> p.grad
    tensor([0.6000, 0.8000])
    """
    grads = _grads(parameters)
    if not grads:
        return
    total = float(total_norm)
    if not _ours(grads):
        torch.nn.utils.clip_grads_with_norm_(list(_list(parameters)), max_norm, torch.tensor(total), foreach)
        return
    views, kind = regnorm._model(grads, "grads", write=True)
    _native.clip(float(max_norm), False, views, kind, total)


def clip_grad_norm_(
    parameters: Tensors,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: Optional[bool] = None,
) -> torch.Tensor:
    """Clips the gradients of ``parameters`` by their global norm, as
    ``torch.nn.utils.clip_grad_norm_``: returns the norm before clipping (a
    0-dim tensor), skips parameters whose ``grad`` is ``None``, and scales
    by ``max_norm / (norm + 1e-6)`` when that is below 1. A non-finite norm
    raises ``RuntimeError`` with ``error_if_nonfinite`` (nothing written),
    and otherwise scales as torch does. Norm types other than 2, CUDA
    tensors and mixed dtypes go to torch's own function.

    >>> import torch, regnorm.torch as rt
    >>> p = torch.nn.Parameter(torch.zeros(2)); p.grad = torch.tensor([3.0, 4.0])
    >>> rt.clip_grad_norm_([p], max_norm=1.0)
    tensor(5.)
    >>> p.grad
    tensor([0.6000, 0.8000])
    """
    params = _list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    if float(norm_type) != 2.0 or not _ours(grads):
        return torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type, error_if_nonfinite, foreach)
    views, kind = regnorm._model(grads, "grads", write=True)
    try:
        total = _native.clip(float(max_norm), bool(error_if_nonfinite), views, kind)
    except RuntimeError:
        raise RuntimeError(_nonfinite_message(norm_type)) from None
    return torch.tensor(total, dtype=grads[0].dtype)


def _accumulate(reg: regnorm._Regularizer, params: List[torch.Tensor], scale: float) -> None:
    """Adds ``scale`` times the penalty's gradient into each ``.grad`` (made
    zero first where ``None``), in one regnorm pass."""
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    reg_scaled = _scaled(reg, scale)
    reg_scaled.add_gradient_(params, [p.grad for p in params])


def _scaled(reg: regnorm._Regularizer, scale: float) -> regnorm._Regularizer:
    if isinstance(reg, regnorm.L1):
        return regnorm.L1(reg.lam * scale)
    if isinstance(reg, regnorm.L2):
        return regnorm.L2(reg.lam * scale)
    return regnorm.ElasticNet(reg.lam * scale, reg.l1_ratio)


def _penalty(reg: regnorm._Regularizer, parameters: Tensors) -> torch.Tensor:
    params = [p for p in _list(parameters) if p.requires_grad] or _list(parameters)
    if not params:
        return torch.tensor(0.0)
    if not _ours(params):
        raise ValueError("regnorm penalties need CPU tensors of one dtype among float32, float64, float16, bfloat16")
    return _penalty_node(reg, params)


def _penalty_node(reg: regnorm._Regularizer, params: List[torch.Tensor]) -> torch.Tensor:
    name = {regnorm.L1: "_L1Penalty", regnorm.L2: "_L2Penalty"}.get(type(reg), "_ElasticNetPenalty")
    fn = _FUNCTIONS[name]
    return fn.apply(reg, params, *params)


def _make(name: str):
    """An autograd function for one regularizer type (its name shows as
    ``grad_fn``). Backward adds the gradient into the parameters' ``.grad``
    in one regnorm pass and returns none for them; for non-leaf inputs or a
    negative or non-finite incoming gradient it returns the gradients for
    autograd to propagate instead."""

    def forward(ctx, reg, originals, *params):
        ctx.reg = reg
        ctx.originals = originals
        ctx.save_for_backward(*params)
        value = reg.penalty(list(params))
        return torch.tensor(value, dtype=params[0].dtype)

    def backward(ctx, grad_output):
        params = list(ctx.saved_tensors)
        scale = float(grad_output)
        originals = ctx.originals
        if (
            scale >= 0
            and _finite(scale)
            and all(p.is_leaf and p.requires_grad for p in originals)
        ):
            _accumulate(ctx.reg, originals, scale)
            return (None, None, *[None for _ in params])
        out = [torch.zeros_like(p) for p in params]
        ctx.reg.add_gradient_(params, out)
        return (None, None, *[o * scale for o in out])

    return type(name, (torch.autograd.Function,), {"forward": staticmethod(forward), "backward": staticmethod(backward)})


_FUNCTIONS = {n: _make(n) for n in ("_L1Penalty", "_L2Penalty", "_ElasticNetPenalty")}


def l1_penalty(parameters: Tensors, lam: float) -> torch.Tensor:
    """λ·Σ|w| over ``parameters`` as a 0-dim tensor that works with autograd:
    its backward adds λ·sign(w) (times the incoming gradient) into each
    parameter's ``.grad`` in one regnorm pass."""
    return _penalty(regnorm.L1(lam), parameters)


def l2_penalty(parameters: Tensors, lam: float) -> torch.Tensor:
    """λ·Σw² over ``parameters``, with autograd (backward adds 2λw).

    >>> import torch, regnorm.torch as rt
    >>> p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    >>> rt.l2_penalty([p], 0.5).backward()
    >>> p.grad
    tensor([1., 2.])
    """
    return _penalty(regnorm.L2(lam), parameters)


def elastic_net_penalty(parameters: Tensors, lam: float, l1_ratio: float) -> torch.Tensor:
    """λ·(r·Σ|w| + (1−r)/2·Σw²) over ``parameters``, with autograd."""
    return _penalty(regnorm.ElasticNet(lam, l1_ratio), parameters)


def add_penalty_grad_(parameters: Tensors, regularizer: regnorm._Regularizer) -> float:
    """No autograd: returns the penalty of ``parameters`` and adds its
    gradient into their ``.grad`` (made zero first where ``None``), both in
    one fused regnorm pass. Call it after ``loss.backward()``.

    >>> import torch, regnorm, regnorm.torch as rt
    >>> p = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    >>> rt.add_penalty_grad_([p], regnorm.L1(0.25))
    0.5
    >>> p.grad
    tensor([ 0.2500, -0.2500])
    """
    params = [p for p in _list(parameters) if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    return regularizer.penalty_and_gradient_(params, [p.grad for p in params])


def _parameters(model_or_params) -> List[torch.Tensor]:
    if isinstance(model_or_params, torch.nn.Module):
        return list(model_or_params.parameters())
    return _list(model_or_params)


class L1Regularization(torch.nn.Module):
    """A drop-in for the usual ``L1Regularization`` module: ``forward(model)``
    (or a list of parameters) returns λ·Σ|w| over the parameters, with
    autograd.

    >>> import torch, regnorm.torch as rt
    >>> m = torch.nn.Linear(2, 1)
    >>> loss = rt.L1Regularization(0.01)(m)
    >>> loss.backward()
    """

    def __init__(self, lam: float = 0.01) -> None:
        super().__init__()
        self.lam = float(lam)
        regnorm.L1(self.lam)  # ValueError now, not at the first call

    def forward(self, model) -> torch.Tensor:
        return l1_penalty(_parameters(model), self.lam)


class L2Regularization(torch.nn.Module):
    """A drop-in for the usual ``L2Regularization`` module: λ·Σw² (no ½).

    >>> import torch, regnorm.torch as rt
    >>> m = torch.nn.Linear(2, 1)
    >>> rt.L2Regularization(0.01)(m).backward()
    """

    def __init__(self, lam: float = 0.01) -> None:
        super().__init__()
        self.lam = float(lam)
        regnorm.L2(self.lam)

    def forward(self, model) -> torch.Tensor:
        return l2_penalty(_parameters(model), self.lam)
