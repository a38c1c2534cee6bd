"""`dualalign run` end to end on a small Alzheimer's configuration, with the embedded model through vLLM."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from dualalign.alignment.plans import read_plans
from dualalign.io import read_json, read_jsonl
from dualalign.pipeline.run import Pipeline
from dualalign.pipeline.runconfig import RunConfig
from dualalign.runfolder import GENERATIONS
from dualalign.trajectories import load_pack

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "dualalign.pipeline.cli"]


def small_config(out_dir, **alignment) -> dict:
    return {
        "seed": 5,
        "out_dir": str(out_dir),
        "cohort": {"n_profiles": 8, "spec_rows": 1000},
        "alignment": {"max_notes_per_patient": 1, **alignment},
        "sampling": {"max_tokens": 160},
    }


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, vllm_engine):
    out = tmp_path_factory.mktemp("run")
    config = RunConfig.model_validate(small_config(out))
    Pipeline(config, progress=False, engine=vllm_engine).run_all()
    return config, out


def test_every_plan_ends_as_output_or_recorded_failure(small_run):
    _, out = small_run
    plans = read_plans(out / "plans.jsonl")
    planned = pd.read_parquet(out / "trajectories.parquet").groupby("patient_id").tail(1)["mentions"].map(len).sum()
    assert len(plans) == 4 * planned  # one plain-text plan per planned sentence and variant
    assert {p.variant for p in plans} == {"guided", "unguided", "statistical", "semantic"}
    records = read_jsonl(out / GENERATIONS)
    assert sorted(r["id"] for r in records) == sorted(p.id for p in plans)
    notes = pd.read_parquet(out / "notes.parquet")
    assert len(notes) == 8 * 4  # one note per patient and variant, its sentences joined
    assert notes.loc[notes["status"] == "failed", "error"].notna().all()
    assert (notes["status"] == "ok").sum() >= 24
    accepted = sum(not r["error"] for r in records)
    assert accepted >= 0.75 * len(plans)  # best of 3 with two more rounds: most plans get a passing sentence


def test_sentences_carry_pack_labels_and_grounding_is_reported_per_variant(small_run):
    _, out = small_run
    sentences = pd.read_parquet(out / "sentences.parquet")
    assert len(sentences) > 0
    assert set(sentences["label"]) <= set(load_pack("alzheimers").label_ids)
    prompted = sentences[sentences["variant"].isin(["guided", "semantic"])]
    assert prompted["planned_term"].notna().all()
    assert sentences.loc[sentences["variant"].isin(["unguided", "statistical"]), "planned_term"].isna().all()
    figures = read_json(out / "metrics.json")["generation"]
    assert set(figures) == {"guided", "unguided", "statistical", "semantic"}
    for variant, f in figures.items():
        variant_rows = sentences[sentences["variant"] == variant]
        assert f["sentences"] == len(variant_rows)
        assert f["grounding_rate"] == pytest.approx(variant_rows["grounded"].mean(), abs=1e-4)
    assert read_json(out / "metrics.json")["cohort"]["privacy"]["exact_copies"] == 0


def test_manifest_records_the_dtype_the_engine_ran_in_and_why(small_run):
    from dualalign.hardware import resolve_dtype

    _, out = small_run
    engine = read_json(out / "manifest.json")["stages"]["generate"]["engine"]
    expected = resolve_dtype("auto")
    assert engine["kind"] == "vllm"
    assert engine["dtype"] == {"requested": "auto", "resolved": expected.resolved, "reason": expected.reason}


def test_evaluation_writes_intrinsic_measures_and_a_self_contained_report(small_run):
    _, out = small_run
    intrinsic = read_json(out / "metrics.json")["intrinsic"]
    assert set(intrinsic) == {"guided", "unguided", "statistical", "semantic"}
    for m in intrinsic.values():
        assert 0 <= m["distinct_2"] <= 1 and m["sentences"] > 0
    page = (out / "report.html").read_text()
    assert "http://" not in page and "https://" not in page
    assert "guided" in page and "data:image/png;base64," in page  # cohort plots inlined


def test_exports_open_in_their_tools(small_run, tmp_path):
    from datasets import load_dataset
    from fhir.resources.R4B.bundle import Bundle

    config, out = small_run
    cache = str(tmp_path / "hf-cache")  # datasets caches by folder path: another run's table must not answer
    dataset = load_dataset(str(out / "dataset"), "sentences", split="train", cache_dir=cache)
    assert dataset.num_rows == len(pd.read_parquet(out / "sentences.parquet"))
    notes = pd.read_parquet(out / "notes.parquet")
    assert load_dataset(str(out / "dataset"), "notes", split="train", cache_dir=cache).num_rows == len(notes)
    bundles = sorted((out / "fhir").glob("*.json"))
    assert {b.stem for b in bundles} == set(notes.loc[notes["status"] == "ok", "patient_id"])
    for path in bundles:
        bundle = Bundle.model_validate_json(path.read_text())  # FHIR structure: required fields, types
        urls = {e.fullUrl for e in bundle.entry}
        patients = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "Patient"]
        docs = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "DocumentReference"]
        assert len(patients) == 1 and docs
        for doc in docs:
            assert doc.subject.reference in urls  # references resolve inside the bundle
            text = doc.content[0].attachment.data.decode()  # fhir.resources decodes base64Binary
            assert text == notes.set_index("plan_id").loc[doc.id, "text"]


def test_the_default_run_passes_the_release_gate_and_carries_a_dataset_card(small_run):
    from huggingface_hub import DatasetCard

    config, out = small_run
    privacy = read_json(out / "metrics.json")["privacy"]
    results = {c["check"]: c["result"] for c in privacy["checks"]}
    assert privacy["passed"] and results["membership inference AUC"] == "pass"
    assert results["timeline linkage"] == "not applicable"  # the pack's model, no real store: the card says why
    assert "no trajectory store (trajectories.store is not set)" in card_text(out)
    assert read_json(out / "manifest.json")["stages"]["export"]["release"] == {"failed_checks": [], "override": None}
    card = DatasetCard.load(out / "dataset" / "README.md")
    assert card.data.dualalign["model"] == "embedded:smollm2-135m-instruct"
    assert card.data.dualalign["privacy_checks_passed"] is True
    assert {c["config_name"] for c in card.data.configs} == {"sentences", "notes"}
    assert "| membership inference AUC | profiles |" in card.text and "## Intended use" in card.text
    assert (out / "private" / "synthesizer.pkl").is_file()  # real-data-derived: kept apart, never exported
    exported = [p.name for d in ("dataset", "fhir") for p in (out / d).rglob("*")]
    assert not [n for n in exported if n.endswith(".pkl")]
    assert "Privacy: the release gate" in (out / "report.html").read_text()


def card_text(out) -> str:
    return (out / "dataset" / "README.md").read_text()


@pytest.mark.parametrize("damage", ["delete metrics.json", "corrupt cohort_report.json"])
def test_a_check_whose_input_is_gone_blocks_the_export_and_is_named(small_run, tmp_path, damage):
    """The audit's reproduction: a finished run folder loses a check's input; evaluate and export again from the
    folder's own config: the export is blocked, the check named, and the earlier export removed."""
    _, out = small_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    assert (copy / "dataset").is_dir()
    if damage == "delete metrics.json":
        (copy / "metrics.json").unlink()
        named = ["timeline linkage (trajectories): not measured: metrics.json has no trajectories figures"]
    else:
        (copy / "cohort_report.json").write_text('{"privacy": {"membership_infer')
        named = [f"{check} (profiles): not measured: cohort_report.json cannot be read" for check in
                 ("membership inference AUC", "exact copies of reference rows", "attribute disclosure protection")]
    result = subprocess.run([*CLI, "run", str(copy / "config.yaml"), "--stages", "evaluate,export", "--force"],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path.parent)  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    for line in named:
        assert line in result.stderr
    assert "Traceback" not in result.stderr
    assert not (copy / "dataset").exists() and not (copy / "fhir").exists()
    assert read_json(copy / "release.json")["passed"] is False  # evaluated in the folder of its config


