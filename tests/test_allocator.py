"""The app's malloc policy (demo/allocator.py) gives a request's freed buffers back to the OS."""

import subprocess
import sys
from pathlib import Path

import pytest

# A fresh interpreter per policy: mallopt settings last for the process. It allocates and frees
# a 16 MiB tensor a few times (a request's activations), then allocates a 12 MiB one and prints
# the share of its pages faulted in from the OS. glibc's default keeps such blocks in the heap
# once its moving threshold has risen (share near 0), which is what lets a server's memory creep.
PROBE = """
import resource, sys
import torch
from model.allocator import fix_mmap_threshold

if {fixed} and not fix_mmap_threshold():
    print("unsupported")
    sys.exit()
for _ in range(3):
    torch.ones(16 * 2**20 // 4)  # allocated, touched, freed
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
again = torch.ones(12 * 2**20 // 4)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / (again.nbytes / resource.getpagesize()))
"""


def faulted_share(fixed: bool) -> float:
    result = subprocess.run([sys.executable, "-c", PROBE.format(fixed=fixed)], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parents[1])
    if result.stdout.strip() == "unsupported":
        pytest.skip("the C library is not glibc: no mmap threshold to fix")
    return float(result.stdout)


def test_fixed_threshold_gives_freed_buffers_back():
    assert faulted_share(fixed=True) > 0.9
    assert faulted_share(fixed=False) < 0.1  # the probe tells the policies apart
