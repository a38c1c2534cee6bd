"""The quality gate on real failures of the embedded model (quoted in issue 9 and the generation findings), with the
real MiniLM encoder: each rule rejects its failure kind and lets ordinary clinical text through."""

import pytest

from dualalign.alignment.config import GateConfig, GroundingConfig
from dualalign.alignment.gate import REASONS, QualityGate, Target
from dualalign.trajectories import load_pack

CLINICAL = Target("unguided", "cognitive_impairment")
GUIDED = Target("guided", "cognitive_impairment", ("word-finding difficulty",))
PATIENT = Target("unguided", "psoriasis", patient_voice=True)


@pytest.fixture(scope="module")
def alzheimers():
    return QualityGate(load_pack("alzheimers"), GroundingConfig(), GateConfig(),
                       references=["She was seen in clinic for a routine follow up of her blood pressure today."])


@pytest.fixture(scope="module")
def symptoms():
    return QualityGate(load_pack("symptom2disease"), GroundingConfig(), GateConfig())


@pytest.mark.parametrize("text, reason", [
    ("92011-01-10-01-01-29.JPG", "too_short"),
    ("...", "too_short"),
    ("furthermore.", "too_short"),
    ("Name: [X] Title: [X] Date: [Date] Description: [X]", "placeholder"),
    ("Today the patient is taking vimodipine for several years and is now taking atorv\ufffd.", "garbled"),
    ("The patient <name> reports trouble finding words during conversation.", "placeholder"),
    ("2. Family disinhibition: he says odd things to strangers at the store", "list_or_heading"),
    ("Assessment of memory and language in the clinic today:", "list_or_heading"),
    ("The scan image is attached as scan_92011-01-10.jpg for review by the team.", "file_or_address"),
    ("12-year-old black female, 2015, seen in the neurology clinic for memory.", "date_or_number"),
    ("Seen on 03/14/2021 with worsening memory and trouble with word finding.", "date_or_number"),
    ("This is a response from the text of the Neurology Clinic notes in the format of JSON.", "task_talk"),
    ("Here are the findings from the visit with the patient and her daughter today.", "task_talk"),
    ("5 more sentences, please. 12 Positations of memory loss in the patient.", "task_talk"),
    ("Review of systems is 1st paragraph of the note for this patient.", "task_talk"),
    ("I'm sorry for the inconvenience, but I'm afraid I'm unable to provide that information.", "refusal"),
    ("My name is Emily and I have been forgetting appointments for months now.", "phi"),
    ("Mrs. Johnson has been forgetting her appointments for several months now.", "phi"),
    ("Cognitive impairment in a patient with Alzheimer's disease, cognitive impairment symptom.", "label_echo"),
    ("18 years of age, and 4,000,000 sq ft of experience in neurology in California.", "date_or_number"),
    ("A patient named Alex has trouble remembering where he parked his car.", "phi"),
    ("I'm not sure what's going on with her memory, but I am concerned about her.", "wrong_voice"),
])  # fmt: skip
def test_surface_rules_reject_the_failures_seen(alzheimers, text, reason):
    assert alzheimers.judge([text], CLINICAL)[0].reason == reason


@pytest.mark.parametrize("text, reason", [
    ("I am a doctor and I see many patients with red itchy patches on their skin.", "role_confusion"),
    ("Psoriasis", "too_short"),
    ("My neck hurts when I turn it. Don't say I have to refer to the illness, the doctor said.", "task_talk"),
    ("My main problem is feeling unwell, and the itchy rash. Do not say I am sick. I'm just going through it.",
     "task_talk"),
    ("You look like you're going to have a sore on the ankle, and you have got something on the leg.", "wrong_voice"),
])  # fmt: skip
def test_patient_voice_rules(symptoms, text, reason):
    target = PATIENT if "neck" not in text else Target("unguided", "cervical_spondylosis", patient_voice=True)
    assert symptoms.judge([text], target)[0].reason == reason


def test_a_text_that_reads_the_prompt_back_is_an_echo(alzheimers):
    prompt = ("The patient is a 67-year-old white man. He has Alzheimer's disease, now at the mild cognitive "
              "impairment stage. Write one sentence of a neurology clinic note describing cognitive impairment.")
    target = Target("guided", "cognitive_impairment", ("forgets recent conversations",), prompt=prompt)
    echo = "This is a 67-year-old white man with Alzheimer's disease, now at the mild cognitive impairment stage."
    assert alzheimers.judge([echo], target)[0].reason == "prompt_echo"
    own = "He forgets recent conversations with his wife and asks the same question within minutes."
    assert alzheimers.judge([own], target)[0].passed


