"""Settings read from the environment (R: ``options(ellmer_*)``)."""

from __future__ import annotations

import math
import os

from ._errors import ConfigurationError

__all__ = ["DEFAULT_MAX_TRIES", "DEFAULT_TIMEOUT_S", "max_tries", "timeout_s"]

DEFAULT_MAX_TRIES = 3
DEFAULT_TIMEOUT_S = 300.0


def _env_number(name: str, default: float, *, minimum: float, whole: bool = False) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(
            f"{name}={raw!r} is not a number; set it to a number such as {default:g}, or unset it."
        ) from None
    if not math.isfinite(value) or (whole and not value.is_integer()):
        what = "a whole number" if whole else "a finite number"
        raise ConfigurationError(
            f"{name}={raw!r} is not {what}; set it to a number such as {default:g}, or unset it."
        )
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum:g}, not {raw!r}.")
    return value


def max_tries(value: int | None = None) -> int:
    """How many times a request is tried (R: ``ellmer_max_tries``; env ``ELLMER_MAX_TRIES``)."""
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(
                f"max_tries must be a whole number of at least 1, not {value!r}."
            )
        return value
    return int(_env_number("ELLMER_MAX_TRIES", DEFAULT_MAX_TRIES, minimum=1, whole=True))


def timeout_s(value: float | None = None) -> float:
    """Seconds to wait for the server (R: ``ellmer_timeout_s``; env ``ELLMER_TIMEOUT_S``)."""
    if value is not None:
        usable = isinstance(value, (int, float)) and 0 < value < math.inf
        if isinstance(value, bool) or not usable:
            raise ConfigurationError(f"timeout_s must be a positive number, not {value!r}.")
        return float(value)
    return _env_number("ELLMER_TIMEOUT_S", DEFAULT_TIMEOUT_S, minimum=0.001)
