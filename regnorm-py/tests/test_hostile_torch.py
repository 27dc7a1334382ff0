"""Python code that rewrites torch itself must not make regnorm read or
write outside a tensor's memory.

``torch.Tensor`` is an ordinary Python class, and its methods, the module's
dtypes and ``torch.Tensor`` itself can all be replaced; a
``TorchFunctionMode`` answers even ``torch._C.TensorBase.data_ptr``. So the
native module must not take a tensor's address, length, device, dtype or
layout from any of them. Each case runs in its own interpreter: on a
module that trusts them, the case crashes that interpreter (or prints a
wrong number) instead of the test run.
"""

import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

CASES = {
    # torch.Tensor's own methods, replaced on the class.
    "data_ptr on the class": (
        "torch.Tensor.data_ptr = lambda self: 8\n"
        "print(regnorm.sums(torch.ones(4)))",
        "(4.0, 4.0)",
    ),
    "numel on the class, written": (
        "torch.Tensor.numel = lambda self: 1 << 28\n"
        "g = torch.ones(4)\n"
        "regnorm.WeightDecay(0.5).apply_(g, 1.0)\n"
        "print(g.tolist())",
        "[0.5, 0.5, 0.5, 0.5]",
    ),
    "is_contiguous on the class, an expanded view written": (
        "torch.Tensor.is_contiguous = lambda self, *a, **k: True\n"
        "g = torch.ones(1).expand(1 << 26)\n"
        "try:\n"
        "    regnorm.ClipGradNorm(1e-3).clip_([g])\n"
        "except ValueError as e:\n"
        "    print('ValueError', 'contiguous' in str(e))",
        "ValueError True",
    ),
    "is_cpu on the class, a meta tensor": (
        "torch.Tensor.is_cpu = property(lambda self: True)\n"
        "try:\n"
        "    print(_native.sums([torch.zeros(1 << 26, device='meta')], 'f32'))\n"
        "except ValueError as e:\n"
        "    print('ValueError', 'x[0]' in str(e))",
        "ValueError True",
    ),
    # The module's dtypes.
    "torch.float64 replaced by float32": (
        "torch.float64 = torch.float32\n"
        "try:\n"
        "    print(_native.sums([torch.ones(1 << 24)], 'f64'))\n"
        "except TypeError as e:\n"
        "    print('TypeError', 'float32' in str(e))",
        "TypeError True",
    ),
    # torch.Tensor itself.
    "torch.Tensor replaced by a class that lies": (
        "class Fake:\n"
        "    is_cpu, dtype, device = True, torch.float32, torch.device('cpu')\n"
        "    def data_ptr(self): return 8\n"
        "    def numel(self): return 1 << 40\n"
        "    def is_contiguous(self, *a, **k): return True\n"
        "    def contiguous(self): return self\n"
        "torch.Tensor = Fake\n"
        "try:\n"
        "    print(_native.sums([Fake()], 'f32'))\n"
        "except TypeError as e:\n"
        "    print('TypeError', 'x[0]' in str(e))",
        "TypeError True",
    ),
    # A mode answers even torch._C.TensorBase's methods.
    "a TorchFunctionMode that lies": (
        "from torch.overrides import TorchFunctionMode\n"
        "class Lie(TorchFunctionMode):\n"
        "    def __torch_function__(self, func, types, args=(), kwargs=None):\n"
        "        name = getattr(func, '__name__', '')\n"
        "        if name == 'data_ptr': return 8\n"
        "        if name == 'numel': return 1 << 40\n"
        "        if name == 'is_contiguous': return True\n"
        "        return func(*args, **(kwargs or {}))\n"
        "g = torch.ones(4)\n"
        "with Lie():\n"
        "    print(regnorm.sums([torch.ones(4)]))\n"
        "    regnorm.WeightDecay(0.5).apply_(g, 1.0)\n"
        "print(g.tolist())",
        "(4.0, 4.0)\n[0.5, 0.5, 0.5, 0.5]",
    ),
    # What the module does ask torch for, a DLPack capsule, replaced too:
    # another tensor's capsule describes that tensor's memory, so the answer
    # may be refused (here by its dtype) but nothing is read out of bounds.
    "to_dlpack replaced": (
        "other = torch._C._to_dlpack\n"
        "torch.utils.dlpack.to_dlpack = lambda t: other(torch.ones(8, dtype=torch.float64))\n"
        "torch._C._to_dlpack = torch.utils.dlpack.to_dlpack\n"
        "try:\n"
        "    print(regnorm.sums(torch.ones(1 << 20)))\n"
        "except TypeError as e:\n"
        "    print('TypeError', 'float64' in str(e))",
        "TypeError True",
    ),
    "to_dlpack returning one capsule twice": (
        "cap = torch._C._to_dlpack(torch.ones(4))\n"
        "torch.utils.dlpack.to_dlpack = lambda t: cap\n"
        "torch._C._to_dlpack = torch.utils.dlpack.to_dlpack\n"
        "print(regnorm.sums(torch.ones(4)))\n"
        "try:\n"
        "    print(regnorm.sums(torch.ones(4)))\n"
        "except TypeError as e:\n"
        "    print('TypeError', 'x[0]' in str(e))",
        "(4.0, 4.0)\nTypeError True",
    ),
    "to_dlpack returning something else": (
        "torch.utils.dlpack.to_dlpack = lambda t: b'not a capsule'\n"
        "torch._C._to_dlpack = torch.utils.dlpack.to_dlpack\n"
        "try:\n"
        "    print(regnorm.sums(torch.ones(4)))\n"
        "except TypeError as e:\n"
        "    print('TypeError', 'x[0]' in str(e))",
        "TypeError True",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_torch_rewritten_by_python_code_cannot_misplace_a_call(case):
    body, expected = CASES[case]
    code = "import regnorm, torch\nfrom regnorm import _native\n" + body
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"{case}: exit {run.returncode}\n{run.stderr[-2000:]}"
    assert run.stdout.strip() == expected, f"{case}:\n{textwrap.indent(run.stdout, '  ')}{run.stderr[-2000:]}"
