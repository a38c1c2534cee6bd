"""`dualalign run` and `dualalign generate`: the pipeline from a config, or the generation stage of a run folder."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from dualalign import logs
from dualalign.errors import ConfigError
from dualalign.generate.registry import ENGINES
from dualalign.generate.sampling import parse_sampling
from dualalign.pipeline.tables import print_figures
from dualalign.train.registry import CLASSIFIERS

console = Console()
SAMPLING_HELP = ("Sampling settings, e.g. 'temperature=0.8,min_p=0.05' (temperature, top_p, top_k, min_p, max_tokens; "
                 "unset ones: the engine hardware's default).")


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def show_generation(metrics: dict) -> None:
    rows = {
        variant: {
            "requests": str(f["requests"]), "accepted": str(f["accepted"]), "retried": str(f["retried"]),
            "candidates": str(f["candidates"]), "rejected": str(sum(f["rejections_by_reason"].values())),
            "grounded": _rate(f["grounding_rate"]), "expr. label": _rate(f["label_expression_rate"]),
        }
        for variant, f in metrics.get("generation", {}).items()
    }  # fmt: skip
    print_figures(console, "generation, quality gate and grounding", "variant", rows)
    _print_reasons("rejected candidates", [f["rejections_by_reason"] for f in metrics.get("generation", {}).values()])


def _print_reasons(what: str, counts: list[dict[str, int]]) -> None:
    """One line: the rejection reasons summed over `counts`, the most frequent first."""
    reasons: dict[str, int] = {}
    for count in counts:
        for reason, n in count.items():
            reasons[reason] = reasons.get(reason, 0) + n
    if reasons:
        top = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
        console.print(f"{what} by reason: {top}", highlight=False)


def show_encounters(metrics: dict) -> None:
    """Encounters per variant: how many pairs, notes and conversations the gate accepted, and why parts failed."""
    figures = metrics.get("encounters", {})
    rows = {
        variant: {
            "encounters": str(f["encounters"]), "accepted": str(f["accepted"]),
            "notes": str(f["notes_accepted"]), "conversations": str(f["conversations_accepted"]),
            "sections": f"{f['sections_accepted']}/{f['sections']}", "pieces": f"{f['pieces_accepted']}/{f['pieces']}",
            "mean turns": f"{f['mean_turns']:.1f}" if f["mean_turns"] is not None else "-",
        }
        for variant, f in figures.items()
    }  # fmt: skip
    print_figures(console, "encounters and their parts accepted by the gate", "variant", rows)
    _print_reasons("rejected sections, pieces and conversations",
                   [c for f in figures.values()
                    for c in (f["part_rejections_by_reason"], f["conversation_rejections_by_reason"])])  # fmt: skip


def run(
    config: Path = typer.Argument(..., help="Run config YAML."),
    stages: str = typer.Option(None, help="Stages to run, comma-separated (default: every stage, in order)."),
    force: bool = typer.Option(False, help="Run stages even when their config and inputs are unchanged."),
    release_override: str = typer.Option(
        None, help="Export even though a privacy check failed, for this reason (recorded in the manifest and card)."
    ),
) -> None:
    """Run the pipeline of a config: cohort -> trajectories -> plans -> generate -> evaluate -> export (unchanged
    stages are skipped; export only when the privacy checks pass)."""
    from dualalign.io import read_json
    from dualalign.pipeline.run import STAGES, Pipeline
    from dualalign.pipeline.runconfig import load_config

    wanted = tuple(s.strip() for s in stages.split(",") if s.strip()) if stages else STAGES
    unknown = sorted(set(wanted) - set(STAGES))
    if unknown:
        raise typer.BadParameter(f"unknown stages {unknown}; stages: {', '.join(STAGES)}")
    pipeline = Pipeline(load_config(config), force=force, release_override=release_override)
    pipeline.run_all(wanted)
    metrics = read_json(pipeline.run.path / "metrics.json")
    show_generation(metrics)
    if "encounters" in metrics:
        show_encounters(metrics)
    console.print(f"run folder: [bold]{pipeline.run.path}[/]")


def generate(
    run_dir: Path = typer.Argument(..., help="A run folder with plans.jsonl (from `dualalign run`)."),
    engine: str = typer.Option(None, help=f"Override engine.kind: {', '.join(ENGINES)}."),
    model: str = typer.Option(None, help="Override engine.model."),
    base_url: str = typer.Option(None, help="Override engine.base_url (for --engine openai)."),
    ray: str = typer.Option(None, "--ray", metavar="ADDRESS", help="Generate on a Ray cluster, an actor pool of "
                            "the engine: its address (host:6379, ray://host:10001, auto), or 'local' to start one."),
) -> None:
    """Generate a run folder's plans (resuming what an interrupted run left), then write its outputs."""
    from dualalign.config import validate_model
    from dualalign.errors import DataError
    from dualalign.io import read_json
    from dualalign.pipeline.run import Pipeline
    from dualalign.pipeline.runconfig import RunConfig, load_config

    if not (run_dir / "plans.jsonl").is_file() or not (run_dir / "config.yaml").is_file():
        raise DataError(f"{run_dir}: not a run folder with plans (run `dualalign run CONFIG --stages ...plans` first)")
    config = load_config(run_dir / "config.yaml")
    overrides = {k: v for k, v in {"kind": engine, "model": model, "base_url": base_url}.items() if v is not None}
    data = config.model_dump(mode="json")
    kind = overrides.get("kind", config.engine.kind)
    if kind in ENGINES:  # another kind keeps the run's engine settings that it shares (the model, say)
        data["engine"] = {k: v for k, v in data["engine"].items() if k in ENGINES[kind].config_type.model_fields}
    data["engine"].update(overrides)
    if ray is not None:  # the run's engine (or the inner one of a ray section) becomes the actors' engine
        outer = data["engine"] if data["engine"].get("kind") == "ray" else {"engine": data["engine"]}
        data["engine"] = {**outer, "kind": "ray", "address": None if ray == "local" else ray}
    if data["engine"]["kind"] == "ray" and model is not None and "engine" in data["engine"]:
        data["engine"]["engine"]["model"] = model  # the actors' engine runs the model given
    data["out_dir"] = str(run_dir)
    pipeline = Pipeline(validate_model(RunConfig, data, "command line"), save_config=False)
    pipeline.run_all(("generate",))
    show_generation(read_json(run_dir / "metrics.json"))


