"""How tokens are drawn: one validated object, in the way vLLM's `SamplingParams` works, sent with each request.

It is the run config's `sampling:` section (and `dualalign tstr`'s), passed to the engine inside every
`GenerationRequest`, and keyed once, by the generation stage. Settings left unset take the default of the hardware
the engine samples on (`DEFAULTS`), as `dtype: auto` does; the engine records which it used (`Engine.describe`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from dualalign.config import StrictModel, validate_model
from dualalign.errors import ConfigError

Hardware = Literal["cpu", "gpu", "unknown"]


class SamplingConfig(StrictModel):
    """Temperature, truncation and length of a reply (vLLM's names and meanings).

    Unset (None) means the engine's hardware default: `temperature` on its own; the truncation settings (`top_p`,
    `top_k`, `min_p`) as a group: set any of them and the unset others are off (top_p 1, top_k 0, min_p 0).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(None, ge=0, description="0: greedy; None: the hardware default")
    top_p: float | None = Field(None, gt=0, le=1, description="nucleus: the smallest set of tokens with this mass")
    top_k: int | None = Field(None, ge=0, description="the k most likely tokens (0: off)")
    min_p: float | None = Field(None, ge=0, le=1, description="tokens at least this share of the likeliest one's "
                                                              "probability (0: off)")  # fmt: skip
    max_tokens: int = Field(64, gt=0, description="per reply; whole JSON notes get at least 384")

    @property
    def resolved(self) -> bool:
        return None not in (self.temperature, self.top_p, self.top_k, self.min_p)

    def resolve(self, hardware: Hardware) -> "SamplingConfig":
        """Every setting given: unset ones from `DEFAULTS[hardware]` (see the class docstring)."""
        default = DEFAULTS[hardware]
        truncation = ("top_p", "top_k", "min_p")
        if all(getattr(self, k) is None for k in truncation):
            given = {k: getattr(default, k) for k in truncation}
        else:
            given = {k: getattr(self, k) if getattr(self, k) is not None else getattr(OFF, k) for k in truncation}
        temperature = default.temperature if self.temperature is None else self.temperature
        return SamplingConfig(temperature=temperature, max_tokens=self.max_tokens, **given)

    def label(self) -> str:
        """A short name for tables: the settings that are on."""
        parts = [f"temperature {self.temperature:g}" if self.temperature is not None else "temperature default"]
        for name, off in (("top_p", 1.0), ("top_k", 0), ("min_p", 0.0)):
            value = getattr(self, name)
            if value is not None and value != off:
                parts.append(f"{name} {value:g}")
        return ", ".join(parts)


OFF = SamplingConfig(temperature=1.0, top_p=1.0, top_k=0, min_p=0.0)
# The defaults by the hardware that samples (docs/sampling.md has the measurements). On the CPU, vLLM's sampler
# sorts the whole vocabulary for every request at every step when top_p < 1; min_p needs no sort, and min_p 0.1 at
# temperature 1.0 kept tstr's guided macro-F1 within 0.01 of top_p 0.95 over 3 seeds (min_p 0.05 at 0.8 did not).
# On a GPU (and behind a server whose hardware is unknown) the default stays the one measured before, until it is
# measured there.
DEFAULTS: dict[Hardware, SamplingConfig] = {
    "cpu": SamplingConfig(temperature=1.0, top_p=1.0, top_k=0, min_p=0.1),
    "gpu": SamplingConfig(temperature=0.8, top_p=0.95, top_k=0, min_p=0.0),
    "unknown": SamplingConfig(temperature=0.8, top_p=0.95, top_k=0, min_p=0.0),
}


def parse_sampling(text: str) -> SamplingConfig:
    """`"temperature=0.8,min_p=0.05"` (benchmarks and the CLI) as a SamplingConfig; "" is all defaults."""
    pairs = [p.partition("=") for p in text.split(",") if p.strip()]
    if any(not sep for _, sep, _ in pairs):
        raise ConfigError(f"sampling {text!r}: give name=value pairs, e.g. temperature=0.8,min_p=0.05")
    return validate_model(SamplingConfig, {k.strip(): v.strip() for k, _, v in pairs}, f"sampling {text!r}")
