"""Type specifications (``ellmer_py._types``): ``type_*()``, annotations, schemas, validation.

The JSON schemas are R ellmer's (``as_json()`` of each ``Type``; the
OpenAI-compatible strict form of ``TypeObject``); the validator covers what
the types produce.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, TypedDict

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ellmer_py import (
    ConfigurationError,
    Type,
    TypeArray,
    TypeBasic,
    TypeEnum,
    TypeIgnore,
    TypeJsonSchema,
    TypeObject,
    type_array,
    type_boolean,
    type_enum,
    type_from_schema,
    type_ignore,
    type_integer,
    type_number,
    type_object,
    type_string,
)
from ellmer_py._docstrings import docstring_params, docstring_summary
from ellmer_py._protocols._schema import as_json_schema
from ellmer_py._types import as_type
from ellmer_py._validate import validate

# -- type_*() ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (type_boolean, "boolean"),
        (type_integer, "integer"),
        (type_number, "number"),
        (type_string, "string"),
    ],
)
def test_scalar_types(make: Any, kind: str) -> None:
    assert make() == TypeBasic(kind)
    assert make("What it is", required=False) == TypeBasic(
        kind, description="What it is", required=False
    )
    assert as_json_schema(make("What it is")) == {"type": kind, "description": "What it is"}
    assert as_json_schema(make()) == {"type": kind, "description": ""}


def test_enum_array_object() -> None:
    assert type_enum(["a", "b"], "Pick") == TypeEnum(("a", "b"), description="Pick")
    assert type_array(type_integer()).items == TypeBasic("integer")
    person = type_object("A person", name=type_string(), age=type_integer(required=False))
    assert person.description == "A person"
    assert list(person.properties) == ["name", "age"]
    assert as_json_schema(person) == {
        "type": "object",
        "description": "A person",
        "properties": {
            "name": {"type": "string", "description": ""},
            "age": {"type": "integer", "description": ""},
        },
        "required": ["name"],
        "additionalProperties": False,
    }
    assert as_json_schema(type_enum(["x", "y"])) == {
        "type": "string",
        "description": "",
        "enum": ["x", "y"],
    }
    assert as_json_schema(type_array(type_string(), "Names")) == {
        "type": "array",
        "description": "Names",
        "items": {"type": "string", "description": ""},
    }


def test_type_object_description_and_required_keywords() -> None:
    by_keyword = type_object(description="About", required=False, x=type_number())
    assert by_keyword == TypeObject({"x": type_number()}, description="About", required=False)
    # A property may be called description or required: its value is a type.
    odd = type_object(description=type_string(), required=type_boolean())
    assert list(odd.properties) == ["description", "required"]
    assert odd.description is None and odd.required is True
    with pytest.raises(ConfigurationError, match="description twice"):
        type_object("one", description="two")


def test_type_array_and_object_take_python_types() -> None:
    assert type_array(int) == TypeArray(TypeBasic("integer"))
    assert type_object(flag=bool).properties == {"flag": TypeBasic("boolean")}


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: TypeBasic("date"), "must be one of boolean, integer, number, string"),
        (lambda: type_enum([]), "non-empty list of strings"),
        (lambda: type_enum("ab"), "must be a list of strings"),
        (lambda: type_enum([1, 2]), "non-empty list of strings"),
        (lambda: type_string(description=3), "description must be a string"),
        (lambda: type_string(required="yes"), "required must be True or False"),
        (lambda: type_array(None), "is None"),
        (
            lambda: type_object(x=3),
            "property 'x' must be a type_*() type or a Python type, not int 3",
        ),
        (lambda: TypeObject([("a", type_string())]), "dict of names to types"),
        (lambda: TypeJsonSchema([1]), "must be an object"),
    ],
)
def test_bad_types_say_what_is_wrong(make: Any, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(fragment)):
        make()


def test_type_from_schema_text_path_and_dict(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"is_fruit": {"type": "boolean"}}}
    assert type_from_schema(json.dumps(schema)) == TypeJsonSchema(schema)
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema), encoding="utf-8")
    assert type_from_schema(path=path) == TypeJsonSchema(schema)
    assert type_from_schema(schema) == TypeJsonSchema(schema)
    assert as_json_schema(type_from_schema(schema)) == schema  # passed through as it is
    with pytest.raises(ConfigurationError, match="exactly one of text= and path="):
        type_from_schema()
    with pytest.raises(ConfigurationError, match="exactly one"):
        type_from_schema("{}", path=path)
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        type_from_schema("{nope")


def test_type_ignore_is_only_for_tools() -> None:
    assert type_ignore() == TypeIgnore()
    with pytest.raises(ConfigurationError, match="only be used for a tool's arguments"):
        as_json_schema(type_ignore())
    # Inside an object it is left out of the schema.
    schema = as_json_schema(type_object(a=type_string(), b=type_ignore()))
    assert list(schema["properties"]) == ["a"] and schema["required"] == ["a"]


# -- the strict (OpenAI) form -------------------------------------------------------------


def test_strict_object_lists_every_property_and_optional_ones_may_be_null() -> None:
    t = type_object(
        name=type_string(),
        age=type_integer(required=False),
        kind=type_enum(["a", "b"], required=False),
        tags=type_array(type_string(), required=False),
        raw=TypeJsonSchema({"anyOf": [{"type": "string"}]}, required=False),
    )
    assert as_json_schema(t, strict=True) == {
        "type": "object",
        "description": "",
        "properties": {
            "name": {"type": "string", "description": ""},
            "age": {"type": ["integer", "null"], "description": ""},
            "kind": {"type": ["string", "null"], "description": "", "enum": ["a", "b", None]},
            "tags": {
                "type": ["array", "null"],
                "description": "",
                "items": {"type": "string", "description": ""},
            },
            "raw": {"anyOf": [{"anyOf": [{"type": "string"}]}, {"type": "null"}]},
        },
        "required": ["name", "age", "kind", "tags", "raw"],
        "additionalProperties": False,
    }


def test_strict_refuses_additional_properties() -> None:
    t = TypeObject({"a": type_string()}, additional_properties=True)
    assert as_json_schema(t)["additionalProperties"] is True
    with pytest.raises(ConfigurationError, match="additional_properties is not supported"):
        as_json_schema(type_array(t), strict=True)


# -- Python annotations -----------------------------------------------------------------------


class Colour(enum.Enum):
    """A primary colour."""

    RED = "red"
    GREEN = "green"


class Size(enum.IntEnum):
    SMALL = 1
    LARGE = 2


@dataclasses.dataclass
class Address:
    """Where someone lives.

    Attributes:
        city: The city.
        postcode: The postal code,
            if there is one.
    """

    city: str
    postcode: str | None = None


@dataclasses.dataclass
class Person:
    name: str = dataclasses.field(metadata={"description": "Full name"})
    age: int
    address: Address
    tags: list[str] = dataclasses.field(default_factory=list)
    colour: Colour = Colour.RED


@attrs.define
class Point:
    """A point in the plane."""

    x: float
    y: Annotated[float, "The height"] = 0.0


class Movie(TypedDict, total=False):
    title: str
    year: int


class Book(TypedDict):
    """A book."""

    title: str
    pages: Optional[int]  # noqa: UP045 - the old spelling must work too


@dataclasses.dataclass
class Node:
    value: int
    children: list[Node]


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (bool, TypeBasic("boolean")),
        (int, TypeBasic("integer")),
        (float, TypeBasic("number")),
        (str, TypeBasic("string")),
        (Literal["a", "b"], TypeEnum(("a", "b"))),
        (Literal[1, 2], TypeJsonSchema({"enum": [1, 2]})),
        (Colour, TypeEnum(("red", "green"), description="A primary colour.")),
        (Size, TypeJsonSchema({"enum": [1, 2]})),
        (list[int], TypeArray(TypeBasic("integer"))),
        (tuple[str, ...], TypeArray(TypeBasic("string"))),
        (int | None, TypeBasic("integer")),
        (Optional[str], TypeBasic("string")),  # noqa: UP045
        (Annotated[int, "How many"], TypeBasic("integer", description="How many")),
        (Annotated[str, type_enum(["x"])], TypeEnum(("x",))),
        (
            int | str,
            TypeJsonSchema(
                {
                    "anyOf": [
                        {"type": "integer", "description": ""},
                        {"type": "string", "description": ""},
                    ]
                }
            ),
        ),
    ],
)
def test_python_annotations(annotation: Any, expected: Type) -> None:
    assert as_type(annotation) == expected


def test_dataclass_fields_defaults_docstrings_and_metadata() -> None:
    t = as_type(Person)
    assert isinstance(t, TypeObject)
    assert t.description is None  # the generated dataclass docstring describes nothing
    assert t.properties == {
        "name": TypeBasic("string", description="Full name"),
        "age": TypeBasic("integer"),
        "address": TypeObject(
            {
                "city": TypeBasic("string", description="The city."),
                "postcode": TypeBasic(
                    "string", description="The postal code, if there is one.", required=False
                ),
            },
            description="Where someone lives.",
        ),
        "tags": TypeArray(TypeBasic("string"), required=False),
        "colour": TypeEnum(("red", "green"), description="A primary colour.", required=False),
    }


def test_attrs_class_and_typed_dicts() -> None:
    assert as_type(Point) == TypeObject(
        {
            "x": TypeBasic("number"),
            "y": TypeBasic("number", description="The height", required=False),
        },
        description="A point in the plane.",
    )
    assert as_type(Movie) == TypeObject(
        {
            "title": TypeBasic("string", required=False),
            "year": TypeBasic("integer", required=False),
        }
    )
    # A required key that may be null is not required in the schema: null is allowed.
    assert as_type(Book) == TypeObject(
        {"title": TypeBasic("string"), "pages": TypeBasic("integer", required=False)},
        description="A book.",
    )


@pytest.mark.parametrize(
    ("annotation", "fragment"),
    [
        (Node, "Node refers to itself"),
        (dict[str, int], "cannot describe dict"),
        (Any, "has no type hint"),
        (list, "say what the items are"),
        (tuple[int, str], "only tuple[X, ...]"),
        (bytes, "cannot describe bytes"),
    ],
)
def test_annotations_that_cannot_be_described(annotation: Any, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment.replace("[", r"\[")):
        as_type(annotation)


def test_unresolvable_hints_say_so() -> None:
    @dataclasses.dataclass
    class Local:
        thing: Missing  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(ConfigurationError, match="Could not read the type hints of"):
        as_type(Local)


# -- docstrings ---------------------------------------------------------------------------------

GOOGLE = """Add two numbers.

