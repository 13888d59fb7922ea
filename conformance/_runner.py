"""Run the checks for providers and print a provider x check table."""

from __future__ import annotations

import time
import traceback
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._context import Context
from .checks import CHECKS

if TYPE_CHECKING:
    from ellmer_py import ProviderSpec

__all__ = ["CheckResult", "format_results", "run_check", "run_provider"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check for one provider."""

    provider: str
    check: str
    passed: bool
    notes: tuple[str, ...] = ()
    #: Why it failed: the AssertionError's message, or the unexpected exception.
    failure: str | None = None
    seconds: float = field(default=0.0, compare=False)

    @property
    def status(self) -> str:
        """``PASS``, ``PASS*`` (passed, with a note) or ``FAIL``."""
        if not self.passed:
            return "FAIL"
        return "PASS*" if self.notes else "PASS"


def _failure_text(exc: BaseException) -> str:
    if isinstance(exc, AssertionError):
        text = str(exc) or "AssertionError (no message)"
    else:
        frames = traceback.extract_tb(exc.__traceback__)[-3:]
        where = "; ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in frames)
        text = f"crashed with {type(exc).__name__}: {exc} (at {where})"
    # hypothesis adds the failing example as a note (and an explanation: left out)
    notes = getattr(exc, "__notes__", None) or []
    example = [
        n for n in notes if isinstance(n, str) and n.startswith(("Falsifying", "Failing test case"))
    ]
    if example:
        text += "\n" + "\n".join(example)
    return text


def run_check(spec: ProviderSpec, check: str) -> CheckResult:
    """Run one check (by name) for one provider; never raises for a failed check."""
    function = CHECKS[check]
    ctx = Context(spec)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            function(ctx)
    except Exception as exc:
        return CheckResult(
            spec.name,
            check,
            False,
            tuple(ctx.notes),
            _failure_text(exc),
            time.perf_counter() - start,
        )
    return CheckResult(spec.name, check, True, tuple(ctx.notes), None, time.perf_counter() - start)


def run_provider(spec: ProviderSpec, checks: Sequence[str] | None = None) -> list[CheckResult]:
    """Run the checks (all of them by default) for one provider, in table order."""
    return [run_check(spec, name) for name in (checks or list(CHECKS))]


def format_results(results: Iterable[CheckResult]) -> str:
    """The provider x check table, then the notes and the failures."""
    results = list(results)
    providers = list(dict.fromkeys(r.provider for r in results))
    checks = list(dict.fromkeys(r.check for r in results))
    cell = {(r.provider, r.check): r.status for r in results}
    first = max([len("provider"), *(len(p) for p in providers)])
    widths = [max(len(c), 5) for c in checks]
    header = [c.ljust(w) for c, w in zip(checks, widths, strict=True)]
    lines = [
        "  ".join(["provider".ljust(first), *header]),
        "  ".join(["-" * first, *("-" * w for w in widths)]),
    ]
    for provider in providers:
        row = [cell.get((provider, c), "-").ljust(w) for c, w in zip(checks, widths, strict=True)]
        lines.append("  ".join([provider.ljust(first), *row]).rstrip())

    notes: dict[tuple[str, str], list[str]] = {}
    for r in results:
        for note in r.notes:
            notes.setdefault((r.provider, note), []).append(r.check)
    if notes:
        lines += ["", "PASS* = passed, with a note:"]
        for (provider, note), on in notes.items():
            where = "every check" if len(on) == len(checks) > 1 else ", ".join(on)
            lines.append(f"  {provider} ({where}): {note}")

    failures = [r for r in results if not r.passed]
    if failures:
        lines += ["", "Failures:"]
        for r in failures:
            message = (r.failure or "").replace("\n", "\n      ")
            lines.append(f"  {r.provider} / {r.check}:\n      {message}")

    passed = sum(r.passed for r in results)
    lines += [
        "",
        f"{len(providers)} provider(s) x {len(checks)} check(s): "
        f"{passed} passed, {len(results) - passed} failed.",
    ]
    return "\n".join(lines)
