"""JSON Schema from the type system, in each protocol's dialect: the one writer.

The type system (ellmer_py._types, its classes in ellmer_py._type_classes)
describes data; this module, and only this module, writes it as JSON Schema.
``"plain"`` is the neutral schema (Anthropic, Bedrock); ``"openai-strict"``
is OpenAI's strict form (R: the ``ProviderOpenAICompatible`` method for
``TypeObject``): every property listed as required, the optional ones
nullable, and ``additional_properties`` refused.
"""

from __future__ import annotations

from typing import Any, Literal

from .._errors import ConfigurationError
from .._type_classes import (
    Type,
    TypeArray,
    TypeBasic,
    TypeEnum,
    TypeIgnore,
    TypeJsonSchema,
    TypeObject,
)

__all__ = [
    "Dialect",
    "as_json_schema",
    "gemini_schema",
    "json_schema",
    "plain_schema",
    "strict_schema",
]

Dialect = Literal["plain", "openai-strict"]


def json_schema(
    type_: Type, dialect: Dialect = "plain", *, nullable: bool = False
) -> dict[str, Any]:
    """The JSON schema for ``type_`` in ``dialect``; ``nullable`` lets optional fields be null."""
    return _schema(type_, dialect == "openai-strict", nullable)


def as_json_schema(type_: Type, *, strict: bool = False, _nullable: bool = False) -> dict[str, Any]:
    """The JSON schema for a type (R: ``as_json()`` of a ``Type``).

    The neutral schema; ``strict=True`` gives OpenAI's strict dialect.
    ``_nullable`` lets optional properties be null (for checking answers).
    """
    return _schema(type_, strict, _nullable)


def plain_schema(type_: Type) -> dict[str, Any]:
    """The neutral JSON schema (Anthropic, Bedrock)."""
    return _schema(type_, False, False)


def strict_schema(type_: Type) -> dict[str, Any]:
    """OpenAI's strict dialect."""
    return _schema(type_, True, False)


def gemini_schema(type_: Type) -> dict[str, Any]:
    """Gemini's subset (R: the ``ProviderGoogleGemini`` method for ``TypeObject``).

    No ``additionalProperties`` (an object that allows them is refused), no
    empty descriptions, and an object with no properties is ``{}``.
    """
    return _gemini(type_)


def _gemini(t: Type) -> dict[str, Any]:
    if isinstance(t, TypeObject):
        if t.additional_properties:
            raise ConfigurationError("additional_properties is not supported by Gemini.")
        props = {n: p for n, p in t.properties.items() if not isinstance(p, TypeIgnore)}
        if not props:
            return {}
        out: dict[str, Any] = {"type": "object"}
        if t.description:
            out["description"] = t.description
        out["properties"] = {n: _gemini(p) for n, p in props.items()}
        out["required"] = [n for n, p in props.items() if p.required]
        return out
    if isinstance(t, TypeArray):
        out = {"type": "array", "items": _gemini(t.items)}
        if t.description:
            out = {"type": "array", "description": t.description, "items": out["items"]}
        return out
    schema = _schema(t, False, False)
    if not schema.get("description"):
        schema.pop("description", None)
    return schema


def _schema(t: Type, strict: bool, nullable: bool) -> dict[str, Any]:
    description = t.description or ""
    if isinstance(t, TypeBasic):
        return {"type": t.type, "description": description}
    if isinstance(t, TypeEnum):
        return {"type": "string", "description": description, "enum": list(t.values)}
    if isinstance(t, TypeArray):
        return {
            "type": "array",
            "description": description,
            "items": _schema(t.items, strict, nullable),
        }
    if isinstance(t, TypeJsonSchema):
        return dict(t.json)
    if isinstance(t, TypeObject):
        props = {n: p for n, p in t.properties.items() if not isinstance(p, TypeIgnore)}
        if strict and t.additional_properties:
            raise ConfigurationError(
                "additional_properties is not supported by OpenAI-compatible strict schemas."
            )
        properties: dict[str, Any] = {}
        for name, prop in props.items():
            schema = _schema(prop, strict, nullable)
            if (strict or nullable) and not prop.required:
                schema = _or_null(schema)
            properties[name] = schema
        required = list(props) if strict else [n for n, p in props.items() if p.required]
        return {
            "type": "object",
            "description": description,
            "properties": properties,
            "required": required,
            "additionalProperties": t.additional_properties,
        }
    if isinstance(t, TypeIgnore):
        raise ConfigurationError("type_ignore() can only be used for a tool's arguments.")
    raise ConfigurationError(f"Unknown type {type(t).__name__}.")


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema, also accepting null."""
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"] if kind != "null" else kind
    elif isinstance(kind, list):
        out["type"] = kind if "null" in kind else [*kind, "null"]
    else:
        return {"anyOf": [schema, {"type": "null"}]}
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out