More detail here.

Args:
    x (int): The first number.
    y: The second number,
        on two lines.
    *args: Ignored.

Returns:
    The sum.
"""

NUMPY = """Add two numbers.

Parameters
----------
x : int
    The first number.
y, z : float
    The others.

Returns
-------
float
"""

SPHINX = """Add two numbers.

:param x: The first number.
:param int y: The second number.
:returns: the sum
"""


def test_docstring_styles() -> None:
    assert docstring_summary(GOOGLE) == "Add two numbers.\n\nMore detail here."
    assert docstring_params(GOOGLE) == {
        "x": "The first number.",
        "y": "The second number, on two lines.",
        "args": "Ignored.",
    }
    assert docstring_summary(NUMPY) == "Add two numbers."
    assert docstring_params(NUMPY) == {
        "x": "The first number.",
        "y": "The others.",
        "z": "The others.",
    }
    assert docstring_summary(SPHINX) == "Add two numbers."
    assert docstring_params(SPHINX) == {"x": "The first number.", "y": "The second number."}
    assert docstring_params(None) == {} and docstring_summary(None) == ""
    assert docstring_params("Just a summary.") == {}


# -- validation ---------------------------------------------------------------------------


def test_validate_scalars() -> None:
    assert validate(3, {"type": "integer"}) == []
    assert validate(3.0, {"type": "integer"}) == []  # JSON has no separate integer type
    assert validate(3.5, {"type": "integer"}) == ["$: expected integer, got number 3.5"]
    assert validate(True, {"type": "integer"}) == ["$: expected integer, got boolean true"]
    assert validate(1, {"type": "boolean"}) == ["$: expected boolean, got integer 1"]
    assert validate(None, {"type": ["string", "null"]}) == []
    assert validate("x", {"type": "number"}) == ['$: expected number, got string "x"']
    assert validate("c", {"enum": ["a", "b"]}) == ['$: "c" is not one of "a", "b"']
    assert validate(1, {"enum": [True]}) == ["$: 1 is not one of true"]
    assert validate(2, {"const": 2.0}) == []


def test_validate_objects_and_arrays_with_paths() -> None:
    schema = as_json_schema(
        type_object(
            name=type_string(),
            pets=type_array(type_object(kind=type_enum(["cat", "dog"]), age=type_integer())),
        )
    )
    good = {"name": "Ann", "pets": [{"kind": "cat", "age": 3}]}
    assert validate(good, schema) == []
    bad = {"pets": [{"kind": "cow", "age": "old"}, {"kind": "dog"}], "extra": 1}
    assert validate(bad, schema) == [
        "$: missing required property 'name'",
        '$.pets[0].kind: "cow" is not one of "cat", "dog"',
        '$.pets[0].age: expected integer, got string "old"',
        "$.pets[1]: missing required property 'age'",
        "$: unexpected property 'extra'",
    ]
    assert validate({"odd key": 1}, {"additionalProperties": {"type": "string"}}) == [
        "$['odd key']: expected string, got integer 1"
    ]


def test_validate_combinators_refs_and_bounds() -> None:
    schema = {
        "$defs": {"pos": {"type": "integer", "minimum": 1}},
        "type": "object",
        "properties": {
            "n": {"$ref": "#/$defs/pos"},
            "s": {"type": "string", "minLength": 2, "maxLength": 3, "pattern": "^[a-z]+$"},
            "xs": {"type": "array", "minItems": 1, "maxItems": 2, "uniqueItems": True},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "one": {"oneOf": [{"type": "number"}, {"type": "integer"}]},
            "pair": {"type": "array", "prefixItems": [{"type": "string"}], "items": False},
            "ex": {"exclusiveMinimum": 0, "exclusiveMaximum": 10, "multipleOf": 2},
        },
    }
    assert validate({"n": 1, "s": "ab", "xs": [1], "either": 3, "one": 1.5, "ex": 4}, schema) == []
    problems = validate(
        {
            "n": 0,
            "s": "ABCD",
            "xs": [1, 1, 1],
            "either": [],
            "one": 2,
            "pair": ["a", "b"],
            "ex": 3,
        },
        schema,
        limit=20,
    )
    assert problems == [
        "$.n: 0 is less than 1",
        "$.s: longer than 3 characters",
        "$.s: \"ABCD\" does not match '^[a-z]+$'",
        "$.xs: more than 2 items",
        "$.xs: items are not unique",
        "$.either: [] matches none of the allowed schemas",
        "$.one: 2 matches more than one allowed schema",
        "$.pair[1]: no value is allowed here",
        "$.ex: 3 is not a multiple of 2",
    ]
    assert validate(1, {"$ref": "#/nowhere"}) == ["$: cannot follow $ref '#/nowhere'"]
    assert validate(1, {"not": {"type": "integer"}}) == ["$: 1 matches a schema it must not match"]
    assert validate(1, {"allOf": [{"type": "integer"}, {"minimum": 2}]}) == ["$: 1 is less than 2"]


def test_validate_stops_at_the_limit() -> None:
    problems = validate(list(range(50)), {"type": "array", "items": {"type": "string"}}, limit=3)
    assert len(problems) == 3


# -- a law: data built from a type fits the type's schema, in both forms ---------------------------

scalars = st.sampled_from(["boolean", "integer", "number", "string"]).map(TypeBasic)
enums = st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=4, unique=True).map(TypeEnum)


def _types(leaf: st.SearchStrategy[Type]) -> st.SearchStrategy[Type]:
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            inner.map(TypeArray),
            st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), inner, max_size=4).map(
                TypeObject
            ),
        ),
        max_leaves=8,
    )


@st.composite
def typed_values(draw: Any) -> tuple[Type, Any]:
    t = draw(_types(st.one_of(scalars, enums)))
    return t, draw(_values(t))


def _values(t: Type) -> st.SearchStrategy[Any]:
    if isinstance(t, TypeBasic):
        return {
            "boolean": st.booleans(),
            "integer": st.integers(),
            "number": st.floats(allow_nan=False, allow_infinity=False),
            "string": st.text(),
        }[t.type]
    if isinstance(t, TypeEnum):
        return st.sampled_from(t.values)
    if isinstance(t, TypeArray):
        return st.lists(_values(t.items), max_size=3)
    assert isinstance(t, TypeObject)
    return st.fixed_dictionaries({k: _values(v) for k, v in t.properties.items()})


@given(typed_values())
def test_values_of_a_type_fit_its_schema(case: tuple[Type, Any]) -> None:
    t, value = case
    assert validate(value, as_json_schema(t)) == []
    assert validate(value, as_json_schema(t, strict=True)) == []
    assert validate(json.loads(json.dumps(value)), as_json_schema(t)) == []


@given(typed_values(), st.sampled_from([None, "zz-not-it", 12.5, [], {}]))
def test_a_wrong_value_is_reported(case: tuple[Type, Any], wrong: Any) -> None:
    t, _ = case
    if isinstance(t, TypeObject) and not t.properties and isinstance(wrong, dict):
        return  # {} fits an object without properties
    if isinstance(t, TypeArray) and wrong == []:
        return  # [] fits any array
    if isinstance(t, TypeBasic) and t.type == "string" and isinstance(wrong, str):
        return
    assert validate(wrong, as_json_schema(t)) != []
