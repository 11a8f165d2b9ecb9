"""bf16 autocast, and whether the hardware runs it natively.

bf16 pays off on GPUs and on CPUs with AVX512-BF16 or AMX: there `distributed.distill --amp bf16`
ran a step 2.29x faster than float32 (bench/RESULTS.md). Elsewhere oneDNN emulates it: inference
ran 2.0-2.4x slower than float32 and distillation over 4x slower, so asking for it earns a warning.
"""
import functools
import warnings

import torch


@functools.cache
def native_bf16(device_type: str) -> bool:
    """Whether `device_type` ("cpu", "cuda", ...) computes bf16 in hardware."""
    if device_type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    if device_type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return True


def bf16_autocast(device_type: str):
    """bf16 autocast on `device_type`, with a warning where the hardware would emulate bf16."""
    if not native_bf16(device_type):
        warnings.warn(f"bf16 is emulated on this {device_type} (no AVX512-BF16, AMX or bf16 GPU): it runs 2-4x "
                      "slower than float32 or worse; use float32 (--amp no, --precision fp32)", stacklevel=2)
    return torch.autocast(device_type, dtype=torch.bfloat16)
