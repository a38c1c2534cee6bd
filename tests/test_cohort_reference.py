"""Reference tables: validation with one clear error naming the file and the column, and no artifacts left."""

from __future__ import annotations

import pandas as pd
import pytest

from dualalign.cohorts import CohortConfig, Quota, build_cohort, load_reference
from dualalign.errors import ConfigError, DataError

OASIS_MAP = {"M/F": "sex", "Age": "age", "EDUC": "education_years"}


def oasis_config(path, **kw) -> CohortConfig:
    return CohortConfig(source=str(path), one_row_per="Subject ID", order_by=["Visit"],
                        columns=["Group", "M/F", "Age", "EDUC", "SES", "MMSE", "CDR"], column_map=OASIS_MAP, **kw)


@pytest.fixture()
def table(tmp_path):
    """A small valid table, written as CSV."""
    rows = [{"id": i, "Age": 60 + i % 30, "M/F": "MF"[i % 2], "EDUC": 12 + i % 5, "score": i * 0.5} for i in range(40)]
    path = tmp_path / "ref.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def cfg_for(path, **kw) -> CohortConfig:
    return CohortConfig(source=str(path), column_map=OASIS_MAP, columns=["Age", "M/F", "EDUC", "score"], **kw)


def test_oasis_first_visit_keeps_missing_ses(shared_data):
    ref = load_reference(oasis_config(shared_data / "oasis_longitudinal.csv"))
    assert len(ref) == 150  # one row per subject
    assert list(ref.columns) == ["Group", "sex", "age", "education_years", "SES", "MMSE", "CDR"]
    assert ref["SES"].isna().sum() == 8  # missing SES kept, not dropped
    assert ref["age"].dtype == "int64" and set(ref["sex"]) == {"F", "M"}
    raw = pd.read_csv(shared_data / "oasis_longitudinal.csv")
    first = raw[raw["Visit"] == raw.groupby("Subject ID")["Visit"].transform("min")]
    assert sorted(ref["age"]) == sorted(first["Age"])


def test_parquet_and_dataframe_sources(tmp_path, table):
    df = pd.read_csv(table)
    parquet = tmp_path / "ref.parquet"
    df.to_parquet(parquet)
    a = load_reference(cfg_for(parquet))
    b = load_reference(cfg_for("unused.csv"), data=df)
    pd.testing.assert_frame_equal(a, b)


def test_value_map_recodes(table):
    df = pd.read_csv(table).assign(**{"M/F": lambda d: d["M/F"].map({"M": "male", "F": "female"})})
    with pytest.raises(DataError, match=r"'M/F' \(sex\) must be F or M"):
        load_reference(cfg_for("t.csv"), data=df)
    ref = load_reference(cfg_for("t.csv", value_map={"sex": {"male": "M", "female": "F"}}), data=df)
    assert set(ref["sex"]) == {"F", "M"}


def _assert_fails_cleanly(cfg, out, error, pattern):
    with pytest.raises(error, match=pattern):
        build_cohort(cfg, out, seed=0)
    assert not out.exists() or not any(out.iterdir()), "a failed build left files behind"


def test_missing_file(tmp_path):
    _assert_fails_cleanly(cfg_for(tmp_path / "nope.csv"), tmp_path / "run", DataError, r"nope\.csv: no such file")


def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    empty = cfg_for(tmp_path / "empty.csv")
    _assert_fails_cleanly(empty, tmp_path / "run", DataError, r"empty\.csv: the file is empty")


def test_header_only_file_has_too_few_rows(tmp_path):
    (tmp_path / "header.csv").write_text("Age,M/F,EDUC,score\n")
    _assert_fails_cleanly(cfg_for(tmp_path / "header.csv"), tmp_path / "run", DataError, r"header\.csv: 0 rows")


def test_named_column_missing(tmp_path, table):
    cfg = CohortConfig(source=str(table), columns=["Age", "Weight"])
    _assert_fails_cleanly(cfg, tmp_path / "run", DataError, r"ref\.csv: column 'Weight' named in cohort\.columns")


def test_non_numeric_age(tmp_path, table):
    df = pd.read_csv(table)
    df["Age"] = df["Age"].astype(object)
    df.loc[3, "Age"] = "eighty"
    df.to_csv(table, index=False)
    _assert_fails_cleanly(cfg_for(table), tmp_path / "run", DataError,
                          r"ref\.csv: column 'Age' \(age\) must be numeric, found 'eighty'")


def test_all_null_column(tmp_path, table):
    pd.read_csv(table).assign(score=None).to_csv(table, index=False)
    _assert_fails_cleanly(cfg_for(table), tmp_path / "run", DataError, r"ref\.csv: column 'score' has no values")


def test_unknown_sdtype_column(tmp_path, table):
    _assert_fails_cleanly(cfg_for(table, sdtypes={"bmi": "numerical"}), tmp_path / "run", ConfigError,
                          r"cohort\.sdtypes\.bmi: no such profile column")


def test_impossible_condition_fails_before_fitting(tmp_path, table):
    cfg = cfg_for(table, quotas=[Quota(where={"sex": "X"}, count=2)])
    _assert_fails_cleanly(cfg, tmp_path / "run", ConfigError,
                          r"cohort\.quotas\[0\]\.where\.sex: 'X' does not occur in the reference \(values: F, M\)")