def test_a_leaky_store_fails_the_gate_exports_nothing_and_an_override_is_recorded(tmp_path, vllm_engine):
    """Trajectories copied from a store without jitter link every patient to a stored timeline: the export stage
    stops, naming the check, and writes nothing; with an override it exports and records why."""
    from huggingface_hub import DatasetCard

    from dualalign.eval.release import ReleaseBlocked
    from dualalign.trajectories.store import TrajectoryStore

    pack = load_pack("alzheimers")
    store = tmp_path / "store.parquet"
    TrajectoryStore.from_model(pack, 30, seed=1).table.to_parquet(store)
    data = small_config(tmp_path / "run", variants=["guided"])
    data["cohort"]["n_profiles"] = 3
    data["trajectories"] = {"store": str(store), "day_jitter": 0, "embedding_weight": 0.0}
    config = RunConfig.model_validate(data)
    with pytest.raises(ReleaseBlocked, match=r"timeline linkage \(trajectories\): 1, needs <= 0.05"):
        Pipeline(config, progress=False, engine=vllm_engine).run_all()
    assert not (tmp_path / "run" / "dataset").exists() and not (tmp_path / "run" / "fhir").exists()
    assert (tmp_path / "run" / "report.html").is_file()  # the report shows the failed check for review
    Pipeline(config, progress=False, engine=vllm_engine, release_override="reviewed: test data").run_all()
    record = read_json(tmp_path / "run" / "manifest.json")["stages"]["export"]["release"]
    assert record == {"failed_checks": ["timeline linkage"], "override": "reviewed: test data"}
    card = DatasetCard.load(tmp_path / "run" / "dataset" / "README.md")
    assert card.data.dualalign["release_override"] == "reviewed: test data"
    assert "Released under an override" in card.text


