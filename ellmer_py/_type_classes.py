"""The Type classes: the tree that describes data (R: ``Type``, ``TypeBasic``, ...).

Only the data: ``type_*()`` and ``as_type()`` (ellmer_py._types) build these
trees, from ``type_*()`` calls or from Python annotations, and
ellmer_py._protocols._schema writes them as JSON Schema. A class takes Type
objects only; ``type_array()`` and ``type_object()`` also take Python types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from attrs import field, frozen

from ._errors import ConfigurationError

__all__ = [
    "Type",
    "TypeArray",
    "TypeBasic",
    "TypeEnum",
    "TypeIgnore",
    "TypeJsonSchema",
    "TypeObject",
]

_BASIC = ("boolean", "integer", "number", "string")


def _check_description(_: Any, attribute: Any, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"description must be a string or None, not {value!r}.")


def _check_required(_: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(f"required must be True or False, not {value!r}.")


@frozen
class Type:
    """Base class of every type specification (R: ``Type``)."""

    description: str | None = field(default=None, kw_only=True, validator=_check_description)
    required: bool = field(default=True, kw_only=True, validator=_check_required)


def _check_basic(_: Any, attribute: Any, value: Any) -> None:
    if value not in _BASIC:
        raise ConfigurationError(
            f"TypeBasic type must be one of {', '.join(_BASIC)}, not {value!r}."
        )


@frozen
class TypeBasic(Type):
    """A scalar: boolean, integer, number or string (R: ``TypeBasic``)."""

    type: str = field(validator=_check_basic)


def _enum_values(values: Any) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ConfigurationError(
            f"type_enum() values must be a list of strings, not {type(values).__name__}."
        )
    out = tuple(values)
    if not out or not all(isinstance(v, str) for v in out):
        raise ConfigurationError("type_enum() values must be a non-empty list of strings.")
    return out


@frozen
class TypeEnum(Type):
    """A string that takes one of a fixed set of values (R: ``TypeEnum``)."""

    values: tuple[str, ...] = field(converter=_enum_values)


def _check_items(_: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, Type):
        raise ConfigurationError(
            f"TypeArray items must be a Type, not {type(value).__name__}; "
            "type_array() also takes a Python type."
        )


@frozen
class TypeArray(Type):
    """A list whose items all have one type (R: ``TypeArray``)."""

    items: Type = field(validator=_check_items)


def _properties(value: Any) -> dict[str, Type]:
    if isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        raise ConfigurationError(
            f"TypeObject properties must be a dict of names to types, not {type(value).__name__}."
        )
    out: dict[str, Type] = {}
    for name, prop in pairs:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"Property names must be non-empty strings, not {name!r}.")
        if not isinstance(prop, Type):
            raise ConfigurationError(
                f"Property {name!r} must be a Type, not {type(prop).__name__}; "
                "type_object() also takes Python types."
            )
        out[name] = prop
    return out


@frozen
class TypeObject(Type):
    """An object with named, typed properties (R: ``TypeObject``)."""

    properties: dict[str, Type] = field(factory=dict, converter=_properties)
    additional_properties: bool = False


def _schema_dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"A JSON schema must be an object, not {type(value).__name__}.")
    return dict(value)


@frozen
class TypeJsonSchema(Type):
    """A type given directly as a JSON schema (R: ``TypeJsonSchema``)."""

    json: dict[str, Any] = field(converter=_schema_dict)


@frozen
class TypeIgnore(Type):
    """A tool argument the model must not provide (R: ``TypeIgnore``)."""
