"""Train on synthetic, test on real: the public Symptom2Disease subset on a small configuration."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from dualalign.alignment.plans import read_plans
from dualalign.io import read_json, read_jsonl
from dualalign.pipeline.tstr import TstrConfig, run_tstr
from dualalign.train.robustness import PERTURBATIONS

CLI = [sys.executable, "-m", "dualalign.pipeline.cli"]


@pytest.mark.slow
def test_tstr_small_configuration(shared_data, tmp_path, vllm_engine):
    cfg = TstrConfig(real=shared_data / "symptom2disease_public.csv", pack="symptom2disease", out=tmp_path,
                     per_label=2, gold_fraction=0.2, seeds=[1])  # fmt: skip
    metrics = run_tstr(cfg, engine=vllm_engine)
    assert read_json(tmp_path / "metrics.json") == json.loads(json.dumps(metrics))
    assert list(metrics["tstr"]) == ["pack-prototype", "gold", "gold+guided", "gold+unguided", "guided", "unguided"]
    for name, f in metrics["tstr"].items():
        assert 0 <= f["macro_f1"]["mean"] <= 1 and f["macro_f1"]["sd"] is None  # one seed: no sd
    assert metrics["tstr"]["gold"]["macro_f1"]["mean"] > 0.5  # real text, MiniLM + logistic regression
    assert metrics["tstr"]["pack-prototype"]["macro_f1"]["mean"] > 0.4  # the pack alone, no training
    for name, f in metrics["tstr"].items():  # robustness (on by default): every set scored on each perturbed copy
        for p in PERTURBATIONS:
            assert 0 <= f[f"macro_f1_{p}"]["mean"] <= 1
            assert f[f"drop_{p}"]["mean"] == pytest.approx(f["macro_f1"]["mean"] - f[f"macro_f1_{p}"]["mean"])
    assert any(f[f"drop_{p}"]["mean"] != 0 for f in metrics["tstr"].values() for p in PERTURBATIONS)
    n_labels, gold = 12, metrics["tstr"]["gold"]["n_train"]["mean"]
    for variant in ("guided", "unguided"):
        g = metrics["generation"]["1"][variant]
        assert g["requests"] == 2 * n_labels and g["sentences"] == g["accepted"]
        assert metrics["tstr"][variant]["n_train"]["mean"] == g["sentences"]
        assert metrics["tstr"][f"gold+{variant}"]["n_train"]["mean"] == g["sentences"] + gold
    assert metrics["setup"]["test_rows"] + gold == 600
    sentences = pd.read_parquet(tmp_path / "seed-1" / "sentences.parquet")
    assert not sentences["text"].str.fullmatch(r"\W*\w+(?:\W+\w+){0,2}\W*").any()  # no label-word echoes
    # `--per-label 1,2` over the same generations (the largest size, 2, is what was generated): a curve per size
    generated = (tmp_path / "seed-1" / "generations.jsonl").read_text()
    curve = run_tstr(cfg.model_copy(update={"per_label": [1, 2]}), engine=vllm_engine)
    assert (tmp_path / "seed-1" / "generations.jsonl").read_text() == generated
    assert "tstr" not in curve and list(curve["synthetic_curve"]) == ["1", "2"]
    first = sentences[sentences["note_id"].str.endswith("-0001")]
    for variant in ("guided", "unguided"):
        n = {size: curve["synthetic_curve"][size][variant]["n_train"]["mean"] for size in ("1", "2")}
        assert n == {"1": (first["variant"] == variant).sum(), "2": metrics["tstr"][variant]["n_train"]["mean"]}
    assert curve["synthetic_curve"]["2"]["gold"] == metrics["tstr"]["gold"]  # the same gold split and test rows
    assert {r["per_label"] for r in curve["runs"]} == {1, 2} and curve["setup"]["per_label"] == [1, 2]
    assert (tmp_path / "learning_curve.png").stat().st_size > 10_000


@pytest.mark.slow
def test_tstr_learning_curve_scores_cached_generations_per_k_and_draw(shared_data, tmp_path, vllm_engine):
    """A curve over a real generation; scoring it again with another synthetic weight generates nothing."""
    common = {"real": shared_data / "symptom2disease_public.csv", "pack": "symptom2disease", "per_label": 2,
              "seeds": [1], "gold_per_label": [1, 3], "draws": 2}  # fmt: skip
    metrics = run_tstr(TstrConfig(out=tmp_path, train={"synthetic_weight": "auto"}, **common), engine=vllm_engine)
    assert "tstr" not in metrics and list(metrics["curve"]) == ["1", "3"]
    sets = ["pack-prototype", "gold", "gold+guided", "gold+unguided", "guided", "unguided"]
    runs = pd.DataFrame(metrics["runs"])
    for k, curve in metrics["curve"].items():
        assert list(curve) == sets
        assert curve["gold"]["n_train"]["mean"] == 12 * int(k)
        for variant in ("guided", "unguided"):
            weights = runs[(runs["k"] == int(k)) & (runs["mixture"] == f"gold+{variant}")]["synthetic_weight"]
            assert len(weights) == 2 and curve[f"gold+{variant}"]["synthetic_weight"]["values"] == weights.tolist()
            assert set(weights) <= {0.0, 0.1, 0.3, 1.0}
    assert (tmp_path / "learning_curve.png").stat().st_size > 10_000
    assert read_json(tmp_path / "manifest.json")["stages"]["tstr"]["outputs"] == ["metrics.json", "learning_curve.png"]
    generated = (tmp_path / "seed-1" / "generations.jsonl").read_text()
    for curve in metrics["curve"].values():  # robustness per k: each set on each perturbed copy, per draw
        for f in curve.values():
            assert all(0 <= f[f"macro_f1_{p}"]["mean"] <= 1 and f[f"drop_{p}"]["sd"] is not None for p in PERTURBATIONS)
    assert runs["macro_f1_lower_case"].between(0, 1).all()
    assert (runs["macro_f1_first_sentence"] != runs["macro_f1"]).any()
    fixed = run_tstr(TstrConfig(out=tmp_path, train={"synthetic_weight": 1.0, "robustness": False}, **common),
                     engine=vllm_engine)  # fmt: skip
    assert (tmp_path / "seed-1" / "generations.jsonl").read_text() == generated
    assert {r["synthetic_weight"] for r in fixed["runs"] if "synthetic_weight" in r} == {1.0}
    assert not any(key.startswith("macro_f1_") for r in fixed["runs"] for key in r)  # robustness off
    clean = {f: v for f, v in metrics["curve"]["1"]["guided"].items() if not f.startswith(("macro_f1_", "drop_"))}
    assert fixed["curve"]["1"]["guided"] == clean  # the same rows alone, the same tests


@pytest.mark.slow
def test_tstr_is_a_run_folder_per_seed_and_resumes_after_sigkill(shared_data, tmp_path):
    """`tstr` runs stages over run folders: a manifest per seed and one for the whole comparison, and a run killed in
    the middle of its generations resumes without losing or repeating a request."""
    out = tmp_path / "out"
    script = (
        "from dualalign.pipeline.tstr import TstrConfig, run_tstr\n"
        f"run_tstr(TstrConfig(real={str(shared_data / 'symptom2disease_public.csv')!r}, pack='symptom2disease', "
        f"out={str(out)!r}, per_label=2, seeds=[0], alignment={{'chunk_size': 4, "
        "'gate': {'candidates': 1, 'rounds': 0}}), progress=False)\n"
    )
    generations = out / "seed-0" / "generations.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if generations.exists() and len(generations.read_text().splitlines()) >= 4:
            break
        time.sleep(0.5)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    plans = read_plans(out / "seed-0" / "plans.jsonl")
    assert 4 <= len(read_jsonl(generations)) < len(plans)
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stderr[-2000:]
    ids = [r["id"] for r in read_jsonl(generations)]
    assert sorted(ids) == sorted(p.id for p in plans)  # each exactly once
    seed_stages = read_json(out / "seed-0" / "manifest.json")["stages"]
    assert list(seed_stages) == ["plans", "generate", "score"]
    top = read_json(out / "manifest.json")["stages"]["tstr"]
    assert top["seeds"] == {"0": str(out / "seed-0")} and top["outputs"] == ["metrics.json"]
    assert read_json(out / "metrics.json")["tstr"]["guided"]["macro_f1"]["mean"] >= 0


def test_tstr_bad_inputs_fail_before_any_model_loads(tmp_path):
    no_column = tmp_path / "no_column.csv"
    pd.DataFrame({"sentence": ["itchy rash"], "label": ["Psoriasis"]}).to_csv(no_column, index=False)
    foreign = tmp_path / "foreign.csv"
    pd.DataFrame({"text": ["my toe hurts"], "label": ["Gout"]}).to_csv(foreign, index=False)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    cases = {no_column: "no column 'text'", foreign: "labels not in pack 'symptom2disease': ['Gout']",
             empty: "cannot be read"}  # fmt: skip
    for path, message in cases.items():
        result = subprocess.run([*CLI, "tstr", "--real", str(path), "--labels", "symptom2disease", "--out",
                                 str(tmp_path / "out")], capture_output=True, text=True, timeout=120)  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_command_writes_report_and_metrics(tmp_path):
    result = subprocess.run([*CLI, "demo", "--out", str(tmp_path / "demo")], capture_output=True, text=True,
                            timeout=1200)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "report:" in result.stdout and "dualalign tstr --quick --real FILE --labels PACK" in result.stdout
    metrics = read_json(tmp_path / "demo" / "metrics.json")
    assert {"cohort", "generation", "intrinsic"} <= set(metrics)
    assert set(metrics["generation"]) == {"guided", "unguided", "statistical", "semantic"}
    assert (tmp_path / "demo" / "report.html").stat().st_size > 10_000
    # quiet by default: library warnings and progress bars go to the run's log file, not the terminal
    for line in (result.stdout + result.stderr).splitlines():
        assert "WARNING" not in line and "it/s]" not in line, line
    assert "vllm" in (tmp_path / "demo" / "dualalign.log").read_text()
