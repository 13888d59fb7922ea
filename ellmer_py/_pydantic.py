"""pydantic models as types: their schema as a Type tree, their validation on answers.

A pydantic model (a subclass of pydantic v2's ``BaseModel``, or of the v1
``BaseModel`` that ``pydantic.v1`` still ships) can be given wherever a
dataclass can: ``chat_structured(type=Model)``, ``list[Model]``, a field of a
dataclass, a tool argument. Its JSON schema (``model_json_schema()``) becomes
a Type tree, references inlined, so each protocol writes it in its dialect
(OpenAI strict included); answers are validated by the model itself
(``model_validate()``), so they come back as model instances.

pydantic is never imported here, and is not a dependency: a model class can
only exist once its owner imported pydantic, so the base classes are looked
up in ``sys.modules``, and with no pydantic loaded nothing is a model.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import evolve

from ._errors import ConfigurationError
from ._protocols._schema import plain_schema
from ._type_classes import Type, TypeArray, TypeBasic, TypeEnum, TypeJsonSchema, TypeObject

__all__ = [
    "ModelValidationError",
    "dump_model",
    "field_description",
    "is_pydantic_model",
    "model_fields_of",
    "model_type",
    "validate_model",
]

#: Where each pydantic generation keeps its BaseModel (v1's own package, and v2's v1 copy).
_BASE_MODULES = ("pydantic.main", "pydantic.v1.main")
_BASIC = ("boolean", "integer", "number", "string")
#: Keywords that describe a schema without constraining it, dropped from leaves.
_NOTES = ("title", "default", "examples", "description", "$defs", "definitions")


class ModelValidationError(ValueError):
    """pydantic refused the data; the message lists each problem as ``location: message``."""


def _bases() -> tuple[type, ...]:
    found = (getattr(sys.modules.get(name), "BaseModel", None) for name in _BASE_MODULES)
    return tuple(b for b in found if isinstance(b, type))


def is_pydantic_model(x: Any) -> bool:
    """Whether ``x`` is a pydantic model class (v2, or v1 style); never imports pydantic."""
    if not isinstance(x, type):
        return False
    bases = _bases()
    try:
        return bool(bases) and issubclass(x, bases)
    except TypeError:  # a generic alias such as list[int] passes isinstance(x, type)
        return False


def _is_v2(cls: type) -> bool:
    return hasattr(cls, "model_json_schema")


def field_description(metadata: Iterable[Any]) -> str | None:
    """The description of a pydantic ``Field(...)`` among ``Annotated`` metadata, if any."""
    field_info = getattr(sys.modules.get("pydantic.fields"), "FieldInfo", None)
    v1_info = getattr(sys.modules.get("pydantic.v1.fields"), "FieldInfo", None)
    kinds = tuple(k for k in (field_info, v1_info) if isinstance(k, type))
    for item in metadata:
        if kinds and isinstance(item, kinds):
            description = getattr(item, "description", None)
            if isinstance(description, str):
                return description
    return None


def model_fields_of(cls: type) -> list[tuple[str, Any, bool]]:
    """(key in the JSON, annotation, required) for each field of a pydantic model.

    The key is the field's alias when it has one, as in the model's schema.
    """
    if _is_v2(cls):
        out = []
        for name, info in cls.model_fields.items():  # type: ignore[attr-defined]
            alias = info.validation_alias
            key = alias if isinstance(alias, str) else (info.alias or name)
            out.append((key, info.annotation, info.is_required()))
        return out
    return [
        (f.alias, getattr(f, "annotation", f.outer_type_), f.required is True)
        for f in cls.__fields__.values()  # type: ignore[attr-defined]
    ]


def validate_model(value: Any, cls: type) -> Any:
    """An instance of the model made from JSON data (``model_validate()``; v1 ``parse_obj()``).

    Raises ModelValidationError listing what pydantic refused.
    """
    try:
        if _is_v2(cls):
            return cls.model_validate(value)  # type: ignore[attr-defined]
        return cls.parse_obj(value)  # type: ignore[attr-defined]
    except ValueError as exc:  # pydantic's ValidationError, v1 and v2
        errors = getattr(exc, "errors", None)
        if not callable(errors):
            raise ModelValidationError(f"{cls.__name__}: {exc}") from None
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ())) or '$'}: {e.get('msg', '')}"
            for e in errors()
        ]
        raise ModelValidationError(f"{cls.__name__} refused it: " + "; ".join(problems)) from None


def dump_model(model: Any) -> Any:
    """A model instance as plain JSON data (``model_dump(mode="json")``; v1 ``.json()``)."""
    if hasattr(model, "model_dump"):
        return model.model_dump(mode="json")
    import json

    return json.loads(model.json())


# -- the model's JSON schema -> a Type tree -------------------------------------------


def model_type(cls: type) -> Type:
    """The Type tree for a model's JSON schema: objects, arrays, scalars and enums as Types.

    References (``$defs``, v1 ``definitions``) are inlined; a property that
    pydantic allows to be null or to be left out is not required; a
    property's own description wins over its model's docstring. Schemas
    that are none of those (a ``dict[str, X]``, a union, a string with a
    ``format`` or bounds) are kept as JSON Schema, references inlined.
    """
    schema = cls.model_json_schema() if _is_v2(cls) else cls.schema()  # type: ignore[attr-defined]
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    return _Reader(defs, cls.__name__).read(schema, frozenset())


class _Reader:
    def __init__(self, defs: Mapping[str, Any], name: str) -> None:
        self.defs = defs
        self.name = name

    def resolve(self, ref: str, seen: frozenset[str]) -> dict[str, Any]:
        if ref in seen:
            raise ConfigurationError(
                f"{self.name} refers to itself ({ref}); recursive types cannot be described "
                "to a model."
            )
        for prefix in ("#/$defs/", "#/definitions/"):
            if ref.startswith(prefix) and ref[len(prefix) :] in self.defs:
                return dict(self.defs[ref[len(prefix) :]])
        raise ConfigurationError(
            f"{self.name}: its JSON schema refers to {ref}, not defined in it."
        )

    def read(self, schema: Mapping[str, Any], seen: frozenset[str]) -> Type:
        description = schema.get("description")
        ref = _ref_of(schema)
        if ref is not None:
            inner = self.read(self.resolve(ref, seen), seen | {ref})
            return evolve(inner, description=description) if description is not None else inner
        kind = schema.get("type")
        if kind == "object" and "properties" in schema:
            return self.read_object(schema, seen)
        if kind == "array" and isinstance(schema.get("items"), Mapping):
            return TypeArray(self.read(schema["items"], seen), description=description)
        rest = {k: v for k, v in schema.items() if k not in _NOTES}
        if set(rest) == {"type"} and kind in _BASIC:
            return TypeBasic(kind, description=description)
        values = [rest["const"]] if "const" in rest else rest.get("enum")
        if (
            set(rest) <= {"type", "enum", "const"}
            and kind in (None, "string")
            and values
            and all(isinstance(v, str) for v in values)
        ):
            return TypeEnum(values, description=description)
        members = rest.pop("anyOf", None) or rest.pop("oneOf", None)
        if isinstance(members, list):
            rest.pop("discriminator", None)
            rest["anyOf"] = [plain_schema(self.read(m, seen)) for m in members]
        json = self.inline(rest, seen)
        return TypeJsonSchema(
            {**json, "description": description} if description is not None else json
        )

    def read_object(self, schema: Mapping[str, Any], seen: frozenset[str]) -> TypeObject:
        required = set(schema.get("required", ()))
        properties: dict[str, Type] = {}
        for name, prop in schema["properties"].items():
            prop, nullable = _without_null(prop)
            properties[name] = evolve(
                self.read(prop, seen), required=name in required and not nullable
            )
        return TypeObject(
            properties,
            description=schema.get("description"),
            additional_properties=schema.get("additionalProperties") is True,
        )

    def inline(self, value: Any, seen: frozenset[str]) -> Any:
        """A schema fragment with every ``$ref`` replaced by what it refers to, titles dropped."""
        if isinstance(value, list):
            return [self.inline(v, seen) for v in value]
        if not isinstance(value, Mapping):
            return value
        ref = value.get("$ref")
        if isinstance(ref, str):
            target = self.resolve(ref, seen)
            siblings = {k: v for k, v in value.items() if k != "$ref"}
            return self.inline({**target, **siblings}, seen | {ref})
        return {
            k: self.inline(v, seen)
            for k, v in value.items()
            if k not in ("title", "$defs", "definitions")
        }


def _ref_of(schema: Mapping[str, Any]) -> str | None:
    """The reference a schema is: ``{"$ref": ...}``, or v1's ``{"allOf": [{"$ref": ...}]}``."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and set(all_of[0]) == {"$ref"}:
        return str(all_of[0]["$ref"])
    return None


def _without_null(schema: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """``anyOf: [X, null]`` as X and True (the property may be null); others as they are."""
    members = schema.get("anyOf")
    if not isinstance(members, list):
        return schema, False
    others = [m for m in members if m != {"type": "null"}]
    if len(others) == len(members):
        return schema, False
    notes = {k: v for k, v in schema.items() if k in ("description",)}
    if len(others) == 1:
        return {**others[0], **notes}, True
    return {**schema, "anyOf": others}, True
