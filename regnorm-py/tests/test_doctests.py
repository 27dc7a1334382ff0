"""The examples in the installed package's docstrings run and say what
they show."""

import doctest

import pytest

import regnorm

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.IGNORE_EXCEPTION_DETAIL


def test_regnorm_docstrings():
    result = doctest.testmod(regnorm, optionflags=FLAGS)
    assert result.failed == 0 and result.attempted > 10


def test_regnorm_torch_docstrings():
    pytest.importorskip("torch")
    import regnorm.torch

    result = doctest.testmod(regnorm.torch, optionflags=FLAGS)
    assert result.failed == 0 and result.attempted > 10


def test_regnorm_shard_docstrings():
    import regnorm.shard

    result = doctest.testmod(regnorm.shard, optionflags=FLAGS)
    assert result.failed == 0 and result.attempted > 5
