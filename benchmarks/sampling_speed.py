"""Tokens/s of vLLM's sampler per sampling setting on the project's own requests, and the whole generation stage at
the default, in one run.

    python benchmarks/sampling_speed.py [--per-label 8] [--seed 0] [--repeats 1]

Requests: the label-set plans of a `dualalign tstr` seed on the public Symptom2Disease set (the shipped pack, guided
and unguided, `per-label` items per label: 192 at the default), each a begun reply that the model continues, with
tstr's sampling (max_tokens 120, per-request seed, the plan's stop). Raw = one `LLM.chat` call on the engine's own
`LLM` per setting, nothing else. The stage = the project's generation of the same plans at the default settings
(`SamplingConfig()` on this hardware): the engine, one candidate per plan, no extra gate round (so it makes the
same single engine call), the quality gate, parsing, grounding and Parquet writing. The last line compares the
stage's tokens/s with the fastest raw sampler's. Tokens per CPU-second (this process's, all threads) sway less
than tokens/s when other work shares the machine; `--repeats` runs the settings in turn and keeps each one's
fastest.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("TQDM_DISABLE", "1")

from dualalign.alignment.config import AlignmentConfig, GateConfig  # noqa: E402
from dualalign.alignment.gate import QualityGate  # noqa: E402
from dualalign.alignment.grounding import Grounder  # noqa: E402
from dualalign.alignment.plans import build_labelset_plans  # noqa: E402
from dualalign.generate import EngineConfig, SamplingConfig, make_engine  # noqa: E402
from dualalign.generate.candidates import plan_request  # noqa: E402
from dualalign.generate.outputs import build_outputs  # noqa: E402
from dualalign.generate.records import read_generations  # noqa: E402
from dualalign.generate.run import generate_plans  # noqa: E402
from dualalign.hardware import machine_header, resolve_dtype  # noqa: E402
from dualalign.io import write_parquet  # noqa: E402
from dualalign.pipeline.tstr import TSTR_SAMPLING  # noqa: E402
from dualalign.runfolder import GENERATIONS, SENTENCES  # noqa: E402
from dualalign.trajectories import load_pack, sample_label_mentions  # noqa: E402

SETTINGS = {  # each at temperature 0.8 unless given; unset truncation is off
    "top_p 0.95": SamplingConfig(temperature=0.8, top_p=0.95),
    "top_p 1.0": SamplingConfig(temperature=0.8, top_p=1.0),
    "top_k 50": SamplingConfig(temperature=0.8, top_k=50),
    "min_p 0.05": SamplingConfig(temperature=0.8, min_p=0.05),
    "min_p 0.1, temperature 1.0": SamplingConfig(temperature=1.0, min_p=0.1),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-label", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each setting, in turn; the fastest counts")
    args = parser.parse_args()
    pack = load_pack("symptom2disease")
    cfg = AlignmentConfig(gate=GateConfig(candidates=1, rounds=0))
    plans = build_labelset_plans(sample_label_mentions(pack, args.per_label, args.seed), pack,
                                 ["guided", "unguided"], cfg, args.seed)  # fmt: skip
    cfg = cfg.model_copy(update={"chunk_size": len(plans)})
    default = SamplingConfig(max_tokens=TSTR_SAMPLING.max_tokens)
    grounder = Grounder(pack, cfg.grounding)  # loaded once, like the stage's encoder

    with make_engine(EngineConfig(model=args.model)) as engine:
        from vllm import SamplingParams  # raw vLLM: besides the engine, only benchmarks import it

        def raw(sampling: SamplingConfig) -> tuple[float, int, float]:
            requests = [plan_request(p, sampling) for p in plans]
            conversations = [[m.model_dump() for m in r.messages] for r in requests]
            params = [SamplingParams(**r.sampling.resolve(engine.hardware).model_dump(), seed=r.seed, stop=r.stop)
                      for r in requests]  # fmt: skip
            start, cpu = time.perf_counter(), time.process_time()
            outputs = engine.llm.chat(conversations, params, use_tqdm=False, add_generation_prompt=False,
                                      continue_final_message=True)  # fmt: skip
            tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
            return time.perf_counter() - start, tokens, time.process_time() - cpu

        def stage(out: Path) -> tuple[float, int, int]:
            start = time.perf_counter()
            gate = QualityGate(pack, cfg.grounding, cfg.gate)
            generate_plans(plans, engine, out, gate, cfg, default, progress=False)
            records = read_generations(out / GENERATIONS)
            _, sentences, _ = build_outputs(plans, records, grounder, QualityGate(pack, cfg.grounding, cfg.gate))
            write_parquet(out / SENTENCES, sentences)
            return time.perf_counter() - start, sum(r.completion_tokens for r in records), len(sentences)

        raw(default.model_copy(update={"max_tokens": 8}))  # warm-up
        length = {"max_tokens": TSTR_SAMPLING.max_tokens}
        rows: dict[str, tuple[float, int, float]] = {}
        for _ in range(args.repeats):  # settings in turn, each keeping its fastest run
            for name, sampling in SETTINGS.items():
                run = raw(sampling.model_copy(update=length))
                rows[name] = min(rows.get(name, run), run)
                print(f"{name}: {run[1]} tokens in {run[0]:.1f} s ({run[2]:.1f} CPU s)", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            seconds, tokens, sentences = stage(Path(tmp))
        resolved = default.resolve(engine.hardware)
    print(f"\n{machine_header(resolve_dtype('auto'))}")
    print(f"{len(plans)} label-set plans (Symptom2Disease pack, {args.per_label} per label, guided and unguided, "
          f"seed {args.seed}), model {args.model}, up to {default.max_tokens} tokens each\n")  # fmt: skip
    print("| raw vLLM LLM.chat, sampling | seconds | completion tokens | tokens/s | tokens per CPU-second |")
    print("|---|---:|---:|---:|---:|")
    for name, (secs, toks, cpu) in rows.items():
        print(f"| {name} | {secs:.1f} | {toks} | {toks / secs:.0f} | {toks / cpu:.0f} |")
    stage_rate = tokens / seconds
    print(f"\nthe generation stage at the default ({resolved.label()}, {engine.hardware}): {seconds:.1f} s, "
          f"{tokens} tokens, {stage_rate:.0f} tokens/s, {sentences / seconds:.2f} accepted sentences/s")  # fmt: skip
    fastest = max(toks / secs for secs, toks, _ in rows.values())
    print(f"default stage / fastest raw sampler: {stage_rate / fastest:.2f}x")


if __name__ == "__main__":
    main()
