"""A stage's cache key covers every file it reads and every setting that decides its output: editing a pack's
examples reruns grounding and evaluation; a gate rule reruns generation, an unrelated section does not."""

import json
import shutil

import pandas as pd
import pytest
import yaml

from dualalign.alignment.plans import read_plans
from dualalign.eval.release import ReleaseBlocked
from dualalign.io import read_json, read_jsonl
from dualalign.pipeline.run import STAGES, Pipeline
from dualalign.pipeline.runconfig import RunConfig
from dualalign.runfolder import GENERATIONS, MANIFEST, METRICS, PLANS, SENTENCES
from dualalign.trajectories import load_pack
from dualalign.trajectories.pack import resolve_pack_path

pytestmark = pytest.mark.slow  # fits a synthesizer and loads the sentence encoder


def test_editing_pack_examples_reruns_grounding_and_evaluation(tmp_path, vllm_engine):
    pack_file = tmp_path / "pack.yaml"
    shutil.copy(resolve_pack_path("alzheimers"), pack_file)
    config = RunConfig.model_validate({
        "seed": 3, "out_dir": str(tmp_path / "run"), "trajectories": {"pack": str(pack_file)},
        "cohort": {"n_profiles": 4, "spec_rows": 400, "plots": False},
        "alignment": {"max_notes_per_patient": 1, "variants": ["guided"]},
    })  # fmt: skip
    run = tmp_path / "run"
    Pipeline(config, progress=False).run_all(("cohort", "trajectories", "plans"))
    # Accepted replies that copy each label's first pack example (as if written before the gate knew the examples):
    # nothing is left to generate.
    pack = load_pack(pack_file)
    replies = [{"id": p.id, "variant": p.variant, "text": pack.labels[p.labels[0]].examples[0], "error": None,
                "candidates": []} for p in read_plans(run / PLANS)]  # fmt: skip
    (run / GENERATIONS).write_text("".join(json.dumps(r) + "\n" for r in replies))

    with pytest.raises(ReleaseBlocked, match="texts copying a real text"):  # the release gate sees the copies
        Pipeline(config, progress=False, engine=vllm_engine).run_all()
    assert not (run / "dataset").exists()
    before = read_json(run / MANIFEST)["stages"]
    assert pd.read_parquet(run / SENTENCES)["copies_example"].all()
    shared_before = read_json(run / METRICS)["intrinsic"]["guided"]["share_copied_ngram"]

    data = yaml.safe_load(pack_file.read_text())
    for label in data["labels"].values():
        label["examples"] = ["Reports no change in anything at all since the previous appointment."]
    pack_file.write_text(yaml.safe_dump(data, sort_keys=False))
    Pipeline(config, progress=False, engine=vllm_engine).run_all()  # the shots changed with the examples: new plans
    after = read_json(run / MANIFEST)["stages"]
    assert after["generate"]["key"] != before["generate"]["key"]
    assert after["evaluate"]["key"] != before["evaluate"]["key"]
    assert not pd.read_parquet(run / SENTENCES)["copies_example"].any()
    assert read_json(run / METRICS)["intrinsic"]["guided"]["share_copied_ngram"] < shared_before
    ran = {stage.name for stage in Pipeline(config, progress=False).stages()}  # no encounters stage for sentences
    assert ran == set(STAGES) - {"encounters"}
    assert read_json(run / METRICS)["run"]["stage_seconds"].keys() == ran


def test_a_gate_rule_reruns_generation_and_an_unrelated_section_does_not(tmp_path, vllm_engine):
    data = {"seed": 4, "out_dir": str(tmp_path / "run"), "cohort": {"n_profiles": 3, "spec_rows": 400, "plots": False},
            "alignment": {"max_notes_per_patient": 1, "variants": ["guided"], "gate": {"candidates": 1}}}  # fmt: skip
    run = tmp_path / "run"
    Pipeline(RunConfig.model_validate(data), progress=False, engine=vllm_engine).run_all()
    first = read_json(run / MANIFEST)["stages"]

    data["privacy"] = {"max_phi_texts": 2}  # the release gate's setting: evaluation reruns, generation does not
    Pipeline(RunConfig.model_validate(data), progress=False, engine=vllm_engine).run_all()
    second = read_json(run / MANIFEST)["stages"]
    assert second["generate"]["finished"] == first["generate"]["finished"]
    assert second["evaluate"]["key"] != first["evaluate"]["key"]

    data["alignment"]["gate"]["min_words"] = 5  # a quality-gate rule: every text is judged and written again
    Pipeline(RunConfig.model_validate(data), progress=False, engine=vllm_engine).run_all()
    third = read_json(run / MANIFEST)["stages"]
    assert third["plans"]["finished"] == first["plans"]["finished"]
    assert third["generate"]["key"] != first["generate"]["key"]
    set_aside = list(run.glob("generations.*.jsonl"))
    assert len(set_aside) == 1  # the texts accepted under the old rules are kept apart, not reused
    assert len(read_jsonl(set_aside[0])) == len(read_jsonl(run / GENERATIONS)) == len(read_plans(run / PLANS))
