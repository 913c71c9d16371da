"""Refusal messages for JSON that does not fit its type, shared by both edges (WebSocket
frames and REST bodies decode in one msgspec pass into typed structs)."""

from __future__ import annotations

import msgspec


def explain(error: msgspec.ValidationError, whole: str) -> str:
    """msgspec's message without its JSON-path noise, `whole` naming the top level:
    "Expected `str`, got `int` - at `$.body`" -> "Expected `str`, got `int` - at `body`"."""
    return str(error).replace("`$.", "`").replace("`$`", whole)
