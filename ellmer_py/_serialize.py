"""Record and replay turns as versioned JSON (R: ``contents_record()``, ``contents_replay()``).

One private cattrs Converter owns every hook: Content classes and Turns are
tagged unions keyed on their ``kind`` / ``role``; bytes travel as base64.
cattrs is imported the first time something is recorded or replayed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from ._content import (
    Content,
    ContentImageInline,
    ContentImageRemote,
    ContentJson,
    ContentPDF,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolRequestFetch,
    ContentToolRequestSearch,
    ContentToolResponseFetch,
    ContentToolResponseSearch,
    ContentToolResult,
)
from ._errors import ConfigurationError
from ._turn import AssistantPartialTurn, AssistantTurn, SystemTurn, Tokens, Turn, UserTurn

if TYPE_CHECKING:
    import cattrs

__all__ = ["RECORD_VERSION", "contents_record", "contents_replay", "converter"]

#: Version 2 added ``extra`` to text and tool requests and the built-in tool
#: contents; version 1 records are still read (they simply lack those).
RECORD_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_FORMAT = "ellmer-py"

CONTENT_CLASSES: tuple[type[Content], ...] = (
    ContentText,
    ContentImageRemote,
    ContentImageInline,
    ContentPDF,
    ContentToolRequest,
    ContentToolResult,
    ContentThinking,
    ContentJson,
    ContentToolRequestSearch,
    ContentToolResponseSearch,
    ContentToolRequestFetch,
    ContentToolResponseFetch,
)
TURN_CLASSES: dict[str, type[Turn]] = {
    "user": UserTurn,
    "system": SystemTurn,
    "assistant": AssistantTurn,
    "assistant_partial": AssistantPartialTurn,
}
_TURN_TAG = {cls: tag for tag, cls in TURN_CLASSES.items()}
_CONTENT_BY_KIND = {cls.kind: cls for cls in CONTENT_CLASSES}


class _RecordError(ValueError):
    """A record value that is wrong in a way worth its own message."""


@cache
def converter() -> cattrs.Converter:
    """The one configured cattrs Converter for ellmer-py's data model."""
    import cattrs

    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_unstructure_hook(bytes, lambda b: base64.b64encode(b).decode("ascii"))
    conv.register_structure_hook(bytes, _structure_bytes)
    # Any values are JSON data, except content a tool returned (an image): recorded tagged.
    conv.register_unstructure_hook_func(
        lambda t: t is Any,
        lambda v: conv.unstructure(v, unstructure_as=Content) if isinstance(v, Content) else v,
    )
    conv.register_structure_hook_func(lambda t: t is Any, lambda v, _: v)
    # cattrs would turn 5 into "5" and "3" into 3; a record says what it means.
    for scalar in (str, int, float, bool):
        conv.register_structure_hook(scalar, _structure_scalar)
    tokens_hook = conv.get_structure_hook(Tokens)
    conv.register_structure_hook(
        Tokens, lambda v, t: tokens_hook(_check_dict(v, "an object of token counts"), t)
    )
    # Order matters: cattrs builds each class's hook when the union is
    # configured, so Content's hooks (and the contents tuple's) must exist
    # before the Turn union is made. Fields typed with a base class
    # (Turn.contents) go through its union.
    # ``extra`` (version 2) is left out when empty, so such records read as version 1 did.
    from cattrs.gen import make_dict_unstructure_fn, override

    for cls in (ContentText, ContentToolRequest):
        conv.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, conv, extra=override(omit_if_default=True))
        )
    _tagged_union(conv, Content, CONTENT_CLASSES, "kind", lambda cls: cls.kind, "content kind")
    contents_hook = conv.get_structure_hook(tuple[Content, ...])
    conv.register_structure_hook_func(
        lambda t: t == tuple[Content, ...],
        lambda v, t: contents_hook(_check_list(v, "a list of contents"), t),
    )
    turns = tuple(TURN_CLASSES.values())
    _tagged_union(conv, Turn, turns, "role", _TURN_TAG.__getitem__, "turn role")
    return conv


def _tagged_union(
    conv: cattrs.Converter,
    base: type[Any],
    classes: Sequence[type[Any]],
    tag_name: str,
    tag: Callable[[type[Any]], str],
    noun: str,
) -> None:
    """Record ``base`` as the union of ``classes``, tagged under ``tag_name``.

    Structuring checks the tag first, so an unknown or missing tag is named
    as such (cattrs alone reports a bare KeyError).
    """
    from cattrs.strategies import configure_tagged_union

    union = _union(classes)
    configure_tagged_union(union, conv, tag_generator=tag, tag_name=tag_name)
    known = sorted(tag(cls) for cls in classes)

    def unstructure(value: Any) -> Any:
        if type(value) not in classes:
            names = ", ".join(cls.__name__ for cls in classes)
            raise ConfigurationError(
                f"contents_record() cannot record a {type(value).__name__}; use one of: {names}."
            )
        return conv.unstructure(value, unstructure_as=union)

    def structure(value: Any, _: Any) -> Any:
        what = noun.split()[0]
        if not isinstance(value, dict):
            raise _RecordError(f"expected an object for a {what}, got {type(value).__name__}")
        if tag_name not in value:
            raise _RecordError(f'missing the "{tag_name}" tag (known: {", ".join(known)})')
        if value[tag_name] not in known:
            raise _RecordError(f"unknown {noun} {value[tag_name]!r} (known: {', '.join(known)})")
        return conv.structure(value, union)

    conv.register_unstructure_hook_func(lambda t: t is base, unstructure)
    conv.register_structure_hook_func(lambda t: t is base, structure)