def test_unchanged_stages_are_skipped_and_changed_ones_rerun(small_run, vllm_engine):
    config, out = small_run
    before = read_json(out / "manifest.json")["stages"]
    Pipeline(config, progress=False, engine=vllm_engine).run_all()
    after = read_json(out / "manifest.json")["stages"]
    assert all(after[s]["finished"] == before[s]["finished"] for s in before)
    data = config.model_dump(mode="json")
    data["alignment"]["variants"] = ["guided"]
    changed = RunConfig.model_validate(data)
    Pipeline(changed, progress=False, engine=vllm_engine).run_all(("cohort", "trajectories", "plans"))
    rerun = read_json(out / "manifest.json")["stages"]
    assert rerun["cohort"]["finished"] == before["cohort"]["finished"]
    assert rerun["plans"]["key"] != before["plans"]["key"]
    assert {p.variant for p in read_plans(out / "plans.jsonl")} == {"guided"}


def test_killed_run_resumes_with_every_request_exactly_once(tmp_path):
    config_path = tmp_path / "config.yaml"
    # exactly-once is about the file, not the text: one candidate per plan keeps the run short
    config_path.write_text(yaml.safe_dump(small_config(tmp_path / "run", chunk_size=8, max_notes_per_patient=2,
                                                       gate={"candidates": 1, "rounds": 0})))  # fmt: skip
    command = [*CLI, "run", str(config_path)]
    generations = tmp_path / "run" / GENERATIONS
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if generations.exists() and len(generations.read_text().splitlines()) >= 8:
            break
        time.sleep(0.5)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    written = len(read_jsonl(generations))
    plans = read_plans(tmp_path / "run" / "plans.jsonl")
    assert 8 <= written < len(plans)
    finished = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stderr[-2000:]
    ids = [r["id"] for r in read_jsonl(generations)]
    assert len(ids) == len(set(ids)) == len(plans)
    assert set(ids) == {p.id for p in plans}


def reviewable_copy(out, tmp_path, **review) -> tuple:
    """A copy of the run whose config turns the review checks on with `review`; returns its folder and config."""
    from dualalign.pipeline.runconfig import load_config

    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    data = yaml.safe_load((copy / "config.yaml").read_text())
    data["review"] = {"required": True, **review}
    (copy / "config.yaml").write_text(yaml.safe_dump(data))
    return copy, load_config(copy / "config.yaml")