def show_evaluation(metrics: dict) -> None:
    names = {"sentences": "sentences", "grounding_rate": "grounded", "label_agreement": "label agr.",
             "distinct_2": "distinct-2", "self_bleu": "self-BLEU", "nn_similarity_max": "max NN sim."}  # fmt: skip
    intrinsic = {
        variant: {name: "-" if m.get(k) is None else f"{m[k]:.3g}" for k, name in names.items()}
        for variant, m in metrics.get("intrinsic", {}).items()
    }
    print_figures(console, "intrinsic measures", "variant", intrinsic)
    summary = metrics.get("classification", {}).get("summary", {})
    downstream = {
        mixture: {"macro-F1": _mean_sd(s["macro_f1"]), "accuracy": _mean_sd(s["accuracy"]),
                  "n_train": f"{s['n_train']['mean']:.0f}"}
        for mixture, s in summary.items()
    }  # fmt: skip
    print_figures(console, "downstream classifier on held-out gold", "mixture", downstream)


def show_privacy(metrics: dict) -> None:
    rows = {
        c["check"]: {"figure": "-" if c["figure"] is None else f"{c['figure']:.3g}", "limit": c["limit"],
                     "result": c["result"]}
        for c in metrics.get("privacy", {}).get("checks", [])
    }  # fmt: skip
    print_figures(console, "privacy checks of the release gate", "check", rows)


def _mean_sd(stat: dict) -> str:
    return f"{stat['mean']:.3f}" + ("" if stat.get("sd") is None else f" ± {stat['sd']:.3f}")


def demo(
    out: Path = typer.Option(Path("runs/demo"), help="Run folder."),
    gold: Path = typer.Option(None, help="Real labelled sentences (CSV/Parquet): also train and compare on them."),
    text_col: str = typer.Option("text", help="Text column of --gold."),
    label_col: str = typer.Option("label", help="Label column of --gold (pack label ids or names)."),
    sampling: str = typer.Option("", help=SAMPLING_HELP),
) -> None:
    """The Alzheimer's pipeline end to end on the embedded defaults (built-in spec and pack, SmolLM2 via vLLM)."""
    from importlib import resources

    from dualalign.config import read_yaml, validate_model
    from dualalign.io import read_json
    from dualalign.pipeline.run import Pipeline
    from dualalign.pipeline.runconfig import RunConfig

    source = resources.files("dualalign") / "configs" / "demo.yaml"
    data = read_yaml(Path(str(source)))
    data["out_dir"] = str(out)
    if gold is not None:
        data["evaluation"] = {"gold": str(gold), "text_column": text_col, "label_column": label_col}
    if sampling:
        data["sampling"] = parse_sampling(sampling).model_dump(exclude_unset=True)
    pipeline = Pipeline(validate_model(RunConfig, data, str(source)))
    pipeline.run_all()
    metrics = read_json(pipeline.run.path / "metrics.json")
    show_generation(metrics)
    show_evaluation(metrics)
    show_privacy(metrics)
    report_path = (pipeline.run.path / "report.html").resolve()
    console.print(f"report: [bold]{report_path}[/]  (metrics: metrics.json beside it)")
    console.print(claim_hint(labelled=gold is not None), highlight=False)


