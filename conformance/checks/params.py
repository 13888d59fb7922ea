"""``params()``: every standard field is sent or reported, never silently dropped."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ellmer_py import params
from ellmer_py._params import STANDARD_PARAMS

from .._context import Context
from ._common import _HELLO, _PLAIN, _check, _last_request_json, _profile

#: One distinctive value per params() field, so each can be found in the body.
PARAM_VALUES: dict[str, Any] = {
    "temperature": 0.37,
    "top_p": 0.91,
    "top_k": 17,
    "frequency_penalty": 0.23,
    "presence_penalty": 0.41,
    "seed": 4242,
    "max_tokens": 321,
    "log_probs": True,
    "stop_sequences": ["STOP-one", "STOP-two"],
    "reasoning_effort": "low",
    "reasoning_tokens": 777,
}

_UNSUPPORTED = "Ignoring unsupported parameters"


def _contains(doc: Any, value: Any) -> bool:
    """Whether ``value`` occurs in ``doc`` (same type: True is not 1)."""
    if type(doc) is type(value) and doc == value:
        return True
    if isinstance(value, list) and value and all(_contains(doc, v) for v in value):
        return True
    if isinstance(doc, Mapping):
        return any(_contains(v, value) for v in doc.values())
    if isinstance(doc, list):
        return any(_contains(v, value) for v in doc)
    return False


def _named(field: str, message: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(field)}(?![A-Za-z0-9_])", message) is not None


@_check
def check_params(ctx: Context) -> None:
    """Every ``params()`` field is sent or reported, never silently dropped.

    For any set of fields: each is either in the body under some wire name
    (its value appears among the keys the params added or changed) or named
    in the one "Ignoring unsupported parameters" warning, not both; there is
    at most one such warning. (R: ``params()``, ``standardise_params()``.)
    """
    missing = [name for name in STANDARD_PARAMS if name not in PARAM_VALUES]
    if missing:
        raise AssertionError(f"the conformance suite has no test value for params({missing[0]}=)")
    fake = ctx.fake
    with ctx.server() as srv:
        srv.default = fake.answer(_PLAIN)
        ctx.make_chat(srv).chat(_HELLO)
        baseline = srv.requests[-1].json

        @_profile()
        @given(fields=st.sets(st.sampled_from(STANDARD_PARAMS), min_size=1))
        def law(fields: set[str]) -> None:
            given_params = {name: PARAM_VALUES[name] for name in sorted(fields)}
            before = len(srv.requests)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                ctx.make_chat(srv, params=params(**given_params)).chat(_HELLO)
            body = _last_request_json(srv, before)
            reports = [str(w.message) for w in caught if _UNSUPPORTED in str(w.message)]
            assert len(reports) <= 1, f"more than one unsupported-parameters warning: {reports}"
            report = reports[0] if reports else ""
            changed = {k: v for k, v in body.items() if k not in baseline or baseline[k] != v}
            markers = getattr(fake, "param_markers", {})
            for name in sorted(fields):
                sent = _contains(changed, PARAM_VALUES[name]) or (
                    name in markers and _contains(changed, markers[name])
                )
                named = _named(name, report)
                assert sent or named, (
                    f"params({name}={PARAM_VALUES[name]!r}) was silently dropped: not in the "
                    f"body and not in an {_UNSUPPORTED!r} warning (given: {sorted(fields)})"
                )
                assert not (sent and named), (
                    f"params({name}=...) is sent, but the warning says it is ignored: {report!r}"
                )
            stray = [n for n in STANDARD_PARAMS if n not in fields and _named(n, report)]
            assert not stray, f"the warning names parameters that were not given: {stray}"

        law()
