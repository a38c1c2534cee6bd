"""Where diagnostics go: the run folder's log file always, the terminal only what a user can act on.

By default the terminal shows dualalign's own warnings and errors, one progress bar per stage and the final
tables; every library's log lines (vLLM, transformers, SDV) and Python warnings go to `dualalign.log` in the run
folder. With `-v` the terminal shows everything at INFO level too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOG_FILE = "dualalign.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that print to the terminal on their own unless told otherwise, read when they are first imported.
QUIET_LIBRARIES = {
    "VLLM_CONFIGURE_LOGGING": "0",  # vLLM's loggers propagate to ours instead of printing to stdout
    "TRANSFORMERS_VERBOSITY": "error",
    "TQDM_DISABLE": "1",  # vLLM's, datasets' and sentence-transformers' progress bars (ours are rich)
    "TOKENIZERS_PARALLELISM": "false",
    "TORCH_CPP_LOG_LEVEL": "ERROR",  # torch's C++ notices (NUMA binding) print to stderr directly
}


class _OwnWarnings(logging.Filter):
    """Lets through dualalign's own records only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == "dualalign" or record.name.startswith("dualalign.")


def configure(verbose: bool) -> None:
    """Set up the command line's logging once, before any library is imported."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter(FORMAT))
    if verbose:
        console.setLevel(logging.INFO)
    else:
        console.setLevel(logging.WARNING)
        console.addFilter(_OwnWarnings())
        for name, value in QUIET_LIBRARIES.items():
            os.environ.setdefault(name, value)
    root.addHandler(console)
    logging.captureWarnings(True)


@contextmanager
def log_to(folder: Path) -> Iterator[Path]:
    """While inside, every log record at INFO or above is also appended to `folder/dualalign.log`."""
    path = Path(folder) / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()
