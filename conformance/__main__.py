"""``python -m ellmer_py.conformance [NAME ...]``: run the conformance suite.

With no name, every registered provider is checked; ``--list`` lists the
checks, ``--check NAME`` (repeatable) runs only some. Exits 0 only when
every check passes, 1 when one fails, 2 on a usage error or when
hypothesis is not installed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]

_INSTALL = "The conformance suite needs hypothesis: pip install 'ellmer-py[conformance]'"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ellmer_py.conformance",
        description="Check that ellmer-py providers behave the same way, against a fake "
        "server on the loopback interface (no network, no keys).",
    )
    parser.add_argument(
        "providers",
        nargs="*",
        metavar="NAME",
        help="registered provider names (default: every registered provider)",
    )
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    parser.add_argument(
        "--check",
        action="append",
        metavar="CHECK",
        help="run only this check (repeatable; see --list)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite and print the table (the conformance suite's command line)."""
    args = _parser().parse_args(argv)
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        print(_INSTALL, file=sys.stderr)
        return 2

    from ellmer_py import EllmerError, get_provider_spec, list_providers

    from ._runner import format_results, run_provider
    from .checks import CHECKS

    if args.list:
        for name, function in CHECKS.items():
            summary = (function.__doc__ or "").strip().splitlines()[0].replace("``", "")
            print(f"{name:<14} {summary}")
        return 0
    unknown = [c for c in args.check or [] if c not in CHECKS]
    if unknown:
        print(
            f"Unknown check {unknown[0]!r}; the checks are: {', '.join(CHECKS)}.", file=sys.stderr
        )
        return 2
    names = args.providers or list_providers()
    if not names:
        print(
            "No provider is registered: install a provider plugin, or check ELLMER_PY_PLUGINS.",
            file=sys.stderr,
        )
        return 2
    try:
        specs = [get_provider_spec(name) for name in names]
    except EllmerError as exc:
        print(exc, file=sys.stderr)
        return 2
    results = []
    for spec in specs:
        results += run_provider(spec, args.check)
    print(format_results(results))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
