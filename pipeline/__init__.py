"""The top layer: the only code that knows every layer. The run config, the pipeline of stages, `tstr` and the CLIs.

Entry points (imported lazily, so `dualalign --help` stays fast):
- `RunConfig`, `load_config` (runconfig.py): a whole run, one section per layer
- `Pipeline`, `STAGES` (run.py): `dualalign run`, the stages of a config in one run folder
- `TstrConfig`, `run_tstr` (tstr.py): train on synthetic, test on real
- `main` (cli.py): the `dualalign` command
"""

from dualalign.lazy import lazy_exports

_EXPORTS = {
    "RunConfig": "runconfig",
    "load_config": "runconfig",
    "Pipeline": "run",
    "STAGES": "run",
    "TstrConfig": "tstr",
    "run_tstr": "tstr",
}
__all__ = list(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
