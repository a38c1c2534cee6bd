"""Semantic layer: condition packs, stage models, symptom lexicons, trajectory sampling and retrieval.

Entry points (imported lazily, so `dualalign --help` stays fast):
- `load_pack(name_or_path)`, `list_packs()`, `ConditionPack` (pack.py)
- `TrajectoryConfig` (config.py), the run config's `trajectories:` section
- `sample_trajectories(profiles, cfg, seed)`, `write_trajectories`, `read_trajectories` (stage.py)
- `sample_label_mentions(pack, n_per_label, seed)` for flat label sets (labelset.py)
- `TrajectoryStore` (store.py), `calibration_table` (calibration.py), `draft_pack_from_hpo` (hpo.py)
"""

from dualalign.lazy import lazy_exports

_EXPORTS = {
    "ConditionPack": "pack",
    "load_pack": "pack",
    "list_packs": "pack",
    "TrajectoryConfig": "config",
    "sample_trajectories": "stage",
    "write_trajectories": "stage",
    "read_trajectories": "stage",
    "sample_label_mentions": "labelset",
    "sample_from_model": "sample",
    "demo_profiles": "profiles",
    "TrajectoryStore": "store",
    "calibration_table": "calibration",
    "draft_pack_from_hpo": "hpo",
}
__all__ = list(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
