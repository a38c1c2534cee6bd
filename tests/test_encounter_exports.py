"""An encounters run's exports and report: the `encounters` config of `dataset/`, an FHIR Encounter per record with its
note and transcript, and report.html's random pairs with the planned findings marked. The slow tests share one tiny
run through every stage on the embedded model via vLLM."""

import html
import re

import pandas as pd
import pytest

from dualalign.alignment.dialogue import parse_dialogue, spoken_text
from dualalign.alignment.grounding import term_in_text
from dualalign.eval.report import marked, render_report
from dualalign.io import read_json
from dualalign.pipeline.run import Pipeline
from dualalign.pipeline.runconfig import RunConfig
from dualalign.runfolder import ENCOUNTERS
from dualalign.trajectories import load_pack

PAIRS_PER_VARIANT = 3  # evaluation.examples_per_cell's default


def tiny_config(out_dir) -> dict:
    return {
        "seed": 3,
        "out_dir": str(out_dir),
        "cohort": {"n_profiles": 2, "spec_rows": 1000},
        "alignment": {"granularity": "encounters", "variants": ["guided", "unguided"], "max_notes_per_patient": 1},
        "sampling": {"max_tokens": 64},
    }


def test_encounter_records_are_an_optional_read_of_the_export_and_the_evaluation(tmp_path):
    config = RunConfig.model_validate(tiny_config(tmp_path / "run"))
    stages = {s.name: s for s in Pipeline(config, progress=False).stages()}
    before = {name: stages[name].key() for name in ("evaluate", "export")}
    pd.DataFrame({"encounter_id": ["e1"], "note": ["CHIEF COMPLAINT\n\nCough.\n"]}).to_parquet(
        tmp_path / "run" / ENCOUNTERS)  # fmt: skip
    assert all(stages[name].key() != key for name, key in before.items())


def test_the_conversation_order_is_in_the_keys_of_the_stages_that_write_text_not_of_the_plans(tmp_path):
    def keys(order):
        data = tiny_config(tmp_path / order)
        data["alignment"]["conversation"] = {"order": order}
        return {s.name: s.key() for s in Pipeline(RunConfig.model_validate(data), progress=False).stages()}

    first, second = keys("note_first"), keys("dialogue_first")
    changed = {name for name in first if first[name] != second[name]}
    assert {"generate", "encounters"} <= changed and not changed & {"cohort", "trajectories", "plans"}


def test_marked_escapes_the_text_and_marks_only_realised_findings():
    text = "Patient <b>needs</b> help choosing clothes & mood is fine."
    page = str(marked(text, ["needs help choosing clothes", "mood swings"]))
    assert "&lt;b&gt;" in page and "&amp;" in page and "<b>" not in page
    assert re.findall(r'<mark title="([^"]+)">(\w+)</mark>', page) == [
        ("needs help choosing clothes", w) for w in ("needs", "help", "choosing", "clothes")]  # fmt: skip
    assert html.unescape(re.sub(r"</?mark[^>]*>", "", page)) == text  # "mood" alone does not realise "mood swings"


def test_a_finding_said_in_lay_words_is_marked_with_its_term():
    term = "spouse reports repeated questions"
    lay = load_pack("alzheimers").lay_words[term]
    text = f"Patient: Yes, my wife says I {lay[0]}. Questions are fine."
    page = str(marked(text, [term], {term: lay}))
    assert {t for t, _ in re.findall(r'<mark title="([^"]+)">([^<]+)</mark>', page)} == {term}
    assert html.unescape(re.sub(r"</?mark[^>]*>", "", page)) == text
    assert "<mark" not in str(marked(text, [term]))  # not without its lay words


@pytest.fixture(scope="module")
def encounter_run(tmp_path_factory, vllm_engine):
    """The tiny run through export; under an override, as two profiles may not pass the cohort's privacy checks."""
    out = tmp_path_factory.mktemp("encounter-exports")
    config = RunConfig.model_validate(tiny_config(out))
    Pipeline(config, progress=False, engine=vllm_engine, release_override="test: a two-profile run").run_all()
    return out, pd.read_parquet(out / ENCOUNTERS)


