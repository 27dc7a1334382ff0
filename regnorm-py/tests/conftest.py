import numpy as np
import pytest


def data(n, seed):
    """The Rust side's `data(n, seed)` (tests' fixed hex values come from it):
    multiples of 1/256 in [-1000/256, 1000/256], exact in float32."""
    i = np.arange(n, dtype=np.int64)
    return (((i * 7919 + seed * 104729) % 2001).astype(np.float32) - 1000.0) / np.float32(256.0)


def bits(x):
    return np.float64(x).view(np.uint64).item()


@pytest.fixture
def model():
    return [data(n, k + 3) for k, n in enumerate([1000, 64, 40_000, 3, 70_000])]
