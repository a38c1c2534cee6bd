"""Real labelled files: bad ones fail with one clear message; good ones split reproducibly by label."""

import pandas as pd
import pytest

from dualalign.errors import DataError
from dualalign.eval.gold import cap_per_label, read_labelled, stratified_split
from dualalign.trajectories import load_pack


@pytest.fixture(scope="module")
def pack():
    return load_pack("symptom2disease")


def test_public_file_maps_label_names_to_pack_ids(shared_data, pack):
    df = read_labelled(shared_data / "symptom2disease_public.csv", "text", "label", pack)
    assert len(df) == 600
    assert set(df["label"]) == set(pack.label_ids)


def test_bad_files_fail_clearly(tmp_path, pack):
    missing = tmp_path / "absent.csv"
    with pytest.raises(DataError, match="absent.csv: no such file"):
        read_labelled(missing, "text", "label", pack)
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"sentence": ["a"], "label": ["Psoriasis"]}).to_csv(wrong, index=False)
    with pytest.raises(DataError, match="wrong.csv: no column 'text'"):
        read_labelled(wrong, "text", "label", pack)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty.csv: cannot be read"):
        read_labelled(empty, "text", "label", pack)
    header_only = tmp_path / "header.csv"
    header_only.write_text("text,label\n")
    with pytest.raises(DataError, match="no rows"):
        read_labelled(header_only, "text", "label", pack)
    foreign = tmp_path / "foreign.csv"
    pd.DataFrame({"text": ["x", "y"], "label": ["Psoriasis", "Gout"]}).to_csv(foreign, index=False)
    with pytest.raises(DataError, match=r"labels not in pack 'symptom2disease': \['Gout'\]"):
        read_labelled(foreign, "text", "label", pack)


def test_stratified_split_is_seeded_and_keeps_every_label(shared_data, pack):
    df = read_labelled(shared_data / "symptom2disease_public.csv", "text", "label", pack)
    rest, part = stratified_split(df, 0.2, seed=3)
    assert len(part) + len(rest) == 600
    distinct = df.drop_duplicates("text")["label"].value_counts()
    picked = part.drop_duplicates("text")["label"].value_counts()
    assert picked.sort_index().tolist() == (distinct * 0.2).round().astype(int).sort_index().tolist()
    again_rest, again_part = stratified_split(df, 0.2, seed=3)
    assert part.equals(again_part)
    assert not set(part["text"]) & set(rest["text"])  # the file repeats some texts: they stay on one side


def test_cap_per_label_keeps_at_most_n_rows_of_each_label_seeded(shared_data, pack):
    df = read_labelled(shared_data / "symptom2disease_public.csv", "text", "label", pack)
    small = df.drop(df.index[df["label"] == "jaundice"][2:])  # jaundice: 2 rows left, fewer than n
    capped = cap_per_label(small, 3, (0, 1))
    counts = capped["label"].value_counts()
    assert counts["jaundice"] == 2 and (counts.drop("jaundice") == 3).all() and len(counts) == 12
    rows = set(zip(capped["text"], capped["label"], strict=True))
    assert rows <= set(zip(small["text"], small["label"], strict=True))
    assert cap_per_label(small, 3, (0, 1)).equals(capped)  # seeded
    assert set(cap_per_label(small, 3, (0, 2))["text"]) != set(capped["text"])
    assert cap_per_label(small, 60, 0).equals(small.reset_index(drop=True))  # every row, in its order
