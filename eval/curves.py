"""Learning curves of `dualalign tstr`: the score rows of every seed and point (gold size k and draw with
`--gold-per-label`, synthetic size with several `--per-label`), summed up per point and training set (mean and sd
over draws and seeds), and plotted (macro-F1 against the point)."""

from __future__ import annotations

import io
import math
from typing import Any

import pandas as pd

from dualalign.train.mixtures import summary_figures


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table's rows for metrics.json, leaving out the cells a row has not got (NaN)."""
    rows = table.to_dict(orient="records")
    return [{k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))} for row in rows]


def curve_figures(table: pd.DataFrame, by: str) -> dict[str, dict[str, dict[str, Any]]]:
    """The point (column `by`: `k` or `per_label`, as a string) -> training set -> figure -> {"mean", "sd"} over the
    draws and seeds; a `gold+` training set also has `synthetic_weight` (the weights used: mean, sd, and each one)."""
    out = {}
    for k, rows in table.groupby(by, sort=True):
        figures = summary_figures(rows)
        weighted = rows.dropna(subset=["synthetic_weight"]) if "synthetic_weight" in rows else rows[:0]
        for mixture, weights in weighted.groupby("mixture", sort=False)["synthetic_weight"]:
            sd = weights.std()
            figures[mixture]["synthetic_weight"] = {"mean": float(weights.mean()),
                                                    "sd": None if math.isnan(sd) else float(sd),
                                                    "values": weights.tolist()}  # fmt: skip
        out[str(k)] = figures
    return out


def curve_plot(curve: dict[str, dict[str, dict[str, Any]]], title: str, xlabel: str) -> bytes:
    """PNG: macro-F1 (mean, with sd bars) against the curve's points (`xlabel`), one line per training set."""
    from matplotlib.figure import Figure

    ks = sorted(curve, key=int)
    fig = Figure(figsize=(7.5, 4), dpi=100)
    ax = fig.subplots()
    for mixture in curve[ks[0]]:
        f1 = [curve[k][mixture]["macro_f1"] for k in ks]
        ax.errorbar([int(k) for k in ks], [f["mean"] for f in f1], yerr=[f["sd"] or 0.0 for f in f1], capsize=3,
                    marker="o", linestyle="--" if mixture == "pack-prototype" else "-", label=mixture)  # fmt: skip
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks([int(k) for k in ks], ks)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("macro-F1 on the other real rows")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
