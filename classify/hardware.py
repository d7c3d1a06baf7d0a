"""What the CPU can do fast: decides whether int8 inference and bf16 training pay off."""

from __future__ import annotations

import contextlib
import platform
from functools import cache
from pathlib import Path

import torch


@cache
def cpu_flags() -> frozenset[str]:
    """The instruction-set flags of /proc/cpuinfo (empty where there is none)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "flags":
                return frozenset(value.split())
    return frozenset()


def cpu_description() -> str:
    """Model name, widest vector unit and int8/bf16 dot-product support, for benchmark logs."""
    name = platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
                break
    flags = cpu_flags()
    widest = "avx512f" if "avx512f" in flags else "avx2" if "avx2" in flags else "no AVX2"
    dot = sorted(flags & {"avx512_vnni", "avx_vnni", "amx_int8", "avx512_bf16", "amx_bf16"})
    return f"{name} ({widest}, {', '.join(dot) or 'no VNNI/bf16 instructions'})"


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix multiplies run in hardware here; elsewhere they are emulated (slow)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
