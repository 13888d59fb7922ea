"""The rows ``parallel_chat_structured()`` returns with ``include_tokens`` / ``include_cost``.

R adds ``input_tokens``, ``output_tokens``, ``cached_input_tokens`` and
``cost`` columns to its data frame; here each prompt gets a dict: its data
under ``"data"``, then those of R's columns that were asked for, under R's
names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import ConfigurationError
from ._tokens import total_tokens, turns_cost
from ._turn import Turn

__all__ = ["TOKEN_COLUMNS", "check_structured_flags", "row", "usage"]

#: R's token columns, in R's order.
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cached_input_tokens")

#: A prompt whose request failed or was never sent (R: ``c(0L, 0L, 0L)`` and a cost of 0).
_NO_USAGE: Mapping[str, Any] = {**dict.fromkeys(TOKEN_COLUMNS, 0), "cost": 0.0}


def usage(turns: Sequence[Turn]) -> dict[str, Any]:
    """The tokens and cost of one prompt's new turns, under R's column names.

    ``cost`` is None when no answer's price is known (R: ``NA``).
    """
    tokens = total_tokens(turns)
    return {
        "input_tokens": tokens.input,
        "output_tokens": tokens.output,
        "cached_input_tokens": tokens.cached_input,
        "cost": turns_cost(turns),
    }


def row(
    value: Any,
    used: Mapping[str, Any] | None,
    *,
    include_tokens: bool,
    include_cost: bool,
) -> dict[str, Any]:
    """One prompt's row: ``{"data": value}`` plus the columns asked for.

    ``used`` is :func:`usage` of the prompt's turns, or None when its request
    failed or was never sent (0 tokens, cost 0, as in R's ``multi_convert()``).
    """
    source = _NO_USAGE if used is None else used
    out: dict[str, Any] = {"data": value}
    if include_tokens:
        for name in TOKEN_COLUMNS:
            out[name] = source[name]
    if include_cost:
        out["cost"] = source["cost"]
    return out


def check_structured_flags(convert: Any, include_tokens: Any, include_cost: Any) -> None:
    """ConfigurationError unless each of the three is True or False."""
    for name, value in (
        ("convert", convert),
        ("include_tokens", include_tokens),
        ("include_cost", include_cost),
    ):
        if not isinstance(value, bool):
            raise ConfigurationError(f"{name} must be True or False, not {value!r}.")
