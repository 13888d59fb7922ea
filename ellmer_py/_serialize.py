"""Record and replay turns as versioned JSON (R: ``contents_record()``, ``contents_replay()``).

One private cattrs Converter owns every hook: Content classes and Turns are
tagged unions keyed on their ``kind`` / ``role``; bytes travel as base64.
cattrs is imported the first time something is recorded or replayed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
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
    ContentToolResult,
)
from ._errors import ConfigurationError
from ._turn import AssistantPartialTurn, AssistantTurn, SystemTurn, Turn, UserTurn

if TYPE_CHECKING:
    import cattrs

__all__ = ["RECORD_VERSION", "contents_record", "contents_replay", "converter"]

RECORD_VERSION = 1
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
)
TURN_CLASSES: dict[str, type[Turn]] = {
    "user": UserTurn,
    "system": SystemTurn,
    "assistant": AssistantTurn,
    "assistant_partial": AssistantPartialTurn,
}
_TURN_TAG = {cls: tag for tag, cls in TURN_CLASSES.items()}
_CONTENT_BY_KIND = {cls.kind: cls for cls in CONTENT_CLASSES}


@cache
def converter() -> cattrs.Converter:
    """The one configured cattrs Converter for ellmer-py's data model."""
    import cattrs
    from cattrs.strategies import configure_tagged_union

    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_unstructure_hook(bytes, lambda b: base64.b64encode(b).decode("ascii"))
    conv.register_structure_hook(bytes, lambda v, _: base64.b64decode(v, validate=True))
    conv.register_unstructure_hook(Any, lambda v: v)  # type: ignore[arg-type]
    conv.register_structure_hook(Any, lambda v, _: v)  # type: ignore[arg-type]
    # Order matters: cattrs builds each class's hook when the union is
    # configured, so Content's hooks must exist before the Turn union is made.
    # Fields typed with a base class (Turn.contents) go through its union.
    for base, classes, tag_name, tag in (
        (Content, CONTENT_CLASSES, "kind", lambda cls: cls.kind),
        (Turn, tuple(TURN_CLASSES.values()), "role", _TURN_TAG.__getitem__),
    ):
        union = _union(classes)
        configure_tagged_union(union, conv, tag_generator=tag, tag_name=tag_name)
        conv.register_unstructure_hook_func(
            lambda t, base=base: t is base,
            lambda v, union=union: conv.unstructure(v, unstructure_as=union),
        )
        conv.register_structure_hook_func(
            lambda t, base=base: t is base,
            lambda v, _, union=union: conv.structure(v, union),
        )
    return conv


def _union(classes: Sequence[type[Any]]) -> Any:
    from typing import Union

    return Union[tuple(classes)]  # noqa: UP007 - a runtime union of classes


def contents_record(x: Any) -> dict[str, Any]:
    """A JSON-ready record of a Chat's turns, a Turn, a Content, or a list of turns (R: ``contents_record()``).

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
    elif isinstance(x, Sequence) and not isinstance(x, (str, bytes)) and all(isinstance(t, Turn) for t in x):
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
            raise ConfigurationError(f"contents_replay() was given text that is not JSON: {exc}") from None
    if not isinstance(record, dict) or record.get("format") != _FORMAT:
        raise ConfigurationError("contents_replay() needs a record made by contents_record().")
    version = record.get("version")
    if version != RECORD_VERSION:
        raise ConfigurationError(
            f"This record has version {version!r}; this ellmer-py reads version {RECORD_VERSION}. "
            "Upgrade ellmer-py to read newer records."
        )
    kinds = {"turns": list[Turn], "turn": Turn, "content": Content}
    target = kinds.get(record.get("kind"))  # type: ignore[arg-type]
    if target is None:
        raise ConfigurationError(f"Unknown record kind {record.get('kind')!r}.")
    try:
        return converter().structure(record.get("value"), target)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        detail = "; ".join(cattrs.transform_error(exc)) if isinstance(exc, cattrs.BaseValidationError) else str(exc)
        raise ConfigurationError(f"contents_replay() could not read the record: {detail}") from None
