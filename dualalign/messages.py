"""A chat message: what alignment writes into a plan and what an engine sends to a model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str
