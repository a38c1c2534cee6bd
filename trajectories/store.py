"""The trajectory store: real (or model-made) patient trajectories, indexed for nearest-patient retrieval.

Table format (CSV or Parquet), one row per planned mention, or per note without mentions:

| column | type | meaning |
|---|---|---|
| patient_id | str | the stored patient |
| visit_day | int | days relative to diagnosis (negative before) |
| note_type | str | e.g. primary_care, neurology |
| stage | str | one of the pack's stage ids |
| label | str or empty | one of the pack's labels; empty for a note without mentions |
| term | str or empty | the symptom as written (lexicon term or not) |
| note_id | str, optional | groups rows into notes; default: one note per (patient, day, note type) |
| domain | str, optional | default: the lexicon's domain of the term, else "" |
| age | number | age at diagnosis |
| sex | "F"/"M", optional | |
| <risk factor> | bool, optional | any of the pack's risk factors (depression, hypertension, ...) |
| stage_at_diagnosis | str, optional | default: the stage of the last note on or before day 0 |

Retrieval score for a profile and a stored patient: (1 - w) * profile similarity + w * cosine similarity of
MiniLM embeddings (profile text vs. the patient's trajectory summary). Profile similarity is the mean of
exp(-|age difference| / 5), sex match, the share of the pack's risk factors that agree, and (when the profile
gives one) stage-at-diagnosis match.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dualalign.encoders import load_sentence_encoder
from dualalign.errors import DataError
from dualalign.trajectories.mentions import draw_terms, label_multipliers, label_probabilities
from dualalign.trajectories.pack import ConditionPack
from dualalign.trajectories.profiles import check_profiles, demo_profiles, risk_matrix
from dualalign.trajectories.sample import DAYS_PER_YEAR, NOTE_COLUMNS, note_ids, sample_from_model

TABLE_COLUMNS = ["patient_id", "visit_day", "note_type", "stage", "label", "term"]
AGE_SCALE = 5.0
SUMMARY_TERMS_PER_STAGE = 4
QUERY_CHUNK = 1024


def profile_text(row: dict[str, Any], risk_names: list[str]) -> str:
    """A one-line description of a profile, the query side of the embedding index."""
    who = {"F": "Woman", "M": "Man"}.get(str(row.get("sex")), "Patient")
    factors = [n.replace("_", " ") for n in risk_names if bool(row.get(n)) and not pd.isna(row.get(n))]
    return f"{who} aged {round(float(row['age']))} at diagnosis with " + (", ".join(factors) or "no risk factors") + "."


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such trajectory table")
    if path.suffix.lower() in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    raise DataError(f"{path}: a trajectory table must be .csv or .parquet")


def notes_to_table(notes: pd.DataFrame, profiles: pd.DataFrame) -> pd.DataFrame:
    """Sampled notes (one row per note) -> the store's table format (one row per mention) with profile columns."""
    exploded = notes.explode("mentions", ignore_index=True)
    m = exploded["mentions"]
    has = m.map(lambda x: isinstance(x, dict))
    table = exploded[["patient_id", "note_id", "visit_day", "note_type", "stage"]].copy()
    for key in ("label", "term", "domain"):
        table[key] = [x[key] if h else None for x, h in zip(m, has)]
    return table.merge(profiles, on="patient_id", how="left", validate="many_to_one")


