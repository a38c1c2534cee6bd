"""Train on synthetic, test on real: the public Symptom2Disease subset on a small configuration."""

import subprocess
import sys

import pandas as pd
import pytest

from dualalign.io import read_json
from dualalign.tstr import run_tstr

CLI = [sys.executable, "-m", "dualalign.cli"]


@pytest.mark.slow
def test_tstr_small_configuration(shared_data, tmp_path, vllm_engine):
    metrics = run_tstr(shared_data / "symptom2disease_public.csv", "symptom2disease", tmp_path, per_label=2,
                       gold_fraction=0.2, seed=1, engine=vllm_engine)  # fmt: skip
    assert read_json(tmp_path / "metrics.json") == metrics
    assert set(metrics["tstr"]) == {"gold", "guided", "unguided"}
    n_labels = 12
    for name, f in metrics["tstr"].items():
        assert 0 <= f["macro_f1"] <= 1 and len(f["per_label"]) == n_labels
    assert metrics["tstr"]["gold"]["macro_f1"] > 0.5  # real text, MiniLM + logistic regression
    for variant in ("guided", "unguided"):
        g = metrics["generation"][variant]
        assert g["requests"] == 2 * n_labels and g["sentences"] >= g["requests"] - g["failed"]
        assert metrics["tstr"][variant]["n_train"] == g["sentences"] + metrics["tstr"]["gold"]["n_train"]
    assert metrics["setup"]["test_rows"] + metrics["tstr"]["gold"]["n_train"] == 600


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
    assert "report:" in result.stdout
    metrics = read_json(tmp_path / "demo" / "metrics.json")
    assert {"cohort", "generation", "intrinsic"} <= set(metrics)
    assert set(metrics["generation"]) == {"guided", "unguided", "statistical", "semantic"}
    assert (tmp_path / "demo" / "report.html").stat().st_size > 10_000
    # quiet by default: library warnings and progress bars go to the run's log file, not the terminal
    for line in (result.stdout + result.stderr).splitlines():
        assert "WARNING" not in line and "it/s]" not in line, line
    assert "vllm" in (tmp_path / "demo" / "dualalign.log").read_text()
