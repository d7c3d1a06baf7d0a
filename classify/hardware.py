"""What the CPU can do fast: decides whether int8 inference and bf16 training pay off."""

from __future__ import annotations

import contextlib
import platform
from functools import cache
from pathlib import Path

import torch


@cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break  # end of the first processor's block
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_flags() -> frozenset[str]:
    """The instruction-set flags of /proc/cpuinfo."""
    return frozenset(_cpuinfo().get("flags", "").split())


def cpu_description() -> str:
    """Model name, widest vector unit and int8/bf16 dot-product support, for benchmark logs."""
    name = _cpuinfo().get("model name", platform.machine())
    flags = cpu_flags()
    widest = "avx512f" if "avx512f" in flags else "avx2" if "avx2" in flags else "no AVX2"
    dot = sorted(flags & {"avx512_vnni", "avx_vnni", "amx_int8", "avx512_bf16", "amx_bf16"})
    return f"{name} ({widest}, {', '.join(dot) or 'no VNNI/bf16 instructions'})"


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix multiplies run in hardware here; elsewhere they are emulated (slow)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
