"""Type specifications for tool arguments and structured data (R: ``type_*()``, ``Type*``).

``type_boolean()``, ``type_integer()``, ``type_number()``, ``type_string()``,
``type_enum()``, ``type_array()``, ``type_object()``, ``type_from_schema()``
and ``type_ignore()`` build a small tree of ``Type`` objects (the classes
live in ellmer_py._type_classes); ``as_type()`` also builds one from a
Python annotation (``int``, ``list[str]``, ``Literal[...]``, an ``Enum``, a
dataclass, an attrs class, a ``TypedDict`` or a pydantic model). Writing a tree as JSON
Schema is ellmer_py._protocols._schema's job (``as_json_schema()``); a union
annotation becomes an ``anyOf`` of its members' schemas, so this module uses
that writer. Checking a value against a schema is ellmer_py._validate's.
"""

from __future__ import annotations

import json
import os
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import evolve

from ._docstrings import docstring_params, docstring_summary
from ._errors import ConfigurationError
from ._protocols._schema import plain_schema
from ._pydantic import field_description, is_pydantic_model, model_fields_of, model_type
from ._type_classes import (
    Type,
    TypeArray,
    TypeBasic,
    TypeEnum,
    TypeIgnore,
    TypeJsonSchema,
    TypeObject,
)

__all__ = [
    "Type",
    "TypeArray",
    "TypeBasic",
    "TypeEnum",
    "TypeIgnore",
    "TypeJsonSchema",
    "TypeObject",
    "as_type",
    "fields_of",
    "is_optional",
    "is_type_like",
    "type_array",
    "type_boolean",
    "type_enum",
    "type_from_schema",
    "type_ignore",
    "type_integer",
    "type_number",
    "type_object",
    "type_string",
]


# -- the type_*() functions -----------------------------------------------------


def type_boolean(description: str | None = None, required: bool = True) -> TypeBasic:
    """A boolean (R: ``type_boolean()``)."""
    return TypeBasic("boolean", description=description, required=required)


def type_integer(description: str | None = None, required: bool = True) -> TypeBasic:
    """An integer (R: ``type_integer()``)."""
    return TypeBasic("integer", description=description, required=required)


def type_number(description: str | None = None, required: bool = True) -> TypeBasic:
    """A number (R: ``type_number()``)."""
    return TypeBasic("number", description=description, required=required)


def type_string(description: str | None = None, required: bool = True) -> TypeBasic:
    """A string (R: ``type_string()``)."""
    return TypeBasic("string", description=description, required=required)


def type_enum(
    values: Iterable[str], description: str | None = None, required: bool = True
) -> TypeEnum:
    """A string that must be one of ``values`` (R: ``type_enum()``)."""
    return TypeEnum(values, description=description, required=required)


def type_array(items: Any, description: str | None = None, required: bool = True) -> TypeArray:
    """A list of ``items`` (R: ``type_array()``).

    ``items`` is a ``type_*()`` type or a Python annotation (``int``, a dataclass, ...).
    """
    return TypeArray(as_type(items), description=description, required=required)


def type_object(_description: str | None = None, /, **properties: Any) -> TypeObject:
    """An object with named, typed properties (R: ``type_object()``).

    ``type_object("A person", name=type_string(), age=type_integer())``.
    R's ``.description`` and ``.required`` are the first positional argument
    (or ``description=`` given a string) and ``required=`` given True or
    False; a property that happens to be called ``description`` or
    ``required`` is recognised by its value being a type.
    """
    description = _description
    required = True
    if isinstance(properties.get("description"), str) or (
        "description" in properties and properties["description"] is None
    ):
        if _description is not None:
            raise ConfigurationError("type_object() got the description twice.")
        description = properties.pop("description")
    if isinstance(properties.get("required"), bool):
        required = properties.pop("required")
    converted = {
        name: as_type(prop, what=f"property {name!r}") for name, prop in properties.items()
    }
    return TypeObject(converted, description=description, required=required)


def type_from_schema(
    text: str | Mapping[str, Any] | type | None = None,
    path: str | os.PathLike[str] | None = None,
) -> TypeJsonSchema:
    """A type from a JSON schema given as JSON text (or a dict), or in a file.

    (R: ``type_from_schema()``.) Give exactly one of ``text`` and ``path``.
    ``text`` may also be a pydantic model class: its JSON schema, references
    inlined (answers then come back as dicts; give the model itself to
    ``chat_structured()`` for model instances).
    """
    if (text is None) == (path is None):
        raise ConfigurationError("type_from_schema() needs exactly one of text= and path=.")
    if is_pydantic_model(text):
        return TypeJsonSchema(plain_schema(model_type(text)))  # type: ignore[arg-type]
    if isinstance(text, type):
        raise ConfigurationError(
            f"type_from_schema() takes JSON schema text, a dict or a pydantic model, not the "
            f"class {text.__name__}; give a Python class to chat_structured(), type_array() or "
            "type_object() as it is."
        )
    if path is not None:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    if isinstance(text, Mapping):
        return TypeJsonSchema(text)
    try:
        doc = json.loads(text)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigurationError(
            f"type_from_schema(): the schema is not valid JSON: {exc}"
        ) from None
    return TypeJsonSchema(doc)


