"""Terminal tables that stay readable at any width: one row per item where it fits, one row per figure where not."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


def figures_table(title: str, key: str, rows: Mapping[str, Mapping[str, str]], width: int) -> Table:
    """`rows`: item (a variant, a mixture) -> figure name -> formatted value, every item with the same figures.

    The wide layout (items as rows, figures as columns) is used when it fits in `width` columns without cutting a
    header; otherwise the table is transposed (figures as rows, items as columns)."""
    figures = list(next(iter(rows.values())).keys()) if rows else []
    wide = Table(key, *figures, title=title)
    for item, values in rows.items():
        wide.add_row(item, *(values[f] for f in figures))
    if _fits(wide, width):
        return wide
    tall = Table("", *rows.keys(), title=title)
    for figure in figures:
        tall.add_row(figure, *(rows[item][figure] for item in rows))
    return tall


def _fits(table: Table, width: int) -> bool:
    probe = Console(width=10_000)
    return Measurement.get(probe, probe.options, table).maximum <= width


def print_figures(console: Console, title: str, key: str, rows: Mapping[str, Mapping[str, str]]) -> None:
    if rows:
        console.print(figures_table(title, key, rows, console.width))
