"""Terminal tables are readable at 80 columns: no header or figure is cut, wide layouts stay where they fit."""

import io

from rich.console import Console

from dualalign.pipeline.tables import figures_table

ROWS = {
    variant: {"requests": "16", "failed": "0", "retried": "4", "sentences": "29", "grounded": "86.2%",
              "expr. label": "93.1%", "copies": "0", "near-dup.": "3", "rejected": "12"}
    for variant in ("guided", "unguided", "statistical", "semantic")
}  # fmt: skip


def render(width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(figures_table("generation and grounding checks", "variant", ROWS, width))
    return console.export_text().splitlines()


def test_every_table_fits_80_columns_uncut():
    lines = render(80)
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert "…" not in text
    for word in ("requests", "expr. label", "near-dup.", "statistical", "86.2%"):
        assert word in text


def test_wide_terminals_keep_one_row_per_variant():
    lines = render(160)
    header = next(line for line in lines if "requests" in line)
    assert "near-dup." in header  # all figures side by side on one header line
    assert sum("statistical" in line for line in lines) == 1