# `dualalign tstr --quick` on the public Symptom2Disease rows (600, 12 labels), 2-core CPU: docs/tstr.md
QUICK_MINUTES = 3


def claim_hint(labelled: bool) -> str:
    """The demo's last lines: the command that measures DualAlign's claim on a user's own labelled text."""
    first = "" if labelled else "No labelled real text in the demo, so no classification results. "
    return (f"{first}To measure the claim (gold + guided synthetic text beats gold alone when real examples are "
            f"scarce) on your own labelled set, about {QUICK_MINUTES} minutes on 2 CPU cores:\n"
            f"  [bold]dualalign tstr --quick --real FILE --labels PACK[/]\n"
            "FILE: CSV or Parquet with columns text and label (or --text-col/--label-col), each label one of PACK's "
            f"(id or name) with at least {max(_numbers(QUICK['gold_per_label'], '')) + 1} distinct texts. PACK: "
            "symptom2disease or a flat pack YAML of your labels (docs/tstr.md).")


def report(run_dir: Path = typer.Argument(..., help="A run folder with metrics.json.")) -> None:
    """Re-render a run folder's report.html from its metrics.json and outputs, and print its figures."""
    from dualalign.errors import DataError
    from dualalign.eval.stage import write_report
    from dualalign.io import read_json
    from dualalign.pipeline.runconfig import load_config
    from dualalign.runfolder import RunFolder
    from dualalign.trajectories.pack import load_pack

    if not (run_dir / "metrics.json").is_file():
        raise DataError(f"{run_dir}: no metrics.json (run `dualalign run CONFIG` first)")
    config = load_config(run_dir / "config.yaml")
    path = write_report(RunFolder(run_dir), load_pack(config.trajectories.pack), config.evaluation.examples_per_cell)
    metrics = read_json(run_dir / "metrics.json")
    show_generation(metrics)
    show_evaluation(metrics)
    show_privacy(metrics)
    console.print(f"report: [bold]{path.resolve()}[/]")


# `tstr --quick`: the learning curve's points k = 1 and 5 on one seed, in minutes (docs/tstr.md has its time)
QUICK = {"per_label": "5", "seeds": "0", "gold_per_label": "1,5", "draws": 3, "synthetic_weight": "auto"}
TSTR_DEFAULTS = {"per_label": "20", "seeds": "0,1,2", "gold_per_label": "", "draws": None, "synthetic_weight": "1"}


