"""Errors a user can cause. The CLI prints them as one clear message, without a traceback."""


class DualAlignError(Exception):
    """A problem with the user's input, config or environment, phrased for the user."""


class ConfigError(DualAlignError):
    """A config file or section that does not validate; the message names the file and the key."""


class DataError(DualAlignError):
    """An input table or file that cannot be used; the message names the file and the column."""


class EngineError(DualAlignError):
    """A generation engine that cannot serve; carries every result received before it gave up."""

    def __init__(self, message: str, results: list | None = None):
        super().__init__(message)
        self.results = results or []
