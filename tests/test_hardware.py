"""dtype by hardware: `auto` picks bf16 only where it is native, and says why."""

import pytest

from dualalign.hardware import cpu_flags, describe_cpu, resolve_dtype

AVX2_ONLY = {"sse4_2", "avx", "avx2", "fma"}
SAPPHIRE_RAPIDS = AVX2_ONLY | {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}


def test_auto_is_float32_on_a_cpu_without_native_bf16():
    choice = resolve_dtype("auto", on_gpu=False, flags=AVX2_ONLY)
    assert choice.resolved == "float32"
    assert "emulated" in choice.reason


@pytest.mark.parametrize("flags", [SAPPHIRE_RAPIDS, AVX2_ONLY | {"avx512_bf16"}, {"asimd", "bf16"}])
def test_auto_is_bf16_on_a_cpu_with_native_bf16(flags):
    choice = resolve_dtype("auto", on_gpu=False, flags=flags)
    assert choice.resolved == "bfloat16"
    assert "native" in choice.reason


def test_auto_on_gpus():
    assert resolve_dtype("auto", on_gpu=True, gpu_bf16=True).resolved == "bfloat16"
    assert resolve_dtype("auto", on_gpu=True, gpu_bf16=False).resolved == "float16"


def test_an_explicit_dtype_is_kept():
    choice = resolve_dtype("bfloat16", on_gpu=False, flags=AVX2_ONLY)
    assert (choice.resolved, choice.reason) == ("bfloat16", "set in the config")


def test_flags_are_read_from_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n\nprocessor\t: 1\nflags\t: fpu\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert {"avx2", "avx512_bf16"} <= cpu_flags(x86)
    assert resolve_dtype("auto", on_gpu=False, flags=cpu_flags(arm)).resolved == "bfloat16"
    assert cpu_flags(tmp_path / "missing") == frozenset()
    assert "avx512_bf16" in describe_cpu(cpu_flags(x86)) and "fpu" not in describe_cpu(cpu_flags(x86))