def test_saying_long_planned_terms_is_not_an_echo(symptoms):
    """Seen in the embedded model's replies: a planned term of six words or two terms in a row are the task."""
    terms = ("feeling of pressure in my head", "pain on one side of my head")
    prompt = f"In 2 or 3 sentences, tell the doctor about your symptoms, mentioning: {', '.join(terms)}."
    target = Target("guided", "migraine", terms, patient_voice=True, prompt=prompt)
    said = ("I'm really bothered by feeling of pressure in my head and pain on one side of my head, and bright light "
            "makes it much worse.")  # fmt: skip
    assert symptoms.judge([said], target)[0].passed
    echo = "I want to tell the doctor about your symptoms, mentioning my worst days."
    assert symptoms.judge([echo], target)[0].reason == "prompt_echo"


def test_a_patient_who_names_the_diagnosis_keeps_the_symptoms_without_the_name(symptoms):
    neck = Target("unguided", "cervical_spondylosis", patient_voice=True)
    said = symptoms.judge(["I'm just experiencing neck pain due to neck Spondylosis and dizziness when I turn."], neck)
    assert said[0].passed
    assert said[0].text == "I'm just experiencing neck pain due to neck this and dizziness when I turn."
    named = symptoms.judge(["I'm experiencing psoriasis on my elbows and it has been getting worse lately."], PATIENT)
    assert "psoriasis" not in named[0].text.lower()


def test_copies_of_pack_examples_and_references_are_rejected(alzheimers):
    example = load_pack("alzheimers").labels["concern_by_others"].examples[0]
    assert alzheimers.judge([example], CLINICAL)[0].reason == "copy"
    near = "Today she was seen in clinic for a routine follow up of her blood pressure and memory."
    assert alzheimers.judge([near], CLINICAL)[0].reason == "copy"  # shares a run of 8+ words with a reference
    # numbers count as words, as in the release gate's copy check: "MoCA 21/30 with deficits in delayed recall and"
    # is a run of 9 shared with a pack example (seen in a demo run that passed the gate and failed the release)
    seen = ("As memory of their past 30 days unfolded, MoCA 21/30 with deficits in delayed recall and delayed "
            "intracranial white matter injury were detected.")
    assert alzheimers.judge([seen], CLINICAL)[0].reason == "copy"


def test_off_label_only_where_a_term_was_planned(alzheimers):
    text = "She has lost eight pounds since the last visit because of a poor appetite."  # physiological changes
    assert alzheimers.judge([text], GUIDED)[0].reason == "off_label"
    assert alzheimers.judge([text], CLINICAL)[0].passed  # an unguided text is not held to a plan it never saw


def test_clinical_text_passes_and_near_duplicates_of_accepted_text_do_not(alzheimers):
    gate = QualityGate(load_pack("alzheimers"), GroundingConfig(), GateConfig())
    good = "He pauses mid-sentence searching for common words and substitutes vague terms like thing."
    verdict = gate.judge([good], GUIDED)[0]
    assert verdict.passed, verdict
    gate.accept(good, "guided")
    again = gate.judge([good, "He often pauses mid-sentence searching for common words and substitutes vague terms "
                              "like thing."], GUIDED)  # fmt: skip
    assert [c.reason for c in again] == ["near_duplicate", "near_duplicate"]
    assert gate.judge([good], CLINICAL)[0].passed  # novelty is per variant


def test_best_of_n_keeps_the_grounded_candidate(alzheimers):
    candidates = alzheimers.judge([
        "Patient was pleasant and cooperative during the visit with her husband today.",
        "She struggles with word-finding difficulty and often cannot name common objects in conversation.",
        "...",
    ], GUIDED)  # fmt: skip
    [best] = alzheimers.choose(candidates, "guided")
    assert "word-finding" in best.text
    assert candidates[2].reason == "too_short"


def test_every_reason_is_named():
    tested = {"too_short", "placeholder", "garbled", "list_or_heading", "file_or_address", "date_or_number",
              "task_talk", "refusal", "phi", "label_echo", "role_confusion", "copy", "off_label",
              "near_duplicate", "wrong_voice", "prompt_echo"}  # fmt: skip
    assert tested <= set(REASONS)


def test_a_reply_cut_off_at_max_tokens_keeps_its_complete_sentences():
    from dualalign.generate.candidates import complete_text
    from dualalign.generate.records import GenerationResult

    cut = GenerationResult(id="a", text="She forgets names of close friends. She also misplaces her keys and",
                           finish_reason="length")  # fmt: skip
    assert complete_text(cut) == "She forgets names of close friends."
    assert complete_text(GenerationResult(id="b", text="She forgets names and", finish_reason="length")) is None
    assert complete_text(GenerationResult(id="c", error="server down")) is None
    assert complete_text(GenerationResult(id="d", text=" Whole reply. ", finish_reason="stop")) == "Whole reply."
    two = GenerationResult(id="e", text="First one. Second one. Third", finish_reason="stop")
    assert complete_text(two, max_sentences=1) == "First one."
    assert complete_text(two) == "First one. Second one. Third"
