"""Throughput of the whole generation stage against raw `vllm.LLM.chat` on the same requests, in one run, and the
cost of best-of-n.

    python benchmarks/pipeline_throughput.py [--patients 16] [--notes 2]

The stage = planning (one plain-text plan per planned sentence and variant) + generation through the project's
vllm engine (n candidates per plan in one call, JSONL appends) + the quality gate (MiniLM embeddings, rules,
best-of-n) + parsing, grounding and Parquet writing. Raw = one `LLM.chat` call on the engine's own `LLM` with the
first round's requests (same prompts, seeds, stops), nothing else. Extra gate rounds are off, so both make the
same single engine call. Prints a Markdown table: tokens/s (the engine's work) and accepted sentences/s (what
the user gets).
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
from dualalign.alignment.plans import build_note_plans  # noqa: E402
from dualalign.generate import EngineConfig, make_engine  # noqa: E402
from dualalign.generate.candidates import plan_request  # noqa: E402
from dualalign.generate.outputs import build_outputs  # noqa: E402
from dualalign.generate.records import read_generations  # noqa: E402
from dualalign.generate.run import generate_plans  # noqa: E402
from dualalign.generate.sampling import SamplingConfig  # noqa: E402
from dualalign.hardware import machine_header, resolve_dtype  # noqa: E402
from dualalign.io import write_parquet  # noqa: E402
from dualalign.runfolder import GENERATIONS  # noqa: E402
from dualalign.trajectories import demo_profiles, load_pack, sample_trajectories  # noqa: E402
from dualalign.trajectories.config import TrajectoryConfig  # noqa: E402

SAMPLING = SamplingConfig()  # the defaults of the engine's hardware


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=16)
    parser.add_argument("--notes", type=int, default=2, help="notes per patient (each in 4 variants)")
    args = parser.parse_args()
    pack = load_pack("alzheimers")
    profiles = demo_profiles(pack, args.patients, seed=0)
    notes = sample_trajectories(profiles, TrajectoryConfig(), seed=0)
    configs = {n: AlignmentConfig(max_notes_per_patient=args.notes, gate=GateConfig(candidates=n, rounds=0))
               for n in (1, 3)}  # fmt: skip
    grounder = Grounder(pack, configs[1].grounding)  # loaded once, like the stage's encoder

    with make_engine(EngineConfig()) as engine:
        from vllm import SamplingParams

        def stage(cfg: AlignmentConfig, out: Path) -> tuple[float, int, int]:
            start = time.perf_counter()
            plans = build_note_plans(profiles, notes, pack, cfg, seed=0)
            gate = QualityGate(pack, cfg.grounding, cfg.gate)
            generate_plans(plans, engine, out, gate, cfg.model_copy(update={"chunk_size": len(plans)}), SAMPLING,
                           False)  # fmt: skip
            records = read_generations(out / GENERATIONS)
            notes_df, sentences, rejections = build_outputs(plans, records, grounder,
                                                            QualityGate(pack, cfg.grounding, cfg.gate))
            write_parquet(out / "sentences.parquet", sentences)
            return time.perf_counter() - start, sum(r.completion_tokens for r in records), len(sentences)

        def raw(cfg: AlignmentConfig) -> tuple[float, int]:
            plans = build_note_plans(profiles, notes, pack, cfg, seed=0)
            requests = [plan_request(p, SAMPLING, k) for p in plans for k in range(cfg.gate.candidates)]
            conversations = [[m.model_dump() for m in r.messages] for r in requests]
            params = [SamplingParams(**r.sampling.resolve(engine.hardware).model_dump(), seed=r.seed, stop=r.stop)
                      for r in requests]  # fmt: skip
            start = time.perf_counter()
            outputs = engine.llm.chat(conversations, params, use_tqdm=False)
            return time.perf_counter() - start, sum(len(o.outputs[0].token_ids) for o in outputs)

        raw(configs[1])  # warm-up
        rows = {}
        for n, cfg in configs.items():
            with tempfile.TemporaryDirectory() as tmp:
                rows[f"dualalign stage, best of {n}"] = stage(cfg, Path(tmp))
            rows[f"raw vLLM LLM.chat, {n} per plan"] = (*raw(cfg), None)
        n_plans = len(build_note_plans(profiles, notes, pack, configs[1], seed=0))
    print(f"\n{machine_header(resolve_dtype('auto'))}")
    print(f"{n_plans} sentence plans ({args.patients} patients x {args.notes} notes x their planned mentions x 4 "
          "variants), model SmolLM2-135M-Instruct\n")  # fmt: skip
    print("| path | seconds | completion tokens | tokens/s | accepted sentences/s |")
    print("|---|---:|---:|---:|---:|")
    for label, (seconds, tokens, sentences) in rows.items():
        rate = "-" if sentences is None else f"{sentences / seconds:.2f}"
        print(f"| {label} | {seconds:.1f} | {tokens} | {tokens / seconds:.1f} | {rate} |")
    for n in configs:
        ours, theirs = rows[f"dualalign stage, best of {n}"], rows[f"raw vLLM LLM.chat, {n} per plan"]
        print(f"\nbest of {n}: stage / raw tokens/s {(ours[1] / ours[0]) / (theirs[1] / theirs[0]):.2f}x")
    one, three = rows["dualalign stage, best of 1"], rows["dualalign stage, best of 3"]
    print(f"best of 3 / best of 1: {three[0] / one[0]:.2f}x the time for "
          f"{three[2] / max(one[2], 1):.2f}x the accepted sentences")  # fmt: skip


if __name__ == "__main__":
    main()