def tstr(
    real: Path = typer.Option(..., help="Real labelled text (CSV/Parquet), scored as the test set."),
    labels: str = typer.Option(..., help="The pack whose label set is generated (a built-in name or a YAML path)."),
    text_col: str = typer.Option("text"),
    label_col: str = typer.Option("label", help="Label column (pack label ids or the labels' names)."),
    classifier: str = typer.Option("embedding-logreg", help=f"Classifier: {', '.join(CLASSIFIERS)}."),
    quick: bool = typer.Option(False, "--quick", help="A quick learning curve: --per-label 5 --seeds 0 "
                               "--gold-per-label 1,5 --draws 3 --synthetic-weight auto (options given win)."),
    per_label: str = typer.Option(None, help="Generation requests per label, variant and seed (default 20); several, "
                                  "e.g. '20,50,100': a curve over synthetic rows per label (the largest generated, "
                                  "each size scored on its first items per label). Not with --gold-per-label."),
    classifier_settings: str = typer.Option("", help="The classifier's settings, e.g. 'r=16,alpha=32,epochs=3' "
                                            "(the constructor's arguments in dualalign.train)."),
    variants: str = typer.Option("guided,unguided"),
    gold_fraction: float = typer.Option(0.0, help="Share of the real rows kept apart as gold and mixed in."),
    gold: Path = typer.Option(None, help="Real labelled text trained on as gold instead (every --real row scored)."),
    gold_per_label: str = typer.Option(None, help="A learning curve, e.g. '1,2,5,10': for each k, --draws draws of k "
                                       "real rows per label as gold, the other real rows scored. Not with --gold or "
                                       "--gold-fraction."),
    draws: int = typer.Option(None, help="Draws of the gold rows per k of --gold-per-label (default 5)."),
    test_per_label: int = typer.Option(None, help="Score on at most this many real test rows per label (a seeded "
                                       "draw, the same for every classifier): for slow classifiers."),
    synthetic_weight: str = typer.Option(None, help="Sample weight of synthetic rows mixed with gold (gold rows "
                                         "weigh 1; default 1), or 'auto': chosen by cross-validation over the gold "
                                         "rows."),
    seeds: str = typer.Option(None, help="Seeds (default 0,1,2): each draws new items, generations, gold split and "
                              "classifier."),
    candidates: int = typer.Option(None, help="Candidates per request; the best that passes the gate is kept."),
    out: Path = typer.Option(Path("runs/tstr"), help="Output folder (generations resume from it)."),
    engine: str = typer.Option("vllm", help=f"Engine kind: {', '.join(ENGINES)}."),
    model: str = typer.Option("embedded:smollm2-135m-instruct"),
    base_url: str = typer.Option(None, help="For --engine openai."),
    sampling: str = typer.Option("", help=SAMPLING_HELP + " max_tokens is tstr's own unless given."),
    robustness: bool = typer.Option(True, help="Also score each classifier on perturbed copies of the real test "
                                    "rows (typos, dropped words, first sentence only, lower case)."),
) -> None:
    """Train on synthetic, test on real: generate each variant's labelled text, train, score on the real rows."""
    cfg = tstr_config(locals())
    from dualalign.pipeline.tstr import run_tstr
    from dualalign.runfolder import LEARNING_CURVE

    with logs.log_to(cfg.out):
        metrics = run_tstr(cfg)
    show_tstr(metrics)
    show_robustness(metrics)
    console.print(f"metrics: [bold]{out / 'metrics.json'}[/]")
    if "curve" in metrics or "synthetic_curve" in metrics:
        console.print(f"plot: [bold]{out / LEARNING_CURVE}[/]")


def tstr_options(given: dict, quick: bool, own_gold: bool = False, takes_weights: bool = True) -> dict:
    """`tstr`'s curve options: each one given (not None) as given, the rest from the preset (`QUICK` with --quick,
    else `TSTR_DEFAULTS`). A gold choice of the user's own (`own_gold`: --gold or --gold-fraction) replaces the quick
    preset's gold rows per label and draws, and a classifier that takes no sample weights its 'auto' weight."""
    preset = dict(QUICK if quick else TSTR_DEFAULTS)
    if own_gold:
        preset |= {"gold_per_label": "", "draws": None}
    if not takes_weights:
        preset["synthetic_weight"] = "1"
    return {name: preset[name] if value is None else value for name, value in given.items()}


def tstr_config(options: dict):
    """The TstrConfig of `tstr`'s command-line options (its parameters by name); a bad one is a ConfigError."""
    from dualalign.config import validate_model
    from dualalign.pipeline.tstr import TSTR_SAMPLING, TstrConfig

    o = options | tstr_options({name: options[name] for name in TSTR_DEFAULTS}, options["quick"],
                               own_gold=options["gold"] is not None or bool(options["gold_fraction"]),
                               takes_weights=options["classifier"] not in CLASSIFIERS
                               or CLASSIFIERS[options["classifier"]].takes_weights)  # fmt: skip
    data = {
        "real": o["real"], "pack": o["labels"], "out": o["out"], "text_column": o["text_col"],
        "label_column": o["label_col"], "per_label": _numbers(o["per_label"], "--per-label"),
        "variants": [v.strip() for v in o["variants"].split(",") if v.strip()], "gold_fraction": o["gold_fraction"],
        "gold": o["gold"], "seeds": _numbers(o["seeds"], "--seeds"),
        "gold_per_label": _numbers(o["gold_per_label"], "--gold-per-label"), "test_per_label": o["test_per_label"],
        "train": {"classifier": o["classifier"], "settings": _settings(o["classifier_settings"]),
                  "synthetic_weight": o["synthetic_weight"], "robustness": o["robustness"]},
        "engine": {k: v for k, v in {"kind": o["engine"], "model": o["model"], "base_url": o["base_url"]}.items()
                   if v is not None},
    }  # fmt: skip
    if o["draws"] is not None:
        if not o["gold_per_label"]:
            raise ConfigError("--draws: draws of the gold rows of a learning curve; give --gold-per-label too")
        data["draws"] = o["draws"]
    if o["candidates"] is not None:
        data["alignment"] = {"gate": {"candidates": o["candidates"]}}
    if o["sampling"]:
        data["sampling"] = {**TSTR_SAMPLING.model_dump(exclude_unset=True),
                            **parse_sampling(o["sampling"]).model_dump(exclude_unset=True)}  # fmt: skip
    return validate_model(TstrConfig, data, "command line")