def _structure_bytes(value: Any, _: Any) -> bytes:
    """Bytes travel as base64 text; anything else is an error that says so."""
    if not isinstance(value, str):
        raise _RecordError(f"expected base64 text for bytes, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise _RecordError(f"not valid base64: {_preview(value)}") from None


def _structure_scalar(value: Any, cls: type) -> Any:
    """Accept a JSON scalar of the right type only (an int will do for a float)."""
    if cls is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, cls) and (cls is bool or not isinstance(value, bool)):
        return value
    raise _RecordError(f"expected {cls.__name__}, got {type(value).__name__} {_preview(value)}")


def _check_dict(value: Any, what: str) -> Any:
    """A JSON object is required here."""
    if not isinstance(value, dict):
        raise _RecordError(f"expected {what}, got {type(value).__name__}")
    return value


def _check_list(value: Any, what: str) -> Any:
    """A JSON array is required here, not a string or object that happens to iterate."""
    if not isinstance(value, (list, tuple)):
        raise _RecordError(f"expected {what}, got {type(value).__name__}")
    return value


def _preview(value: Any) -> str:
    try:
        text = repr(value)
    except RecursionError:
        return f"<a {type(value).__name__} nested too deeply to show>"
    return text if len(text) <= 40 else text[:37] + "..."


def _format_exception(exc: BaseException, type_: Any) -> str:
    """cattrs' messages, except ours, which already say what is wrong."""
    from cattrs.v import format_exception

    if isinstance(exc, _RecordError):
        return str(exc)
    return format_exception(exc, type_)


def _union(classes: Sequence[type[Any]]) -> Any:
    from typing import Union

    return Union[tuple(classes)]  # noqa: UP007 - a runtime union of classes


def contents_record(x: Any) -> dict[str, Any]:
    """A JSON-ready record of a Chat, a Turn, a Content or a list of turns.

    R: ``contents_record()``.

    The record is versioned and lossless; credentials are never part of it
    (a Chat is recorded as its turns and system prompt, not its provider).
    """
    from ._chat import Chat

    conv = converter()
    if isinstance(x, Chat):
        kind, value = "turns", conv.unstructure(x.get_turns(include_system_prompt=True), list[Turn])
    elif isinstance(x, Turn):
        kind, value = "turn", conv.unstructure(x, Turn)
    elif isinstance(x, Content):
        kind, value = "content", conv.unstructure(x, Content)
    elif (
        isinstance(x, Sequence)
        and not isinstance(x, (str, bytes))
        and all(isinstance(t, Turn) for t in x)
    ):
        kind, value = "turns", conv.unstructure(list(x), list[Turn])
    else:
        raise ConfigurationError(
            "contents_record() takes a Chat, a Turn, a Content or a list of Turns, "
            f"not {type(x).__name__}."
        )
    return {"format": _FORMAT, "version": RECORD_VERSION, "kind": kind, "value": value}


def contents_replay(record: dict[str, Any] | str | bytes) -> Any:
    """Rebuild what ``contents_record()`` recorded (R: ``contents_replay()``).

    Takes the record or its JSON text; returns a list of turns, a Turn or a
    Content. A record that is not one gives an error saying what is wrong.
    """
    import cattrs

    if isinstance(record, (str, bytes)):
        try:
            record = json.loads(record)
        except ValueError as exc:
            raise ConfigurationError(
                f"contents_replay() was given text that is not JSON: {exc}"
            ) from None
        except RecursionError:
            raise ConfigurationError(
                "contents_replay() was given JSON nested too deeply to read; a record made "
                "by contents_record() is never nested that deeply."
            ) from None
    if not isinstance(record, dict):
        raise ConfigurationError(
            "contents_replay() needs a record made by contents_record() (a JSON object), "
            f"not {type(record).__name__}."
        )
    if record.get("format") != _FORMAT:
        raise ConfigurationError(
            f'contents_replay() needs a record made by contents_record(): "format" is '
            f"{record.get('format')!r}, not {_FORMAT!r}."
        )
    version = record.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > RECORD_VERSION:
        raise ConfigurationError(
            f"This record has version {version}; this ellmer-py reads version {RECORD_VERSION}. "
            "Upgrade ellmer-py to read newer records."
        )
    if type(version) is not int or version not in _READABLE_VERSIONS:  # not True, not 1.0
        raise ConfigurationError(
            f'This record has "version" {_preview(version)}; this ellmer-py reads versions '
            f"{', '.join(map(str, _READABLE_VERSIONS))}."
        )
    kinds = {"turns": list[Turn], "turn": Turn, "content": Content}
    kind = record.get("kind")
    target = kinds.get(kind) if isinstance(kind, str) else None
    if target is None:
        raise ConfigurationError(
            f"Unknown record kind {_preview(kind)} (known: content, turn, turns)."
        )
    if "value" not in record:
        raise ConfigurationError('contents_replay() could not read the record: it has no "value".')
    value = record["value"]
    try:
        if target is not Content and target is not Turn:
            _check_list(value, "a list of turns")
        return converter().structure(value, target)
    except RecursionError:
        raise ConfigurationError(
            "contents_replay() could not read the record: it is nested too deeply."
        ) from None
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            messages = cattrs.transform_error(exc, "$.value", _format_exception)
        else:
            messages = [f"{_format_exception(exc, None)} @ $.value"]
        raise ConfigurationError(
            "contents_replay() could not read the record: " + "; ".join(messages)
        ) from None
