"""Sharded models: each process reduces its pieces of a model to words
that any transport can carry (``torch.distributed``, MPI, files), and every
process merges everyone's words into the sums one process would get over
the whole model, bit for bit, for any number of processes.

A piece is ``(tensor, offset, array)``: a contiguous range of tensor
``tensor`` of the model, starting at element ``offset``. Pieces start and
end at multiples of :func:`unit` (or at their tensor's end); :func:`split`
gives such ranges. All processes together must cover every element once.

>>> import numpy as np, regnorm
>>> from regnorm import shard
>>> a, b = np.ones(1000, np.float32), np.arange(40_000, dtype=np.float32)
>>> lens = [a.size, b.size]
>>> (s0, e0), (s1, e1) = shard.split(lens, 1, 2, np.float32)
>>> rank0 = shard.partial_sums(lens, [(0, 0, a), (1, s0, b[s0:e0])])
>>> rank1 = shard.partial_sums(lens, [(1, s1, b[s1:e1])])
>>> total, per_tensor = shard.merge(lens, [rank0, rank1], np.float32)
>>> total == regnorm.sums([a, b])
True
"""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

import numpy as np

import regnorm
from regnorm import _native

__all__ = ["unit", "split", "partial_sums", "merge"]


def _kind(dtype: Any) -> str:
    """A NumPy or torch dtype (or a kind name) as the native kind."""
    if isinstance(dtype, str) and dtype in ("f32", "f64", "f16", "bf16"):
        return dtype
    try:
        text = np.dtype(dtype).name  # NumPy dtypes and scalar types
    except TypeError:
        text = str(dtype)  # torch dtypes: "torch.float32"
    for name, kind in (("bfloat16", "bf16"), ("float16", "f16"), ("float32", "f32"), ("float64", "f64")):
        if text.endswith(name):
            return kind
    raise TypeError(f"dtype {dtype}: expected float32, float64, float16 or bfloat16")


def unit(dtype: Any) -> int:
    """Pieces start and end at multiples of this many elements (16,384 for
    4- and 2-byte types, 8,192 for float64), or at their tensor's end."""
    return _native.shard_unit([], _kind(dtype))


def split(lens: Sequence[int], tensor: int, parts: int, dtype: Any) -> List[Tuple[int, int]]:
    """Tensor ``tensor`` of the model of ``lens`` in ``parts`` contiguous
    ``(start, stop)`` ranges, as equal as whole units allow."""
    return _native.shard_split(list(lens), tensor, parts, _kind(dtype))


def partial_sums(lens: Sequence[int], pieces: Sequence[Tuple[int, int, Any]], dtype: Any = None) -> np.ndarray:
    """This process's pieces reduced to a ``uint64`` array of words, to be
    all-gathered (a process without pieces passes ``[]`` and the model's
    ``dtype``). A bad piece is recorded in the words, so that every
    process's :func:`merge` raises the same error."""
    tensors = [int(t) for t, _, _ in pieces]
    offsets = [int(o) for _, o, _ in pieces]
    if pieces:
        arrays, kind = regnorm._model([x for _, _, x in pieces], "pieces")
    elif dtype is None:
        raise ValueError("no pieces: give the model's dtype")
    else:
        arrays, kind = [], _kind(dtype)
    if dtype is not None and _kind(dtype) != kind:
        raise TypeError(f"pieces are {kind} but dtype is {dtype}")
    return _native.shard_partial_sums(list(lens), tensors, offsets, arrays, kind)


def _words(w: Any) -> np.ndarray:
    a = np.asarray(w.cpu() if hasattr(w, "cpu") else w)
    if a.dtype.itemsize != 8 or a.dtype.kind not in "iu":
        raise TypeError("words are 64-bit integers (uint64, or int64 from torch)")
    return np.ascontiguousarray(a.view(np.uint64))


def merge(lens: Sequence[int], words: Sequence[Any], dtype: Any) -> Tuple[Tuple[float, float], List[Tuple[float, float]]]:
    """Every process's words, in rank order (NumPy ``uint64`` arrays, or
    ``int64`` tensors as ``torch.distributed`` carries them), merged: the
    model's ``(Σ|x|, Σx²)`` and each tensor's, with one process's bits."""
    return _native.shard_merge(list(lens), [_words(w) for w in words], _kind(dtype))
