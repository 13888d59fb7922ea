"""Retired providers: whatever the check, the constructor must say the service is gone."""

from __future__ import annotations

from ellmer_py import ConfigurationError

from .._context import Context


def _check_retired(ctx: Context) -> None:
    """A retired provider's constructor raises a ConfigurationError saying so."""
    reason = ctx.spec.retired or ""
    with ctx.server() as srv:
        for label, kwargs in (
            ("with no arguments", {}),
            (
                "pointed at a server",
                {**ctx.conformance_kwargs(srv), "credentials": ctx.credentials},
            ),
        ):
            try:
                ctx.spec.chat_function(**kwargs)
            except ConfigurationError as exc:
                message = str(exc)
                if not (reason and reason in message) and "retired" not in message.lower():
                    raise AssertionError(
                        f"{ctx.name} is retired, but its constructor's error ({label}) does not "
                        f"say so: {message!r}"
                    ) from None
            except Exception as exc:
                raise AssertionError(
                    f"{ctx.name} is retired: its constructor ({label}) should raise "
                    f"ConfigurationError saying so, not {type(exc).__name__}: {exc}"
                ) from None
            else:
                raise AssertionError(
                    f"{ctx.name} is declared retired, but its constructor ({label}) made a chat"
                )
        if srv.requests:
            raise AssertionError(f"{ctx.name} is retired but sent {len(srv.requests)} request(s)")
    ctx.note(f"retired: the constructor raises ConfigurationError: {reason}")
