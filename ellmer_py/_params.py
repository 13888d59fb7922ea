"""``params()``: model parameters that every provider understands (R: ``params()``)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import field, frozen

from ._errors import ConfigurationError

__all__ = ["Params", "as_params", "json_problem", "params", "standardise_params"]

STANDARD_PARAMS = (
    "temperature",
    "top_p",
    "top_k",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "max_tokens",
    "log_probs",
    "stop_sequences",
    "reasoning_effort",
    "reasoning_tokens",
)


@frozen
class Params:
    """The result of ``params()``: standard values plus provider-specific extras."""

    standard: Mapping[str, Any] = field(factory=dict)
    extra_args: Mapping[str, Any] = field(factory=dict)


def _check_number(
    name: str, value: Any, *, whole: bool = False, minimum: float | None = None
) -> None:
    if value is None:
        return
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        what = "a whole number" if whole else "a number"
        raise ConfigurationError(f"params({name}=...) must be {what}, not {value!r}.")
    if not math.isfinite(value):
        raise ConfigurationError(
            f"params({name}=...) must be a finite number, not {value!r}: JSON can't carry "
            "NaN or infinity. Pass a number, or leave it out for the provider's default."
        )
    if minimum is not None and value < minimum:
        raise ConfigurationError(f"params({name}=...) must be at least {minimum:g}, not {value!r}.")


def params(
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    frequency_penalty: float | None = None,
    presence_penalty: float | None = None,
    seed: int | None = None,
    max_tokens: int | None = None,
    log_probs: bool | None = None,
    stop_sequences: Sequence[str] | None = None,
    reasoning_effort: str | None = None,
    reasoning_tokens: int | None = None,
    **extra_args: Any,
) -> Params:
    """Standard model parameters, checked here and mapped per provider (R: ``params()``).

    Names that the provider's API does not support are dropped with one
    warning listing them. Any other keyword is sent to the API as it is.
    """
    _check_number("temperature", temperature, minimum=0)
    _check_number("top_p", top_p, minimum=0)
    _check_number("top_k", top_k, whole=True, minimum=0)
    _check_number("frequency_penalty", frequency_penalty)
    _check_number("presence_penalty", presence_penalty)
    _check_number("seed", seed, whole=True)
    _check_number("max_tokens", max_tokens, whole=True, minimum=1)
    _check_number("reasoning_tokens", reasoning_tokens, whole=True, minimum=0)
    if log_probs is not None and not isinstance(log_probs, bool):
        raise ConfigurationError(f"params(log_probs=...) must be True or False, not {log_probs!r}.")
    if isinstance(stop_sequences, str):
        stop_sequences = [stop_sequences]
    if stop_sequences is not None and (
        not isinstance(stop_sequences, Sequence)
        or not all(isinstance(s, str) for s in stop_sequences)
    ):
        raise ConfigurationError("params(stop_sequences=...) must be a list of strings.")
    if reasoning_effort is not None and not isinstance(reasoning_effort, str):
        raise ConfigurationError(
            "params(reasoning_effort=...) must be a string such as 'low', "
            f"not {reasoning_effort!r}."
        )
    for name, value in extra_args.items():
        problem = json_problem(value, f"params({name}=...)")
        if problem is not None:
            raise ConfigurationError(problem)
    values = {
        "temperature": temperature,
        "top_p": top_p,
        "top_k": top_k,
        "frequency_penalty": frequency_penalty,
        "presence_penalty": presence_penalty,
        "seed": seed,
        "max_tokens": max_tokens,
        "log_probs": log_probs,
        "stop_sequences": list(stop_sequences) if stop_sequences is not None else None,
        "reasoning_effort": reasoning_effort,
        "reasoning_tokens": reasoning_tokens,
    }
    return Params({k: v for k, v in values.items() if v is not None}, dict(extra_args))


#: Deeper than this, a value is refused before json.dumps() overflows the stack.
MAX_JSON_DEPTH = 500


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether dicts and lists in ``value`` nest deeper than ``limit`` (or hold themselves).

    Iterative: it never recurses, so it is safe on hostile input before any
    recursive code (deepcopy, json.dumps) sees it.
    """
    todo: list[tuple[Any, int]] = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if depth > limit:
            return True
        if isinstance(item, Mapping):
            todo.extend((inner, depth + 1) for inner in item.values())
        elif isinstance(item, (list, tuple)):
            todo.extend((inner, depth + 1) for inner in item)
    return False


