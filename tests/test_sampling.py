"""The sampling settings: one validated object; unset settings take the default of the hardware that samples."""

import pytest

from dualalign.alignment.config import AlignmentConfig
from dualalign.errors import ConfigError
from dualalign.generate import SamplingConfig
from dualalign.generate.run import claim_generations
from dualalign.generate.sampling import DEFAULTS, parse_sampling
from dualalign.generate.stage import GenerationStage
from dualalign.generate.vllm_engine import VLLMConfig
from dualalign.io import append_jsonl
from dualalign.runfolder import GENERATIONS, RunFolder


def test_unset_settings_take_the_hardware_default():
    for hardware, default in DEFAULTS.items():
        assert SamplingConfig().resolve(hardware) == default
        assert default.resolved
    assert DEFAULTS["gpu"].top_p == 0.95 and DEFAULTS["gpu"].min_p == 0.0  # unchanged until measured there
    assert DEFAULTS["cpu"].top_p == 1.0 and DEFAULTS["cpu"].min_p > 0  # no vocabulary sort on the CPU


def test_truncation_settings_are_a_group_and_temperature_stands_alone():
    min_p = SamplingConfig(min_p=0.1).resolve("gpu")
    assert (min_p.top_p, min_p.min_p, min_p.top_k) == (1.0, 0.1, 0)  # the GPU's top_p is not added to a given min_p
    assert min_p.temperature == DEFAULTS["gpu"].temperature
    hot = SamplingConfig(temperature=1.2).resolve("gpu")
    assert (hot.temperature, hot.top_p, hot.min_p) == (1.2, DEFAULTS["gpu"].top_p, DEFAULTS["gpu"].min_p)
    assert SamplingConfig(max_tokens=7).resolve("cpu").max_tokens == 7


def test_settings_are_validated_and_parsed():
    with pytest.raises(ValueError, match="top_p"):
        SamplingConfig(top_p=0)
    with pytest.raises(ValueError, match="extra"):
        SamplingConfig(top_q=0.5)
    assert parse_sampling("temperature=1.0, min_p=0.1") == SamplingConfig(temperature=1.0, min_p=0.1)
    with pytest.raises(ConfigError, match="name=value"):
        parse_sampling("min_p")
    with pytest.raises(ConfigError, match="min_p"):
        parse_sampling("min_p=much")


def test_changed_sampling_settings_move_earlier_generations_aside(tmp_path):
    engine = VLLMConfig()

    def key(sampling: SamplingConfig) -> str:  # the generation stage's text key under these settings
        return GenerationStage(run=RunFolder(tmp_path), alignment=AlignmentConfig(), engine_config=engine,
                               sampling=sampling, pack="alzheimers").text_key()  # fmt: skip

    assert key(SamplingConfig()) == key(SamplingConfig()) != key(SamplingConfig(min_p=0.1))
    claim_generations(tmp_path, key(SamplingConfig()), engine, SamplingConfig())
    append_jsonl(tmp_path / GENERATIONS, [{"id": "a", "variant": "guided", "text": "x"}])
    claim_generations(tmp_path, key(SamplingConfig()), engine, SamplingConfig())  # the same settings: kept in place
    assert (tmp_path / GENERATIONS).exists()
    meta = claim_generations(tmp_path, key(SamplingConfig(min_p=0.1)), engine, SamplingConfig(min_p=0.1))
    assert not (tmp_path / GENERATIONS).exists()
    assert len(list(tmp_path.glob("generations.*.jsonl"))) == 1 and meta["sampling"]["min_p"] == 0.1
