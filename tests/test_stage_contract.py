"""The stage contract: stages declare what they read and write, their keys follow from those declarations, a missing
input names the stage that makes it, and a run folder's saved config runs in that folder from anywhere."""

import subprocess
import sys

import pytest
import yaml

from dualalign.io import write_json
from dualalign.pipeline.run import STAGES, Pipeline
from dualalign.pipeline.runconfig import RunConfig, load_config
from dualalign.runfolder import CONFIG, MANIFEST, PLANS, SENTENCES
from dualalign.stage import MissingInput
from dualalign.trajectories.pack import resolve_pack_path

CLI = [sys.executable, "-m", "dualalign.pipeline.cli"]


def stages(tmp_path, **overrides) -> dict:
    data = {"out_dir": str(tmp_path / "run"), **overrides}
    return {s.name: s for s in Pipeline(RunConfig.model_validate(data), progress=False).stages()}


def test_stages_in_order_declare_what_they_read_and_write(tmp_path):
    (tmp_path / "sentences.j2").write_text("{{ style }}")
    by_name = stages(tmp_path, alignment={"templates": str(tmp_path)})
    assert tuple(by_name) == tuple(s for s in STAGES if s != "encounters")  # encounters: where planned
    pack = resolve_pack_path("alzheimers")
    assert pack in by_name["generate"].files() and pack in by_name["evaluate"].files()
    assert tmp_path / "sentences.j2" in by_name["plans"].files()
    assert {"private/synthesizer.pkl", "cohort.parquet", "cohort_sampling.json", "cohort_report.json",
            "cohort_plots"} == set(by_name["cohort"].outputs())  # fmt: skip
    made = {output: s.name for s in by_name.values() for output in s.writes}
    for stage in by_name.values():  # every declared input is made by an earlier stage
        for name in stage.reads:
            assert STAGES.index(made[name]) < STAGES.index(stage.name), (stage.name, name)


def test_encounters_run_their_own_stage_after_the_generation(tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("dialogue,note\n[doctor] hi\n[patient] hello,NOTE\n")
    by_name = stages(tmp_path, alignment={"granularity": "encounters", "conversation": {"references": [str(pairs)]}})
    assert tuple(by_name) == STAGES
    assert pairs in by_name["encounters"].files() and pairs in by_name["generate"].files()  # dialogue-style exchanges
    other = stages(tmp_path, alignment={"granularity": "encounters",
                                        "conversation": {"references": [str(pairs)], "min_turns": 8}})
    assert other["encounters"].key() != by_name["encounters"].key()
    assert other["generate"].key() != by_name["generate"].key()  # the conversation rules judge exchanges too
    assert other["plans"].key() == by_name["plans"].key()


def test_a_gate_rule_changes_the_generation_key_and_an_unrelated_section_does_not(tmp_path):
    base = stages(tmp_path)
    gate = stages(tmp_path, alignment={"gate": {"min_words": 7}})
    chunks = stages(tmp_path, alignment={"chunk_size": 8})
    privacy = stages(tmp_path, privacy={"max_phi_texts": 3})
    assert gate["generate"].key() != base["generate"].key()
    assert gate["generate"].text_key() != base["generate"].text_key()  # earlier texts are set aside, not reused
    assert gate["plans"].key() == base["plans"].key()  # the gate does not shape the plans
    assert chunks["generate"].key() == base["generate"].key()  # how the work is chunked does not count
    assert privacy["generate"].key() == base["generate"].key()
    assert privacy["evaluate"].key() != base["evaluate"].key()


def test_a_stage_key_follows_the_content_of_what_it_reads(tmp_path):
    by_name = stages(tmp_path)
    before = by_name["generate"].key()
    (tmp_path / "run" / PLANS).write_text('{"id": "x"}\n')
    assert by_name["generate"].key() != before


def test_a_missing_input_is_one_error_naming_the_stage_that_makes_it(tmp_path):
    pipeline = Pipeline(RunConfig.model_validate({"out_dir": str(tmp_path / "run")}), progress=False)
    with pytest.raises(MissingInput, match=rf"stage evaluate needs {SENTENCES} .* run the generate stage first"):
        pipeline.run_all(("evaluate",))


def test_evaluate_without_sentences_is_one_line_and_exit_code_2(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"out_dir": str(tmp_path / "run")}))
    result = subprocess.run([*CLI, "run", str(config), "--stages", "evaluate"], capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "run the generate stage first" in lines[0], result.stderr


def test_a_run_folders_saved_config_runs_in_that_folder_from_any_directory(tmp_path, monkeypatch):
    gold = tmp_path / "gold.csv"
    gold.write_text("text,label\nHe forgets names.,memory\n")
    monkeypatch.chdir(tmp_path)
    pipeline = Pipeline(RunConfig.model_validate({"out_dir": "runs/demo", "evaluation": {"gold": "gold.csv"}}))
    run = pipeline.run.path.resolve()
    saved = yaml.safe_load((run / CONFIG).read_text())
    assert saved["out_dir"] == "." and saved["evaluation"]["gold"] == str(gold)
    write_json(run / MANIFEST, {"stages": {}})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(run / CONFIG)
    assert config.out_dir.resolve() == run
    assert config.evaluation.gold == gold
    monkeypatch.chdir(run)  # from inside the folder too: no runs/demo/runs/demo
    assert load_config(CONFIG).out_dir.resolve() == run