@pytest.mark.slow
def test_the_dataset_holds_every_encounter_record_as_a_config_its_card_describes(encounter_run, tmp_path):
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    out, table = encounter_run
    assert len(table) == 2 * 2  # two patients, one visit, two variants
    dataset = load_dataset(str(out / "dataset"), "encounters", split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert dataset.num_rows == len(table) and set(dataset.column_names) == set(table.columns)
    by_id = table.set_index("encounter_id")
    for row in dataset:
        record = by_id.loc[row["encounter_id"]]
        for column in ("variant", "note", "conversation", "status", "note_status", "conversation_status", "stage"):
            assert row[column] == record[column], column
        assert row["visit_date"] == str(record["visit_date"])
        assert row["planned"] == [dict(m) for m in record["planned"]]
        assert [s["section"] for s in row["sections"]] == [s["section"] for s in record["sections"]]
        assert row["gate_reasons"] == list(record["gate_reasons"])
        assert row["status"] == "ok" or row["gate_reasons"]
    card = DatasetCard.load(out / "dataset" / "README.md")
    assert {c["config_name"] for c in card.data.configs} == {"sentences", "notes", "encounters"}
    assert "## Encounters" in card.text
    for variant, rows in table.groupby("variant"):
        counts = [len(rows), (rows["note_status"] == "ok").sum(), (rows["conversation_status"] == "ok").sum(),
                  (rows["status"] == "ok").sum()]  # fmt: skip
        assert f"| {variant} | " + " | ".join(map(str, counts)) + " |" in card.text


@pytest.mark.slow
def test_fhir_has_an_encounter_per_record_with_its_accepted_note_and_transcript(encounter_run):
    from fhir.resources.R4B.bundle import Bundle

    out, table = encounter_run
    written = table[(table["note_status"] == "ok") | (table["conversation_status"] == "ok")]
    assert len(written) >= 1
    encounters, documents = {}, {}
    for path in sorted((out / "fhir").glob("*.json")):
        bundle = Bundle.model_validate_json(path.read_text())  # FHIR R4 structure: required fields, types, codes
        urls = {e.fullUrl: e.resource for e in bundle.entry}
        (patient_url,) = [u for u, r in urls.items() if r.get_resource_type() == "Patient"]
        assert urls[patient_url].id == path.stem
        for url, resource in urls.items():
            kind = resource.get_resource_type()
            if kind == "Encounter":
                assert resource.subject.reference == patient_url and resource.status == "finished"
                assert resource.class_fhir.code == "AMB"
                encounters[resource.id] = url
            elif kind == "DocumentReference":
                (context,) = resource.context.encounter  # every text belongs to its visit
                assert urls[context.reference].get_resource_type() == "Encounter"
                assert resource.subject.reference == patient_url
                documents[resource.id] = (resource, urls[context.reference].id)
    assert set(encounters) == set(written["encounter_id"])
    for record in written.to_dict("records"):
        for kind, text, status, code in (("note", record["note"], record["note_status"], "11506-3"),
                                         ("transcript", record["conversation"], record["conversation_status"],
                                          "34109-9")):  # fmt: skip
            doc_id = f"{record['encounter_id']}-{kind}"
            assert (doc_id in documents) == (status == "ok")
            if status == "ok":
                doc, encounter_id = documents[doc_id]
                assert encounter_id == record["encounter_id"]
                assert doc.type.coding[0].system == "http://loinc.org" and doc.type.coding[0].code == code
                assert doc.content[0].attachment.data.decode() == text  # fhir.resources decodes base64Binary
    assert len(documents) == (written["note_status"] == "ok").sum() + (written["conversation_status"] == "ok").sum()


@pytest.mark.parametrize("order, heading", [("note_first", "notes and the conversations written from them"),
                                             ("dialogue_first", "conversations and the notes written from them")])
def test_the_report_says_which_was_written_first(tmp_path, order, heading):
    figures = {"guided": {"encounters": 2, "order": order, "accepted": 1, "part_rejections_by_reason": {"phi": 1}}}
    page = render_report({"encounters": figures}, {}, {}, None, tmp_path / "report.html").read_text()
    assert f"<h2>Encounters: {heading}</h2>" in page and order not in page


@pytest.mark.slow
def test_the_report_shows_random_pairs_with_their_realised_findings_marked(encounter_run):
    out, table = encounter_run
    page = (out / "report.html").read_text()
    assert "Encounters: notes and the conversations written from them" in page
    figures = read_json(out / "metrics.json")["encounters"]
    assert {f["order"] for f in figures.values()} == {"note_first"}
    assert set(figures) == set(table["variant"])
    written = table[(table["note"] != "") & (table["conversation"] != "")]
    blocks = re.findall(r'<div class="pair">(.*?)<div class="pair-findings">', page, flags=re.S)
    assert len(blocks) == sum(min(PAIRS_PER_VARIANT, n) for n in written.groupby("variant").size())
    for block in blocks:
        note_html, conversation_html = re.findall(r'<p class="pair-text">(.*?)</p>', block, flags=re.S)
        plain = [html.unescape(re.sub(r"</?(mark|b)[^>]*>", "", t)) for t in (note_html, conversation_html)]
        (record,) = [r for r in written.to_dict("records") if [r["note"], r["conversation"]] == plain]
        terms = [m["term"] for m in record["planned"]]
        for text, shown, judged in ((record["note"], note_html, record["note"]),
                                    (record["conversation"], conversation_html,
                                     spoken_text(parse_dialogue(record["conversation"])))):  # fmt: skip
            marks = re.findall(r'<mark title="([^"]+)">([^<]+)</mark>', shown)
            assert {t for titles, _ in marks for t in html.unescape(titles).split("; ")} <= set(terms)
            for term in terms:
                if term_in_text(term, judged):
                    assert any(term in html.unescape(titles) for titles, _ in marks), (term, text)



@pytest.mark.slow
def test_a_reviewed_section_shows_its_encounters_whole_note_and_conversation(encounter_run):
    from dualalign.eval.review import review_items
    from dualalign.runfolder import RunFolder
    from dualalign.trajectories import load_pack

    out, table = encounter_run
    items = review_items(RunFolder(out), load_pack("alzheimers"), threshold=0.3)
    assert len(items) == sum(s["status"] == "ok" for sections in table["sections"] for s in sections)
    by_key = table.set_index(["note_id", "variant"])
    for item in items.to_dict("records"):
        record = by_key.loc[(item["note_id"], item["variant"])]
        assert item["text"] in record["note"]  # the section, inside the note shown beside it
        assert item["note"] == record["note"]
        assert item["conversation"] == (record["conversation"] or None)
