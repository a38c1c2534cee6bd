"""Does guided text train a better classifier than unguided text, and better than the pack alone? One run.

    python benchmarks/tstr_quality.py [--per-label 20] [--seeds 0,1,2] [--model embedded:smollm2-135m-instruct]

Train on synthetic, test on real (`dualalign tstr`) on the public Symptom2Disease subset with the shipped pack,
MiniLM + logistic regression, each seed drawing new items, generations, gold split and classifier. Prints the
table without gold and with a tenth of the real rows as gold (the second reuses the first's generations: same
plans, same ids), then the issue's targets: guided >= 0.70 macro-F1, guided - unguided >= 0.10, guided >=
pack-prototype + 0.05, gold + guided >= gold + 0.03.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("TQDM_DISABLE", "1")

from dualalign.generate import EngineConfig, make_engine  # noqa: E402
from dualalign.hardware import machine_header, resolve_dtype  # noqa: E402
from dualalign.pipeline.tstr import TstrConfig, run_tstr  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "symptom2disease_public.csv"


def cell(stat: dict) -> str:
    return f"{stat['mean']:.3f}" + ("" if stat["sd"] is None else f" ± {stat['sd']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-label", type=int, default=20)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--real", type=Path, default=Path(os.environ.get("DUALALIGN_SHARED_DATA", DATA.parent))
                        / DATA.name)  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("runs/bench-tstr"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
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