def _numbers(text: str, option: str) -> list[int]:
    """'1,2,5' as [1, 2, 5]; anything else a ConfigError naming the option."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{option}: expected whole numbers separated by commas, got {text!r}") from None


def _settings(text: str) -> dict[str, int | float | bool | str]:
    """'r=16,lr=2e-4,dtype=bfloat16' as {"r": 16, "lr": 0.0002, "dtype": "bfloat16"}: each value a whole number, a
    number, true/false or else text; a pair without '=' is a ConfigError."""
    pairs = [p.partition("=") for p in text.split(",") if p.strip()]
    if any(not sep for _, sep, _ in pairs):
        raise ConfigError(f"--classifier-settings {text!r}: give name=value pairs, e.g. r=16,alpha=32")
    return {name.strip(): _value(value.strip()) for name, _, value in pairs}


def _value(text: str) -> int | float | bool | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def show_tstr(metrics: dict) -> None:
    setup = metrics["setup"]
    if "curve" in metrics:
        title = (f"learning curve: macro-F1 on the other real rows ({setup['draws']} draws x {len(setup['seeds'])} "
                 f"seeds, synthetic weight {setup['train']['synthetic_weight']})")  # fmt: skip
        show_curve(metrics["curve"], title, "gold per label")
        return
    if "synthetic_curve" in metrics:
        title = (f"synthetic rows curve: macro-F1 on {setup['test_rows']} real rows ({len(setup['seeds'])} seeds, "
                 f"synthetic weight {setup['train']['synthetic_weight']})")  # fmt: skip
        show_curve(metrics["synthetic_curve"], title, "synthetic per label")
        return
    rows = {name: {"n_train": f"{f['n_train']['mean']:.0f}", "macro-F1": _mean_sd(f["macro_f1"]),
                   "accuracy": _mean_sd(f["accuracy"])}
            for name, f in metrics["tstr"].items()}  # fmt: skip
    title = f"train on synthetic, test on real ({setup['test_rows']} real rows, {len(setup['seeds'])} seeds)"
    print_figures(console, title, "trained on", rows)


def show_curve(curve: dict, title: str, point: str) -> None:
    """A curve: a row per point, a column per training set (macro-F1 mean ± sd over draws and seeds), and the
    synthetic weights used (mean over draws and seeds)."""
    rows = {}
    for k, sets in curve.items():
        rows[k] = {name: _mean_sd(f["macro_f1"]) for name, f in sets.items()}
        rows[k] |= {f"weight {name.removeprefix('gold+')}": f"{f['synthetic_weight']['mean']:.2f}"
                    for name, f in sets.items() if "synthetic_weight" in f}  # fmt: skip
    print_figures(console, title, point, rows)


def show_robustness(metrics: dict) -> None:
    """Per training set (and point of a curve: k=, or n= synthetic per label): the clean macro-F1 and the macro-F1
    lost on each perturbed copy of the real test rows (means, to fit 80 columns; the sds are in metrics.json);
    nothing where none was scored."""
    from dualalign.train.robustness import PERTURBATIONS, drop_column

    if "curve" in metrics:
        sets = {f"k={k} ": by_name for k, by_name in metrics["curve"].items()}
    elif "synthetic_curve" in metrics:
        sets = {f"n={n} ": by_name for n, by_name in metrics["synthetic_curve"].items()}
    else:
        sets = {"": metrics["tstr"]}
    heads = dict(zip(PERTURBATIONS, ("typos", "dropped", "1st sent.", "lower"), strict=True))
    rows = {f"{point}{name}": {"macro-F1": f"{f['macro_f1']['mean']:.3f}",
                               **{heads[p]: f"{f[drop_column(p)]['mean']:.3f}" for p in PERTURBATIONS}}
            for point, by_name in sets.items() for name, f in by_name.items() if drop_column(PERTURBATIONS[0]) in f}
    title = ("robustness: macro-F1 lost with typos, words dropped, the first sentence only, lower case (clean minus "
             "perturbed)")  # fmt: skip
    print_figures(console, title, "trained on", rows)


def register(app: typer.Typer) -> None:
    app.command()(demo)
    app.command()(tstr)
    app.command()(run)
    app.command()(generate)
    app.command()(report)
