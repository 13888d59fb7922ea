"""Type specifications for tool arguments and structured data (R: ``type_*()``, ``Type*``).

``type_boolean()``, ``type_integer()``, ``type_number()``, ``type_string()``,
``type_enum()``, ``type_array()``, ``type_object()``, ``type_from_schema()``
and ``type_ignore()`` build a small tree of ``Type`` objects; ``as_type()``
also builds one from a Python annotation (``int``, ``list[str]``,
``Literal[...]``, an ``Enum``, a dataclass, an attrs class or a
``TypedDict``). ``as_json_schema()`` turns a tree into JSON Schema, and
``validate()`` checks a value against the subset of JSON Schema these types
produce.
"""

from __future__ import annotations

import json
import math
import os
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from attrs import evolve, field, frozen

from ._errors import ConfigurationError

__all__ = [
    "Type",
    "TypeArray",
    "TypeBasic",
    "TypeEnum",
    "TypeIgnore",
    "TypeJsonSchema",
    "TypeObject",
    "as_json_schema",
    "as_type",
    "docstring_params",
    "docstring_summary",
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
    "validate",
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


def _item_type(value: Any) -> Type:
    return as_type(value)


@frozen
class TypeArray(Type):
    """A list whose items all have one type (R: ``TypeArray``)."""

    items: Type = field(converter=_item_type)


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
        out[name] = as_type(prop, what=f"property {name!r}")
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
    return TypeArray(items, description=description, required=required)


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
    return TypeObject(properties, description=description, required=required)


def type_from_schema(
    text: str | Mapping[str, Any] | None = None, path: str | os.PathLike[str] | None = None
) -> TypeJsonSchema:
    """A type from a JSON schema given as JSON text (or a dict), or in a file.

    (R: ``type_from_schema()``.) Give exactly one of ``text`` and ``path``.
    """
    if (text is None) == (path is None):
        raise ConfigurationError("type_from_schema() needs exactly one of text= and path=.")
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
    """
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
        schemas = [as_json_schema(_annotation_type(m, seen, what)) for m in members]
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
        "Enum, list[...], a dataclass, an attrs class or a TypedDict, or give the type with "
        "type_*()."
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
    ``Annotated[X, "description"]``, a dataclass, an attrs class or a
    ``TypedDict`` (fields with defaults, and ``NotRequired`` keys, are not
    required).
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


# -- docstrings ------------------------------------------------------------------

_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Attributes|"
    r"Returns|Return|Yields|Raises|Examples?|Notes?|See Also|Warnings?|References)\s*:?\s*$"
)
_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_PARAM_SECTIONS = {
    "args",
    "arguments",
    "parameters",
    "params",
    "keyword args",
    "keyword arguments",
    "attributes",
}


def _clean(doc: str | None) -> list[str]:
    import inspect

    return inspect.cleandoc(doc or "").splitlines()


def docstring_summary(doc: str | None) -> str:
    """The text of a docstring before its first section (Args:, Parameters, :param ...)."""
    lines = _clean(doc)
    out: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _SECTION.match(line) and (
            stripped.endswith(":") or (i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]))
        ):
            break
        if stripped.startswith((":param", ":type", ":return", ":raises", ":rtype")):
            break
        out.append(line)
    return "\n".join(out).strip()


def docstring_params(doc: str | None) -> dict[str, str]:
    """Parameter descriptions from a Google, NumPy or Sphinx style docstring.

    Google: an ``Args:`` (or ``Attributes:``) section of ``name (type): text``
    lines; NumPy: a ``Parameters`` section underlined with dashes, of
    ``name : type`` lines followed by indented text; Sphinx: ``:param name: text``.
    """
    lines = _clean(doc)
    out: dict[str, str] = {}
    # Sphinx
    sphinx = re.compile(r"^\s*:param\s+(?:[^:]*\s)?(\*{0,2}\w+)\s*:\s*(.*)$")
    for i, line in enumerate(lines):
        m = sphinx.match(line)
        if m:
            text = [m.group(2).strip()]
            for more in lines[i + 1 :]:
                if not more.strip() or more.strip().startswith(":"):
                    break
                text.append(more.strip())
            out[m.group(1).lstrip("*")] = " ".join(t for t in text if t)
    i = 0
    while i < len(lines):
        line = lines[i]
        header = _SECTION.match(line)
        numpy = header is not None and i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1])
        google = header is not None and line.strip().endswith(":")
        if not header or not (numpy or google):
            i += 1
            continue
        section = header.group(1).lower()
        i += 2 if numpy else 1
        body: list[str] = []
        while i < len(lines):
            nxt = lines[i]
            if _SECTION.match(nxt) and (
                nxt.strip().endswith(":") or (i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]))
            ):
                break
            if google and nxt.strip() and not nxt[:1].isspace():
                break  # a Google section ends at the next unindented line
            body.append(nxt)
            i += 1
        if section in _PARAM_SECTIONS:
            out.update(_numpy_params(body) if numpy else _google_params(body))
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _google_params(body: list[str]) -> dict[str, str]:
    entries = [ln for ln in body if ln.strip()]
    if not entries:
        return {}
    base = min(_indent(ln) for ln in entries)
    item = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
    out: dict[str, str] = {}
    current: str | None = None
    for line in body:
        if not line.strip():
            continue
        if _indent(line) == base:
            m = item.match(line.strip())
            current = m.group(1).lstrip("*") if m else None
            if m and current:
                out[current] = m.group(2).strip()
        elif current is not None:
            out[current] = (out[current] + " " + line.strip()).strip()
    return out


def _numpy_params(body: list[str]) -> dict[str, str]:
    entries = [ln for ln in body if ln.strip()]
    if not entries:
        return {}
    base = min(_indent(ln) for ln in entries)
    out: dict[str, str] = {}
    current: list[str] = []
    for line in body:
        if not line.strip():
            continue
        if _indent(line) == base:
            names = line.split(":", 1)[0]
            current = [n.strip().lstrip("*") for n in names.split(",") if n.strip()]
            for name in current:
                out[name] = ""
        else:
            for name in current:
                out[name] = (out[name] + " " + line.strip()).strip()
    return out


# -- Type -> JSON schema -----------------------------------------------------------


def as_json_schema(type_: Type, *, strict: bool = False, _nullable: bool = False) -> dict[str, Any]:
    """The JSON schema for a type (R: ``as_json()`` of a ``Type``).

    The neutral schema; ``strict=True`` gives OpenAI's strict dialect. The
    writer and its dialects live with the protocols (ellmer_py._protocols._schema).
    """
    from ._protocols._schema import json_schema

    return json_schema(type_, "openai-strict" if strict else "plain", nullable=_nullable)


# -- validation ----------------------------------------------------------------------


def validate(value: Any, schema: Mapping[str, Any], *, limit: int = 10) -> list[str]:
    """Check ``value`` against a JSON schema; return the problems found ([] if none).

    Covers what ``type_*()`` produce and the common parts of hand-written
    schemas: ``type`` (one or a list), ``enum``, ``const``, ``properties``,
    ``required``, ``additionalProperties``, ``items``, ``prefixItems``,
    ``anyOf`` / ``oneOf`` / ``allOf``, ``not``, local ``$ref`` (``#/$defs/...``,
    ``#/definitions/...``), string, number and array bounds. Other keywords
    are ignored, as JSON Schema says.
    """
    errors: list[str] = []
    _validate(value, schema, "$", schema, errors, limit)
    return errors[:limit]


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and math.isfinite(v) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, (list, tuple)),
    "object": lambda v: isinstance(v, dict),
}


def json_type_name(value: Any) -> str:
    """The JSON name of a Python value's type, for messages."""
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _JSON_TYPES[name](value):
            return name
    return type(value).__name__


def _preview(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if not ref.startswith("#"):
        return None
    node: Any = root
    for part in ref[1:].split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, Mapping) else None


def _validate(
    value: Any,
    schema: Any,
    path: str,
    root: Mapping[str, Any],
    errors: list[str],
    limit: int,
) -> None:
    if len(errors) >= limit or schema is True or not isinstance(schema, Mapping):
        if schema is False:
            errors.append(f"{path}: no value is allowed here")
        return
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _resolve(ref, root)
        if target is None:
            errors.append(f"{path}: cannot follow $ref {ref!r}")
            return
        _validate(value, target, path, root, errors, limit)
    kind = schema.get("type")
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        if not any(_JSON_TYPES.get(k, lambda v: True)(value) for k in kinds):
            wanted = " or ".join(kinds)
            errors.append(
                f"{path}: expected {wanted}, got {json_type_name(value)} {_preview(value)}"
            )
            return
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        allowed = ", ".join(_preview(e) for e in schema["enum"])
        errors.append(f"{path}: {_preview(value)} is not one of {allowed}")
    if "const" in schema and not _same(value, schema["const"]):
        errors.append(f"{path}: expected {_preview(schema['const'])}, got {_preview(value)}")
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            matches = 0
            for option in options:
                sub: list[str] = []
                _validate(value, option, path, root, sub, limit)
                matches += not sub
            if matches == 0:
                errors.append(f"{path}: {_preview(value)} matches none of the allowed schemas")
            elif key == "oneOf" and matches > 1:
                errors.append(f"{path}: {_preview(value)} matches more than one allowed schema")
    for option in schema.get("allOf") or ():
        _validate(value, option, path, root, errors, limit)
    if "not" in schema:
        sub = []
        _validate(value, schema["not"], path, root, sub, limit)
        if not sub:
            errors.append(f"{path}: {_preview(value)} matches a schema it must not match")
    if isinstance(value, dict):
        _validate_object(value, schema, path, root, errors, limit)
    elif isinstance(value, (list, tuple)):
        _validate_array(value, schema, path, root, errors, limit)
    elif isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']} characters")
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                if re.search(pattern, value) is None:
                    errors.append(f"{path}: {_preview(value)} does not match {pattern!r}")
            except re.error:
                pass
    elif _JSON_TYPES["number"](value):
        _validate_number(value, schema, path, errors)


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _validate_object(
    value: dict[str, Any],
    schema: Mapping[str, Any],
    path: str,
    root: Mapping[str, Any],
    errors: list[str],
    limit: int,
) -> None:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    for name in schema.get("required") or ():
        if name not in value:
            errors.append(f"{path}: missing required property {name!r}")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        sub_path = f"{path}.{name}" if re.fullmatch(r"\w+", name) else f"{path}[{name!r}]"
        if name in properties:
            _validate(item, properties[name], sub_path, root, errors, limit)
        elif extra is False:
            errors.append(f"{path}: unexpected property {name!r}")
        elif isinstance(extra, Mapping):
            _validate(item, extra, sub_path, root, errors, limit)


def _validate_array(
    value: list[Any] | tuple[Any, ...],
    schema: Mapping[str, Any],
    path: str,
    root: Mapping[str, Any],
    errors: list[str],
    limit: int,
) -> None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(f"{path}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{path}: more than {schema['maxItems']} items")
    prefix = schema.get("prefixItems")
    start = 0
    if isinstance(prefix, list):
        for i, sub in enumerate(prefix[: len(value)]):
            _validate(value[i], sub, f"{path}[{i}]", root, errors, limit)
        start = len(prefix)
    items = schema.get("items")
    if isinstance(items, (Mapping, bool)):
        for i in range(start, len(value)):
            _validate(value[i], items, f"{path}[{i}]", root, errors, limit)
    if schema.get("uniqueItems") is True:
        seen: list[Any] = []
        for item in value:
            if any(_same(item, s) for s in seen):
                errors.append(f"{path}: items are not unique")
                break
            seen.append(item)


def _validate_number(value: Any, schema: Mapping[str, Any], path: str, errors: list[str]) -> None:
    checks: list[tuple[str, Callable[[Any, Any], bool], str]] = [
        ("minimum", lambda v, b: v >= b, "less than"),
        ("maximum", lambda v, b: v <= b, "greater than"),
        ("exclusiveMinimum", lambda v, b: v > b, "not greater than"),
        ("exclusiveMaximum", lambda v, b: v < b, "not less than"),
    ]
    for key, ok, words in checks:
        bound = schema.get(key)
        if isinstance(bound, (int, float)) and not isinstance(bound, bool) and not ok(value, bound):
            errors.append(f"{path}: {_preview(value)} is {words} {bound}")
    step = schema.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0:
        ratio = value / step
        if not math.isclose(ratio, round(ratio), abs_tol=1e-9):
            errors.append(f"{path}: {_preview(value)} is not a multiple of {step}")