def json_problem(value: Any, path: str) -> str | None:
    """Why ``value`` can't be sent as JSON, naming where in it (``path`` names it), or None.

    JSON carries dicts (string keys; numbers become strings), lists, tuples, strings, numbers
    (finite), booleans and None; anything else, a lone surrogate in a string,
    or nesting deeper than MAX_JSON_DEPTH (a cycle, say) is a problem.
    """
    todo: list[tuple[Any, str, int]] = [(value, path, 0)]
    while todo:
        item, where, depth = todo.pop()
        if depth > MAX_JSON_DEPTH:
            return (
                f"{path} is nested more than {MAX_JSON_DEPTH} levels deep, or holds itself "
                f"(at {where[:80]}...); JSON can't carry that."
            )
        if item is None or isinstance(item, (bool, int)):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return f"{where} is {item!r}, which JSON can't carry; use a finite number."
        elif isinstance(item, str):
            if not _utf8(item):
                return (
                    f"{where} has a lone surrogate, which can't be sent as UTF-8; "
                    "remove it, or decode the text with errors='replace' first."
                )
        elif isinstance(item, Mapping):
            for key, inner in item.items():
                if not isinstance(key, (str, int, float, type(None))):  # json.dumps's rule
                    return f"{where} has the key {key!r:.40}; JSON object keys must be strings."
                todo.append((inner, f"{where}[{key!r}]", depth + 1))
        elif isinstance(item, (list, tuple)):
            todo.extend((inner, f"{where}[{i}]", depth + 1) for i, inner in enumerate(item))
        else:
            hint = "; use a list" if isinstance(item, (set, frozenset)) else ""
            return f"{where} is a {type(item).__name__}, which JSON can't carry{hint}."
    return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def as_params(value: Any) -> Params | None:
    """``params=`` must come from ``params()``; a plain dict is a common slip."""
    if value is None or isinstance(value, Params):
        return value
    if isinstance(value, Mapping):
        args = ", ".join(f"{k}={v!r}" for k, v in list(value.items())[:3])
        raise ConfigurationError(
            f"params= takes the result of params(), not a dict: write params=params({args}) "
            "(from ellmer_py import params), or put raw body fields in api_args=."
        )
    raise ConfigurationError(
        f"params= takes the result of params(), e.g. params(temperature=0.5), "
        f"not {type(value).__name__}."
    )


def standardise_params(p: Params | None, wire_names: Mapping[str, str]) -> dict[str, Any]:
    """Map standard params to their wire names (R: ``standardise_params()``).

    ``wire_names`` maps a wire name to the standard name it carries. Standard
    params the provider does not support are dropped with one ``UserWarning``
    that lists them; ``extra_args`` pass through unchanged.
    """
    if p is None:
        return {}
    by_standard = {std: wire for wire, std in wire_names.items()}
    unsupported = [name for name in p.standard if name not in by_standard]
    if unsupported:
        warnings.warn(
            "Ignoring unsupported parameters: " + ", ".join(repr(n) for n in unsupported),
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
    out = {by_standard[k]: v for k, v in p.standard.items() if k in by_standard}
    out.update(p.extra_args)
    return out


def _caller_stacklevel() -> int:
    """The stacklevel that points a warning at the first frame outside ellmer_py."""
    import sys

    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not (module == "ellmer_py" or module.startswith("ellmer_py.")):
            return level
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level
