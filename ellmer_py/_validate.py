"""Checking a value against a JSON schema: ``validate()``.

Covers the schemas ``type_*()`` produce (ellmer_py._protocols._schema
writes them) and the common parts of hand-written ones; used for tool
arguments and structured answers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["json_type_name", "validate"]


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