def type_ignore() -> TypeIgnore:
    """A tool argument the model should not provide; the function's default is used.

    (R: ``type_ignore()``.)
    """
    return TypeIgnore()


# -- Python annotations -> Type ---------------------------------------------------


def is_type_like(x: Any) -> bool:
    """Whether ``as_type()`` could be given ``x`` (a Type, a class or a typing form)."""
    return isinstance(x, (Type, type)) or typing.get_origin(x) is not None


def _is_typeddict(x: Any) -> bool:
    return isinstance(x, type) and typing.is_typeddict(x)


def _is_dataclass(x: Any) -> bool:
    return isinstance(x, type) and "__dataclass_fields__" in vars(x)


def _is_attrs(x: Any) -> bool:
    return isinstance(x, type) and hasattr(x, "__attrs_attrs__")


def _is_enum(x: Any) -> bool:
    import enum

    try:
        return isinstance(x, type) and issubclass(x, enum.Enum)
    except TypeError:  # a generic alias such as list[int] passes isinstance(x, type)
        return False


_NONE_TYPE = type(None)


def is_optional(annotation: Any) -> bool:
    """Whether an annotation admits None (``X | None``, ``Optional[X]``, ``Any``)."""
    if annotation is Any or annotation is None or annotation is _NONE_TYPE:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return is_optional(typing.get_args(annotation)[0])
    if _is_union(origin):
        return any(a is _NONE_TYPE for a in typing.get_args(annotation))
    return False


def _is_union(origin: Any) -> bool:
    import types

    return origin is typing.Union or origin is getattr(types, "UnionType", typing.Union)


def _type_hints(obj: Any) -> dict[str, Any]:
    """Resolved type hints, with a clear error for names that cannot be resolved."""
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except (NameError, TypeError) as exc:
        name = getattr(obj, "__qualname__", repr(obj))
        raise ConfigurationError(
            f"Could not read the type hints of {name}: {exc}. Define the types it uses at "
            "module level, or give the types explicitly with type_*()."
        ) from None


def _class_doc(cls: type) -> str:
    doc = cls.__doc__ or ""
    # dataclasses make up a docstring from the signature: it describes nothing.
    if _is_dataclass(cls) and doc.startswith(cls.__name__ + "("):
        return ""
    if doc == getattr(dict, "__doc__", None) or doc == getattr(object, "__doc__", None):
        return ""
    # Python 3.10 gives every Enum without a docstring this one.
    if doc == "An enumeration." and _is_enum(cls):
        return ""
    return doc


def _field_defaults(cls: type) -> dict[str, bool]:
    """For a dataclass or attrs class: field name -> whether it has a default."""
    if _is_dataclass(cls):
        import dataclasses

        return {
            f.name: f.default is not dataclasses.MISSING
            or f.default_factory is not dataclasses.MISSING
            for f in dataclasses.fields(cls)
            if f.init
        }
    import attrs

    return {a.name: a.default is not attrs.NOTHING for a in attrs.fields(cls) if a.init}


def _field_metadata(cls: type) -> dict[str, Mapping[str, Any]]:
    if _is_dataclass(cls):
        import dataclasses

        return {f.name: f.metadata for f in dataclasses.fields(cls)}
    if _is_attrs(cls):
        import attrs

        return {a.name: a.metadata for a in attrs.fields(cls)}
    return {}


def fields_of(cls: type) -> list[tuple[str, Any, bool]]:
    """(name, annotation, required) for each field of a dataclass, attrs class or TypedDict.

    ``required`` is False for a field with a default (or a ``NotRequired`` key).
    A pydantic model's fields are named by their aliases, as in its schema.
    """
    if is_pydantic_model(cls):
        return model_fields_of(cls)
    hints = _type_hints(cls)
    if _is_typeddict(cls):
        required_keys = getattr(cls, "__required_keys__", frozenset(hints))
        return [(name, hint, name in required_keys) for name, hint in hints.items()]
    defaults = _field_defaults(cls)
    return [(name, hints.get(name, Any), not has) for name, has in defaults.items()]


