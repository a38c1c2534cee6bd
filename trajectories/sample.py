"""Trajectories from the pack's model: stage timelines, dated visits and planned mentions, one row per note."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dualalign.trajectories.mentions import (
    draw_mention_counts,
    label_multipliers,
    label_probabilities,
    mention_lists,
    plan_mentions,
)
from dualalign.trajectories.pack import ConditionPack
from dualalign.trajectories.profiles import check_profiles
from dualalign.trajectories.stages import DAYS_PER_YEAR, StageTimelines, sample_timelines
from dualalign.trajectories.visits import sample_visits

NOTE_COLUMNS = ["patient_id", "note_id", "visit_day", "age_at_visit", "note_type", "stage", "mentions"]


@dataclass
class SampledTrajectories:
    notes: pd.DataFrame  # one row per note, NOTE_COLUMNS
    timelines: StageTimelines  # the stage timelines the notes were dated against


def note_ids(patient_ids: np.ndarray, patient_index: np.ndarray) -> list[str]:
    """Stable ids "P00001-N001" numbering each patient's notes in order (patient_index sorted)."""
    first = np.searchsorted(patient_index, patient_index, side="left")
    seq = np.arange(len(patient_index)) - first + 1
    return [f"{p}-N{i:03d}" for p, i in zip(patient_ids[patient_index].tolist(), seq.tolist())]


def sample_from_model(
    profiles: pd.DataFrame,
    pack: ConditionPack,
    *,
    years_before: float = 10.0,
    years_after: float = 0.0,
    mention_multiplier: float = 1.0,
    seed: int = 0,
) -> SampledTrajectories:
    """Sample every profile's notes from the pack's stage, visit and mention models (vectorised)."""
    profiles = check_profiles(profiles)
    rng_stage, rng_visit, rng_mention = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    timelines = sample_timelines(profiles, pack, rng_stage)
    pid, day, typ = sample_visits(pack, len(profiles), years_before, years_after, timelines.death_years, rng_visit)
    stage = timelines.stage_at(pid, day / DAYS_PER_YEAR)
    probs = label_probabilities(pack, stage, label_multipliers(profiles, pack)[pid])
    counts = draw_mention_counts(pack, stage, mention_multiplier, rng_mention)
    note, term = plan_mentions(pack, stage, probs, counts, rng_mention)
    ids = profiles["patient_id"].to_numpy()
    notes = pd.DataFrame(
        {
            "patient_id": ids[pid],
            "note_id": note_ids(ids, pid),
            "visit_day": day,
            "age_at_visit": profiles["age"].to_numpy()[pid] + day / DAYS_PER_YEAR,
            "note_type": np.array([n.id for n in pack.note_types], dtype=object)[typ],
            "stage": np.array(pack.stage_ids, dtype=object)[stage],
            "mentions": mention_lists(pack, len(pid), note, term, rng_mention),
        }
    )
    return SampledTrajectories(notes, timelines)
