import json

import pandas as pd
import pytest

from dualalign.io import append_jsonl, atomic_path, read_jsonl, stable_hash, write_parquet
from dualalign.runfolder import RunFolder


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "table.parquet"
    write_parquet(target, pd.DataFrame({"a": [1, 2]}))
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a file")
            raise RuntimeError("killed mid-write")
    assert pd.read_parquet(target)["a"].tolist() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]


def test_jsonl_ignores_a_torn_last_line_but_not_a_torn_middle(tmp_path):
    path = tmp_path / "g.jsonl"
    append_jsonl(path, [{"id": "a"}, {"id": "b"}])
    with path.open("a") as f:
        f.write('{"id": "c", "te')  # a process killed mid-line
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b"]
    path.write_text('{"id": "a"}\n{broken\n{"id": "c"}\n')
    with pytest.raises(json.JSONDecodeError):
        read_jsonl(path)


def test_stable_hash_ignores_key_order():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


def test_run_folder_counts_a_stage_done_only_while_its_key_outputs_and_figures_hold(tmp_path):
    run = RunFolder(tmp_path / "run")
    assert not run.is_done("cohort", "k1")
    (run.path / "cohort.parquet").write_text("data")
    run.write_figures({"cohort": {"n": 1}})
    run.record("cohort", "k1", ["cohort.parquet"], seconds=1.0, seed=0, figures=["cohort"])
    assert run.is_done("cohort", "k1") and not run.is_done("cohort", "k2")
    assert run.manifest()["versions"]["dualalign"]
    run.write_figures({"cohort": None})  # a section given as None is removed
    assert "cohort" not in run.metrics() and not run.is_done("cohort", "k1")
    run.write_figures({"cohort": {"n": 1}})
    (run.path / "cohort.parquet").unlink()
    assert not run.is_done("cohort", "k1")