def _object_type(cls: type, seen: frozenset[Any]) -> TypeObject:
    if cls in seen:
        raise ConfigurationError(
            f"{cls.__name__} refers to itself; recursive types cannot be described to a model."
        )
    seen = seen | {cls}
    doc = _class_doc(cls)
    param_docs = docstring_params(doc)
    metadata = _field_metadata(cls)
    properties: dict[str, Type] = {}
    for name, hint, required in fields_of(cls):
        description = metadata.get(name, {}).get("description") or param_docs.get(name)
        prop = _annotation_type(hint, seen, what=f"{cls.__name__}.{name}")
        properties[name] = evolve(
            prop,
            description=description if description is not None else prop.description,
            required=required and not is_optional(hint),
        )
    return TypeObject(properties, description=docstring_summary(doc) or None)


def _annotation_type(annotation: Any, seen: frozenset[Any], what: str) -> Type:
    if isinstance(annotation, Type):
        return annotation
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        inner = _annotation_type(args[0], seen, what)
        description = next((a for a in args[1:] if isinstance(a, str)), None)
        description = description or field_description(args[1:])
        explicit = next((a for a in args[1:] if isinstance(a, Type)), None)
        if explicit is not None:
            inner = explicit
        return evolve(inner, description=description) if description is not None else inner
    if annotation is bool:
        return TypeBasic("boolean")
    if annotation is int:
        return TypeBasic("integer")
    if annotation is float:
        return TypeBasic("number")
    if annotation is str:
        return TypeBasic("string")
    if origin is typing.Literal:
        if all(isinstance(a, str) for a in args):
            return TypeEnum(args)
        return TypeJsonSchema({"enum": list(args)})
    if _is_enum(annotation):
        values = [m.value for m in annotation]
        doc = docstring_summary(_class_doc(annotation)) or None
        if all(isinstance(v, str) for v in values):
            return TypeEnum(values, description=doc)
        return TypeJsonSchema({"enum": values}, description=doc)
    if _is_union(origin):
        members = [a for a in args if a is not _NONE_TYPE]
        if len(members) == 1:
            return _annotation_type(members[0], seen, what)
        schemas = [plain_schema(_annotation_type(m, seen, what)) for m in members]
        if len(members) < len(args):
            schemas.append({"type": "null"})
        return TypeJsonSchema({"anyOf": schemas})
    if origin in (list, tuple, set, frozenset) or _is_abc_sequence(origin):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise ConfigurationError(
                f"{what}: only tuple[X, ...] can be described to a model, not {annotation!r}; "
                "use list[X] or a dataclass."
            )
        if not args:
            raise ConfigurationError(f"{what}: say what the items are, e.g. list[str].")
        return TypeArray(_annotation_type(args[0], seen, what))
    if annotation in (list, tuple, set, frozenset):
        raise ConfigurationError(f"{what}: say what the items are, e.g. list[str].")
    if is_pydantic_model(annotation):
        return model_type(annotation)
    if _is_dataclass(annotation) or _is_attrs(annotation) or _is_typeddict(annotation):
        return _object_type(annotation, seen)
    if annotation is Any or annotation is _MISSING:
        raise ConfigurationError(
            f"{what} has no type hint (or is Any), so it cannot be described to a model: "
            "add a type hint, or give the type with type_*()."
        )
    name = getattr(annotation, "__name__", None) or repr(annotation)
    raise ConfigurationError(
        f"{what}: cannot describe {name} to a model; use bool, int, float, str, Literal, an "
        "Enum, list[...], a dataclass, an attrs class, a TypedDict or a pydantic model, or give "
        "the type with type_*()."
    )


def _is_abc_sequence(origin: Any) -> bool:
    import collections.abc as abc

    return origin in (abc.Sequence, abc.MutableSequence, abc.Set, abc.Iterable, abc.Collection)


class _Missing:
    def __repr__(self) -> str:
        return "<no annotation>"


_MISSING: Any = _Missing()


def as_type(x: Any, *, what: str = "type") -> Type:
    """A Type for a ``type_*()`` value or a Python annotation.

    Python annotations: ``bool``, ``int``, ``float``, ``str``,
    ``Literal[...]``, an ``Enum``, ``list[X]``, ``X | None``,
    ``Annotated[X, "description"]`` (or a pydantic ``Field(description=...)``),
    a dataclass, an attrs class, a ``TypedDict`` or a pydantic model (fields
    with defaults, and ``NotRequired`` keys, are not required).
    """
    if isinstance(x, Type):
        return x
    if x is None:
        raise ConfigurationError(f"{what} is None; give a type_*() type or a Python type.")
    if not is_type_like(x) and x is not Any and x is not _MISSING:
        raise ConfigurationError(
            f"{what} must be a type_*() type or a Python type, not {type(x).__name__} {x!r:.40}."
        )
    return _annotation_type(x, frozenset(), what)
