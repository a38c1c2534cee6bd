"""What the machine can do, and the dtype a model should run in on it.

`dtype: auto` means the fastest exact-enough dtype for the hardware: bfloat16 on a GPU that supports it (float16
on one that does not) and on a CPU with native bf16 matrix instructions (AVX512-BF16, AMX or Arm's BF16); float32
on other CPUs, where bf16 is emulated and about 5x slower (see the stack notes).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 (cpuinfo "flags") and Arm (cpuinfo "Features")
REPORTED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "bf16", "neon", "asimd")


@dataclass(frozen=True)
class DtypeChoice:
    """The dtype a model runs in, what was asked for, and why."""

    requested: str
    resolved: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"requested": self.requested, "resolved": self.resolved, "reason": self.reason}


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's instruction-set flags from /proc/cpuinfo (empty where there is no such file)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return frozenset()


def describe_cpu(flags: Iterable[str] | None = None) -> str:
    """One line for benchmark headers: architecture and the flags that decide dtype speed."""
    present = set(cpu_flags() if flags is None else flags)
    shown = [f for f in REPORTED_FLAGS if f in present]
    return f"{platform.machine()} with {', '.join(shown) or 'none of ' + ', '.join(REPORTED_FLAGS)}"


def resolve_dtype(
    requested: str, on_gpu: bool | None = None, flags: Iterable[str] | None = None, gpu_bf16: bool | None = None
) -> DtypeChoice:
    """Resolve `auto` for this machine; any other value is kept as given.

    `on_gpu`, `flags` and `gpu_bf16` default to what torch and /proc/cpuinfo report (tests inject them).
    """
    if requested != "auto":
        return DtypeChoice(requested, requested, "set in the config")
    if on_gpu is None or (on_gpu and gpu_bf16 is None):
        import torch

        on_gpu = torch.cuda.is_available() if on_gpu is None else on_gpu
        gpu_bf16 = on_gpu and torch.cuda.is_bf16_supported()
    if on_gpu:
        if gpu_bf16:
            return DtypeChoice(requested, "bfloat16", "GPU with bfloat16 support")
        return DtypeChoice(requested, "float16", "GPU without bfloat16 support")
    native = sorted(set(cpu_flags() if flags is None else flags) & set(BF16_CPU_FLAGS))
    if native:
        return DtypeChoice(requested, "bfloat16", f"CPU with native bfloat16 ({', '.join(native)})")
    return DtypeChoice(requested, "float32", "CPU without native bfloat16 (no avx512_bf16/amx_bf16): bf16 is emulated")


def machine_header(dtype: DtypeChoice | None = None) -> str:
    """The line a benchmark prints first, so tables from different machines can be told apart."""
    import torch

    line = f"machine: {describe_cpu()}; {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads"
    if dtype is not None:
        line += f"; dtype {dtype.resolved} ({dtype.requested}: {dtype.reason})"
    return line