def test_review_checks_block_the_release_until_reviewed_and_approve_signs_it_off(small_run, tmp_path):
    from huggingface_hub import DatasetCard

    from dualalign.eval.release import ReleaseBlocked
    from dualalign.eval.review import record_verdict, run_review_figures

    copy, config = reviewable_copy(small_run[1], tmp_path, min_reviewed=3, max_implausible_share=0.34)
    run = Pipeline(config, progress=False, save_config=False)
    with pytest.raises(ReleaseBlocked, match=r"items reviewed \(review\): 0, needs >= 3 \(review.min_reviewed\)"):
        run.run_all(("export",))
    assert not (copy / "dataset").exists()
    sentences = pd.read_parquet(copy / "sentences.parquet").head(4)
    for sid, text in zip(sentences["sentence_id"][:3], sentences["text"][:3]):
        record_verdict(run.run, "Dr. Okafor", sid, text, "plausible")
    run.run_all(("export",))  # review.jsonl is an input of the export: it runs again and passes
    card = DatasetCard.load(copy / "dataset" / "README.md")
    assert "3 sentences reviewed by Dr. Okafor" in card.text and "Not signed off" in card.text
    record_verdict(run.run, "Dr. Lund", sentences["sentence_id"][3], sentences["text"][3], "unsafe", "other")
    with pytest.raises(ReleaseBlocked, match=r"items marked unsafe \(review\): 1, needs <= 0"):
        run.run_all(("export",))
    approve = [*CLI, "approve", str(copy), "--by", "Dr. Okafor", "--note", "read 4 items"]
    refused = subprocess.run(approve, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and "items marked unsafe (review): 1, needs <= 0" in refused.stderr
    assert "approvals" not in read_json(copy / "manifest.json")
    record_verdict(run.run, "Dr. Lund", sentences["sentence_id"][3], sentences["text"][3], "plausible")
    done = subprocess.run(approve, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [a["by"] for a in read_json(copy / "manifest.json")["approvals"]] == ["Dr. Okafor"]
    card = DatasetCard.load(copy / "dataset" / "README.md")
    assert card.data.dualalign["approved_by"] == "Dr. Okafor"
    assert 'Approved for release by Dr. Okafor' in card.text and "| items marked unsafe | review |" in card.text
    assert "Approved for release by Dr. Okafor" in (copy / "report.html").read_text()
    # the first reviewed sentence is generated again (its text changes): its verdict and the sign-off lapse
    table = pd.read_parquet(copy / "sentences.parquet")
    table.loc[table["sentence_id"] == sentences["sentence_id"][0], "text"] = "A regenerated sentence about memory."
    table.to_parquet(copy / "sentences.parquet", index=False)
    figures = run_review_figures(run.run)
    assert (figures["reviewed"], figures["stale"]) == (3, 1)
    run.run_all(("export",))  # 3 items still reviewed: it passes, but the sign-off was of the earlier texts
    card = DatasetCard.load(copy / "dataset" / "README.md")
    assert card.data.dualalign["approved_by"] is None and "Not signed off" in card.text
    assert "1 verdicts no longer count: their text has been regenerated since" in card.text


CHROMIUM = "/usr/bin/chromium"  # Debian's chromium (`.ci/run` and `make setup` install it); no browser download
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


def review_server(run_dir, port: int) -> subprocess.Popen:
    """`dualalign review` of `run_dir` on `port`, once it answers."""
    import httpx

    server = subprocess.Popen([*CLI, "review", str(run_dir), "--reviewer", "Dr. Okafor", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and server.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/state", timeout=5)
            return server
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    pytest.fail(f"the review server did not start: {server.communicate()[1][-2000:]}")


def test_the_review_page_records_keyboard_verdicts_that_survive_a_reload_and_a_killed_server(small_run, tmp_path):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    from dualalign.generate.server import free_port

    copy = tmp_path / "run"
    shutil.copytree(small_run[1], copy)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = review_server(copy, port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url)
            expect(page.locator("#position")).to_contain_text("Item 1 of ")
            total = page.locator("#position").inner_text().split(" of ")[1]
            expect(page.locator("#progress")).to_have_text(f"0 / {total} reviewed")
            first = page.locator("#text").inner_text()
            page.keyboard.press("p")
            page.keyboard.press("Enter")
            expect(page.locator("#progress")).to_have_text(f"1 / {total} reviewed")
            server.kill()  # between two verdicts, no goodbye: the first must be on disk
            server.wait()
            server = review_server(copy, port)
            page.reload()
            expect(page.locator("#progress")).to_have_text(f"1 / {total} reviewed")
            expect(page.locator("#position")).to_have_text(f"Item 2 of {total}")  # resumes at the first unreviewed
            second = page.locator("#text").inner_text()
            page.keyboard.press("i")
            page.keyboard.press("3")
            page.keyboard.press("c")
            page.keyboard.type("contradicts the stage")
            page.keyboard.press("Escape")
            page.keyboard.press("Enter")
            expect(page.locator("#progress")).to_have_text(f"2 / {total} reviewed")
            page.reload()
            expect(page.locator("#progress")).to_have_text(f"2 / {total} reviewed")
            expect(page.locator("#position")).to_have_text(f"Item 3 of {total}")
            page.keyboard.press("ArrowLeft")  # back to the second: the page shows what was said
            expect(page.locator("#status")).to_contain_text("You said: implausible (clinically absurd)")
            browser.close()
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C stops it cleanly
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err[-2000:]
    assert "stopped; 2 of" in out
    lines = read_jsonl(copy / "review.jsonl")
    texts = pd.read_parquet(copy / "sentences.parquet").set_index("sentence_id")["text"]
    assert [(texts[x["item"]], x["verdict"], x["reason"], x["comment"]) for x in lines] == [
        (first, "plausible", None, None), (second, "implausible", "clinically absurd", "contradicts the stage")]
    assert {x["reviewer"] for x in lines} == {"Dr. Okafor"}