class TrajectoryStore:
    """Stored trajectories: `notes` (one row per note) and `patients` (one row per patient, with summaries)."""

    def __init__(self, table: pd.DataFrame, pack: ConditionPack, source: str = "trajectory table"):
        self.pack = pack
        self.source = source
        self.table = self._check(table)
        self.notes = self._group_notes(self.table)
        self.patients = self._patients(self.table, self.notes)
        self.encoder: Any = None
        self.embeddings_: np.ndarray | None = None

    # construction -----------------------------------------------------------------------------------------
    @classmethod
    def read(cls, path: str | Path, pack: ConditionPack) -> TrajectoryStore:
        return cls(read_table(path), pack, str(path))

    @classmethod
    def from_model(
        cls,
        pack: ConditionPack,
        n: int,
        seed: int = 0,
        years_before: float = 10.0,
        years_after: float = 0.0,
        profiles: pd.DataFrame | None = None,
    ) -> TrajectoryStore:
        """A store filled from the pack's model, for when no real trajectories exist."""
        profiles = demo_profiles(pack, n, seed) if profiles is None else check_profiles(profiles)
        notes = sample_from_model(profiles, pack, years_before=years_before, years_after=years_after, seed=seed).notes
        return cls(notes_to_table(notes, profiles), pack, f"pack {pack.name!r} model")

    def _check(self, table: pd.DataFrame) -> pd.DataFrame:
        src = self.source
        for col in (*TABLE_COLUMNS, "age"):
            if col not in table.columns:
                raise DataError(f"{src}: missing column {col!r} (needs {', '.join(TABLE_COLUMNS)}, age)")
        t = table.copy()
        t["patient_id"] = t["patient_id"].astype(str)
        day = pd.to_numeric(t["visit_day"], errors="coerce")
        if day.isna().any():
            raise DataError(f"{src}: column 'visit_day' needs an integer day for every row")
        t["visit_day"] = day.round().astype(np.int64)
        for col, known in (("stage", self.pack.stage_ids), ("label", self.pack.label_ids)):
            values = t[col].dropna()
            values = values[values.astype(str) != ""]
            bad = ~values.isin(known)
            if bad.any():
                raise DataError(f"{src}: column {col!r} has unknown value {values[bad].iloc[0]!r} "
                                f"(pack {self.pack.name!r}: {', '.join(known)})")
        t["label"] = t["label"].where(t["label"].notna() & (t["label"].astype(str) != ""), None)
        domain_of = {x.term: x.domain for x in self.pack.lexicon}
        lex_domain = t["term"].map(domain_of)
        t["domain"] = t["domain"].fillna(lex_domain) if "domain" in t.columns else lex_domain
        t["domain"] = t["domain"].fillna("")
        if "note_id" not in t.columns:
            t["note_id"] = t["patient_id"] + "|" + t["visit_day"].astype(str) + "|" + t["note_type"].astype(str)
        per_patient = t.groupby("patient_id")["age"].nunique(dropna=False)
        if (per_patient > 1).any():
            raise DataError(f"{src}: column 'age' differs within patient {per_patient[per_patient > 1].index[0]!r}")
        return t

    @staticmethod
    def _group_notes(t: pd.DataFrame) -> pd.DataFrame:
        t = t.sort_values(["patient_id", "visit_day", "note_id"], kind="stable")
        mentions = [
            {"label": a, "term": b, "domain": c} if a is not None else None
            for a, b, c in zip(t["label"], t["term"].astype(str), t["domain"])
        ]
        grouped = t.assign(_m=mentions).groupby("note_id", sort=False)
        notes = grouped[["patient_id", "visit_day", "note_type", "stage"]].first()
        notes["mentions"] = grouped["_m"].agg(lambda ms: [m for m in ms if m is not None])
        return notes.reset_index(drop=True)

    def _patients(self, t: pd.DataFrame, notes: pd.DataFrame) -> pd.DataFrame:
        cols = ["patient_id", "age"] + [c for c in ("sex", "stage_at_diagnosis", *self.pack.risk_factors)
                                        if c in t.columns]
        patients = t[cols].drop_duplicates("patient_id").set_index("patient_id")
        if "stage_at_diagnosis" not in patients.columns:
            before = notes[notes["visit_day"] <= 0].groupby("patient_id")["stage"].last()
            after = notes[notes["visit_day"] > 0].groupby("patient_id")["stage"].first()
            patients["stage_at_diagnosis"] = before.reindex(patients.index).fillna(after.reindex(patients.index))
        patients["summary"] = self._summaries(t, patients)
        return patients.reset_index()

    def _summaries(self, t: pd.DataFrame, patients: pd.DataFrame) -> list[str]:
        """Profile text plus, per stage, the patient's most frequent terms."""
        m = t[t["label"].notna()]
        counts = m.groupby(["patient_id", "stage", "term"], sort=False).size().reset_index(name="n")
        counts["order"] = counts["stage"].map({s: i for i, s in enumerate(self.pack.stage_ids)})
        counts = counts.sort_values(["patient_id", "order", "n", "term"], ascending=[True, True, False, True])
        top = counts.groupby(["patient_id", "order"], sort=False).head(SUMMARY_TERMS_PER_STAGE)
        parts: dict[str, list[str]] = {}
        for (pid, stage), terms in top.groupby(["patient_id", "stage"], sort=False)["term"]:
            parts.setdefault(pid, []).append(f"{stage.replace('_', ' ')}: " + ", ".join(terms.astype(str)))
        risk = list(self.pack.risk_factors)
        return [profile_text(row, risk) + " Symptoms: " + "; ".join(parts.get(pid, [])) + "."
                for pid, row in zip(patients.index, patients.to_dict("records"))]

    # index and retrieval ----------------------------------------------------------------------------------
    def build_index(self, encoder: Any = None) -> TrajectoryStore:
        """Embed every stored patient's summary (the encoder defaults to the embedded MiniLM)."""
        self.encoder = encoder if encoder is not None else load_sentence_encoder()
        self.embeddings_ = self.encoder.embed(self.patients["summary"].tolist())
        return self

    def profile_similarity(self, profiles: pd.DataFrame) -> np.ndarray:
        """[profile, stored patient] similarity in [0, 1] from age, sex, risk factors and stage at diagnosis."""
        p = self.patients
        age = np.exp(-np.abs(profiles["age"].to_numpy(float)[:, None] - p["age"].to_numpy(float)[None, :]) / AGE_SCALE)
        parts = [age]
        if "sex" in profiles.columns and "sex" in p.columns:
            parts.append((profiles["sex"].astype(str).to_numpy()[:, None] == p["sex"].astype(str).to_numpy()[None, :])
                         .astype(float))
        names = list(self.pack.risk_factors)
        if names:
            a, b = risk_matrix(profiles, names).astype(float), risk_matrix(p, names).astype(float)
            parts.append(1.0 - (a @ (1 - b).T + (1 - a) @ b.T) / len(names))
        sim = sum(parts) / len(parts)
        if "stage_at_diagnosis" in profiles.columns:
            given = profiles["stage_at_diagnosis"].notna().to_numpy()
            match = (profiles["stage_at_diagnosis"].astype(str).to_numpy()[:, None]
                     == p["stage_at_diagnosis"].astype(str).to_numpy()[None, :]).astype(float)
            sim = np.where(given[:, None], (sim * len(parts) + match) / (len(parts) + 1), sim)
        return sim

    def neighbors(
        self,
        profiles: pd.DataFrame,
        k: int = 5,
        embedding_weight: float = 0.3,
        texts: list[str] | None = None,
    ) -> pd.DataFrame:
        """The k best stored patients per profile: query_id, rank (1 = best), patient_id, scores.

        The embedding query is the profile's text, or `texts` (one per profile, a symptom description, say)
        when given; the profile similarity always comes from the profile.
        """
        profiles = check_profiles(profiles)
        emb_all = None
        if embedding_weight > 0:
            if self.embeddings_ is None:
                self.build_index()
            queries = [profile_text(r, list(self.pack.risk_factors)) for r in profiles.to_dict("records")]
            if texts is not None:
                queries = [f"Symptoms: {t}" for t in texts]
            emb_all = self.encoder.embed(queries)
        k = min(k, len(self.patients))
        chunks = []
        for a in range(0, len(profiles), QUERY_CHUNK):
            part = profiles.iloc[a : a + QUERY_CHUNK]
            prof = self.profile_similarity(part)
            emb = emb_all[a : a + QUERY_CHUNK] @ self.embeddings_.T if emb_all is not None else np.zeros_like(prof)
            score = (1 - embedding_weight) * prof + embedding_weight * emb
            top = np.argsort(-score, axis=1, kind="stable")[:, :k]
            q = np.repeat(np.arange(len(part)), k)
            j = top.ravel()
            chunks.append(pd.DataFrame({
                "query_id": part["patient_id"].to_numpy()[q],
                "rank": np.tile(np.arange(1, k + 1), len(part)),
                "patient_id": self.patients["patient_id"].to_numpy()[j],
                "score": score[q, j],
                "profile_similarity": prof[q, j],
                "embedding_similarity": emb[q, j],
            }))
        return pd.concat(chunks, ignore_index=True)

    # sampling ---------------------------------------------------------------------------------------------
    def sample(
        self,
        profiles: pd.DataFrame,
        *,
        k: int = 5,
        embedding_weight: float = 0.3,
        years_before: float = 10.0,
        years_after: float = 0.0,
        mention_multiplier: float = 1.0,
        day_jitter: int = 0,
        seed: int = 0,
    ) -> pd.DataFrame:
        """Per profile, copy the trajectory of one of its k nearest stored patients (drawn by score).

        Visit days stay relative to diagnosis and ages follow the profile; notes outside the window are dropped.
        Each visit day then moves by a whole number of days drawn from [-day_jitter, day_jitter] (kept inside the
        window), so that a copied timeline stops being the stored patient's (see `linkage`). A mention
        multiplier other than 1 thins or tops up each note's mentions from the pack's model.
        """
        profiles = check_profiles(profiles)
        rng = np.random.default_rng(seed)
        nb = self.neighbors(profiles, k, embedding_weight)
        score = nb["score"].to_numpy().reshape(len(profiles), -1).clip(min=1e-9)
        pick = (rng.random(len(profiles))[:, None] > np.cumsum(score / score.sum(1, keepdims=True), axis=1)).sum(1)
        pick = np.minimum(pick, score.shape[1] - 1)
        chosen = nb["patient_id"].to_numpy().reshape(len(profiles), -1)[np.arange(len(profiles)), pick]
        notes = self.notes
        lo, hi = np.floor(-years_before * DAYS_PER_YEAR), years_after * DAYS_PER_YEAR
        in_window = notes[(notes["visit_day"] >= lo) & (notes["visit_day"] <= hi)]
        by_patient = in_window.groupby("patient_id").indices
        rows = [by_patient.get(c, np.zeros(0, dtype=np.int64)) for c in chosen]
        pid = np.repeat(np.arange(len(profiles)), [len(r) for r in rows])
        src = in_window.iloc[np.concatenate(rows) if rows else []]
        days = np.clip(src["visit_day"].to_numpy() + rng.integers(-day_jitter, day_jitter + 1, len(src)), lo, hi)
        order = np.lexsort((days, pid))  # a patient's notes in date order again after the jitter
        pid, src, days = pid[order], src.iloc[order], days[order].astype(np.int64)
        ids = profiles["patient_id"].to_numpy()
        out = pd.DataFrame(
            {
                "patient_id": ids[pid],
                "note_id": note_ids(ids, pid),
                "visit_day": days,
                "age_at_visit": profiles["age"].to_numpy()[pid] + days / DAYS_PER_YEAR,
                "note_type": src["note_type"].to_numpy(),
                "stage": src["stage"].to_numpy(),
                "mentions": [list(m) for m in src["mentions"]],
            }
        )
        if mention_multiplier != 1.0:
            out["mentions"] = self._rescale(out, profiles, pid, mention_multiplier, rng)
        return out[NOTE_COLUMNS]

    def linkage(self, notes: pd.DataFrame, years_before: float = 10.0, years_after: float = 0.0) -> float:
        """The share of sampled patients in `notes` whose timeline (visit days and note types) is identical to a
        stored patient's timeline in the same window: the timelines an attacker holding the real records could
        link back to a person."""
        lo, hi = np.floor(-years_before * DAYS_PER_YEAR), years_after * DAYS_PER_YEAR
        stored = self.notes[(self.notes["visit_day"] >= lo) & (self.notes["visit_day"] <= hi)]
        real = set(_timelines(stored).values)
        sampled = _timelines(notes)
        return float(sampled.isin(real).mean()) if len(sampled) else 0.0

    def _rescale(
        self, out: pd.DataFrame, profiles: pd.DataFrame, pid: np.ndarray, mult: float, rng: np.random.Generator
    ) -> list[list[dict]]:
        """Scale each note's mention count by `mult` (stochastic rounding): keep a random subset, or add terms
        drawn from the pack's model for the note's stage, never repeating a term already in the note."""
        pack = self.pack
        have = out["mentions"].map(len).to_numpy()
        want = np.floor(have * mult + rng.random(len(have))).astype(np.int64)
        mentions = [rng.permutation(np.array(m, dtype=object))[:w].tolist() if w < len(m) else list(m)
                    for m, w in zip(out["mentions"], want)]
        extra = np.maximum(want - have, 0)
        stage = out["stage"].map({s: i for i, s in enumerate(pack.stage_ids)}).to_numpy()
        probs = label_probabilities(pack, stage, label_multipliers(profiles, pack)[pid])
        term_index = {t.term: i for i, t in enumerate(pack.lexicon)}
        pairs = [(i, term_index[m["term"]]) for i, ms in enumerate(out["mentions"]) for m in ms
                 if m["term"] in term_index]
        exclude = tuple(np.array(x, dtype=np.int64) for x in zip(*pairs)) if pairs else None
        note, term = draw_terms(pack, stage, rng.multinomial(extra, probs), rng, exclude)
        for i, j in zip(note.tolist(), term.tolist()):
            t = pack.lexicon[j]
            mentions[i].append({"label": t.label, "term": t.term, "domain": t.domain})
        return mentions


def _timelines(notes: pd.DataFrame) -> pd.Series:
    """Per patient, the sorted (visit day, note type) pairs of its notes, as one hashable tuple."""
    pairs = pd.Series(list(zip(notes["visit_day"].astype(int), notes["note_type"].astype(str))), index=notes.index)
    return pairs.groupby(notes["patient_id"]).agg(lambda p: tuple(sorted(p)))
