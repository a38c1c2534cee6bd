"""Does guided text train a better classifier than unguided text, and better than the pack alone? One run.

    python benchmarks/tstr_quality.py [--per-label 20] [--seeds 0,1,2] [--model embedded:smollm2-135m-instruct]
    python benchmarks/tstr_quality.py --sampling top_p=0.95 --sampling temperature=1.0,min_p=0.1 [--gold-fractions 0]

Train on synthetic, test on real (`dualalign tstr`) on the public Symptom2Disease subset with the shipped pack,
MiniLM + logistic regression, each seed drawing new items, generations, gold split and classifier. Prints the
table without gold and with a tenth of the real rows as gold (the second reuses the first's generations: same
plans, same ids), then the issue's targets: guided >= 0.70 macro-F1, guided - unguided >= 0.10, guided >=
pack-prototype + 0.05, gold + guided >= gold + 0.03.

With `--sampling` (repeatable; `name=value` pairs of `SamplingConfig`, temperature 0.8 unless given), each setting
runs on the same loaded engine into its own folder, and a table compares them: guided and unguided macro-F1, the
gate's acceptance rate (plans with an accepted text) and rounds (mean attempts per plan), distinct-2 of the
accepted guided texts, tokens/s (all candidates' tokens over the engine's own time) and accepted sentences/s (over
the whole run's time: generation, gate, training and scoring).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("TQDM_DISABLE", "1")

import pandas as pd  # noqa: E402

from dualalign.alignment.config import AlignmentConfig, GateConfig  # noqa: E402
from dualalign.eval.diversity import distinct_n  # noqa: E402
from dualalign.generate import EngineConfig, make_engine  # noqa: E402
from dualalign.generate.engine import Engine  # noqa: E402
from dualalign.generate.records import read_generations  # noqa: E402
from dualalign.generate.sampling import SamplingConfig, parse_sampling  # noqa: E402
from dualalign.hardware import machine_header, resolve_dtype  # noqa: E402
from dualalign.pipeline.tstr import TSTR_SAMPLING, TstrConfig, run_tstr  # noqa: E402
from dualalign.runfolder import GENERATIONS, SENTENCES  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "symptom2disease_public.csv"


def cell(stat: dict) -> str:
    return f"{stat['mean']:.3f}" + ("" if stat["sd"] is None else f" ± {stat['sd']:.3f}")


class TimedEngine(Engine):
    """The engine, with the seconds spent in it and the completion tokens it made counted."""

    def __init__(self, engine: Engine):
        self.engine, self.name, self.hardware, self.seconds, self.tokens = engine, engine.name, engine.hardware, 0.0, 0
        self.cpu_seconds = 0.0  # this process's CPU time (all threads): less swayed by other work on the machine

    def generate(self, requests, on_result=None):
        start, cpu = time.perf_counter(), time.process_time()
        results = self.engine.generate(requests, on_result)
        self.seconds += time.perf_counter() - start
        self.cpu_seconds += time.process_time() - cpu
        self.tokens += sum(r.completion_tokens for r in results)
        return results


def compare_sampling(args, settings: list[str], seeds: list[int]) -> None:
    """One tstr run per sampling setting on one engine; a row per setting as each finishes (and a JSON line)."""
    rows = []
    with make_engine(EngineConfig(model=args.model)) as loaded:
        for text in settings:
            given = parse_sampling(text).model_dump(exclude_unset=True)
            sampling = SamplingConfig(**{"temperature": 0.8, "max_tokens": TSTR_SAMPLING.max_tokens, **given})
            out = args.out / (re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "defaults")
            engine = TimedEngine(loaded)
            start = time.perf_counter()
            gate = GateConfig() if args.candidates is None else GateConfig(candidates=args.candidates)
            cfg = TstrConfig(real=args.real, pack="symptom2disease", out=out, per_label=args.per_label, seeds=seeds,
                             engine=EngineConfig(model=args.model), sampling=sampling,
                             alignment=AlignmentConfig(gate=gate))  # fmt: skip
            metrics = run_tstr(cfg, engine=engine)
            seconds = time.perf_counter() - start
            rows.append(sampling_row(sampling.resolve(loaded.hardware), metrics, out, seeds, engine, seconds))
            print(json.dumps(rows[-1]), flush=True)
    print(f"\n{machine_header(resolve_dtype('auto'))}")
    print(f"{args.real.name}, {args.per_label} requests per label and variant, seeds {seeds}, model {args.model}, "
          f"candidates {args.candidates or GateConfig().candidates}, no gold\n")  # fmt: skip
    print("| sampling | guided macro-F1 | unguided macro-F1 | accepted | rounds | distinct-2 | tokens/s | "
          "tokens per CPU-s | accepted sentences/s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")  # fmt: skip
    for r in rows:
        print(f"| {r['sampling']} | {r['guided']} | {r['unguided']} | {r['accepted']:.1%} | {r['rounds']:.2f} | "
              f"{r['distinct_2']:.3f} | {r['tokens_per_s']:.0f} | {r['tokens_per_cpu_s']:.0f} | "
              f"{r['sentences_per_s']:.2f} |")  # fmt: skip


def sampling_row(sampling: SamplingConfig, metrics: dict, out: Path, seeds: list[int], engine: TimedEngine,
                 seconds: float) -> dict:  # fmt: skip
    generations = [g for seed in seeds for g in read_generations(out / f"seed-{seed}" / GENERATIONS)]
    sentences = pd.concat([pd.read_parquet(out / f"seed-{seed}" / SENTENCES) for seed in seeds])
    guided = sentences.loc[sentences["variant"] == "guided", "text"].tolist()
    return {
        "sampling": sampling.label(),
        "guided": cell(metrics["tstr"]["guided"]["macro_f1"]),
        "unguided": cell(metrics["tstr"]["unguided"]["macro_f1"]),
        "guided_per_seed": [r["macro_f1"] for r in metrics["runs"] if r["mixture"] == "guided"],
        "accepted": sum(g.ok for g in generations) / len(generations),
        "rounds": sum(g.attempts for g in generations) / len(generations),
        "distinct_2": distinct_n(guided, 2),
        "tokens_per_s": engine.tokens / engine.seconds,
        "tokens_per_cpu_s": engine.tokens / engine.cpu_seconds,
        "sentences_per_s": len(sentences) / seconds,
        "engine_s": round(engine.seconds, 1),
        "engine_cpu_s": round(engine.cpu_seconds, 1),
        "run_s": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-label", type=int, default=20)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--real", type=Path, default=Path(os.environ.get("DUALALIGN_SHARED_DATA", DATA.parent))
                        / DATA.name)  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("runs/bench-tstr"))
    parser.add_argument("--candidates", type=int, default=None, help="candidates per request (default: the gate's)")
    parser.add_argument("--sampling", action="append", help="compare sampling settings, e.g. temperature=1.0,min_p=0.1")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.sampling:
        compare_sampling(args, args.sampling, seeds)
        return
    engine_cfg = EngineConfig(model=args.model)
    results = {}
    with make_engine(engine_cfg) as engine:
        for gold in (0.0, 0.1):
            cfg = TstrConfig(real=args.real, pack="symptom2disease", out=args.out, per_label=args.per_label,
                             gold_fraction=gold, seeds=seeds, engine=engine_cfg)  # fmt: skip
            results[gold] = run_tstr(cfg, engine=engine)
    print(f"\n{machine_header(resolve_dtype('auto'))}")
    print(f"{args.real.name}: {results[0.0]['setup']['test_rows']} real rows, 12 labels; {args.per_label} requests "
          f"per label and variant; model {args.model}; seeds {seeds}\n")  # fmt: skip
    for gold, metrics in results.items():
        print(f"gold fraction {gold}:\n")
        print("| trained on | n_train | macro-F1 | accuracy |")
        print("|---|---:|---:|---:|")
        for name, f in metrics["tstr"].items():
            print(f"| {name} | {f['n_train']['mean']:.0f} | {cell(f['macro_f1'])} | {cell(f['accuracy'])} |")
        print()
    f1 = {name: f["macro_f1"]["mean"] for name, f in results[0.0]["tstr"].items()}
    g1 = {name: f["macro_f1"]["mean"] for name, f in results[0.1]["tstr"].items()}
    checks = [
        ("guided >= 0.70", f1["guided"], f1["guided"] >= 0.70),
        ("guided - unguided >= 0.10", f1["guided"] - f1["unguided"], f1["guided"] - f1["unguided"] >= 0.10),
        ("guided - pack-prototype >= 0.05", f1["guided"] - f1["pack-prototype"],
         f1["guided"] - f1["pack-prototype"] >= 0.05),
        ("(gold+guided) - gold >= 0.03", g1["gold+guided"] - g1["gold"], g1["gold+guided"] - g1["gold"] >= 0.03),
    ]  # fmt: skip
    print("| target | measured | met |")
    print("|---|---:|---|")
    for name, value, met in checks:
        print(f"| {name} | {value:+.3f} | {'yes' if met else 'no'} |")


if __name__ == "__main__":
    main()
