"""Intrinsic metrics, fidelity, diversity, privacy and the comparison report.

Entry points (imported lazily, so `dualalign --help` stays fast):
- `intrinsic_measures(sentences, profiles, references)`, `intrinsic_table` (intrinsic.py), built from
  diversity.py (distinct-n, self-BLEU, embedding dispersion), faithfulness.py (plan, grounding, demographics)
  and privacy.py (shared n-grams, nearest-neighbour similarity, PHI scan)
- encounters.py: measures of conversation-note pairs (sections, lengths, diversity, grounding across the pair,
  copying) and `read_pairs`; snippets.py: a labelled set of conversation chunks from such pairs
- `render_report(metrics, tables, examples, plots, out_path)`, `comparison_table`, `encounter_pairs` (random
  encounter pairs with their planned findings marked) (report.py; metrics.json schema)
"""

from dualalign.lazy import lazy_exports

_EXPORTS = {
    "intrinsic_measures": "intrinsic",
    "intrinsic_table": "intrinsic",
    "distinct_n": "diversity",
    "self_bleu": "diversity",
    "embedding_dispersion": "diversity",
    "phi_scan": "privacy",
    "longest_shared_ngram": "privacy",
    "nearest_neighbour_similarity": "privacy",
    "demographic_agreement": "faithfulness",
    "total_variation": "faithfulness",
    "render_report": "report",
    "comparison_table": "report",
    "encounter_pairs": "report",
}
__all__ = list(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
