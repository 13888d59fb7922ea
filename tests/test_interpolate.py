"""Tests for ``ellmer_py._interpolate`` (R: ``interpolate()``, ``interpolate_file()``,
``interpolate_package()``).

The parsing cases follow glue's own tests with ``.open = "{{"``,
``.close = "}}"`` (tests/testthat/test-glue.R) and its C parser.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ellmer_py._errors import ConfigurationError
from ellmer_py._interpolate import interpolate, interpolate_file, interpolate_package

GLOBAL_TOPIC = "module globals"


class Point(NamedTuple):
    x: int
    y: int


class User:
    def __init__(self, name: str, tags: list[str]) -> None:
        self.name = name
        self.tags = tags
        self._secret = "hidden"


# --- where values come from --------------------------------------------------------


def test_kwargs_are_interpolated() -> None:
    joke = "Tell me a joke about {{topic}}."
    assert interpolate(joke, topic="bananas") == "Tell me a joke about bananas."


def test_caller_locals_are_found() -> None:
    topic = "apples"  # noqa: F841 (read by interpolate)
    assert interpolate("A joke about {{ topic }}.") == "A joke about apples."


def test_caller_globals_are_found() -> None:
    assert interpolate("{{ GLOBAL_TOPIC }}") == "module globals"


def test_kwargs_come_before_locals_and_locals_before_globals() -> None:
    topic = "local"
    GLOBAL_TOPIC = "shadowed"  # noqa: F841 (read by interpolate)
    assert interpolate("{{topic}}/{{GLOBAL_TOPIC}}", topic="kwarg") == "kwarg/shadowed"
    assert topic == "local"


def test_builtins_are_not_variables() -> None:
    with pytest.raises(ConfigurationError, match="'len', which is not a variable"):
        interpolate("{{ len }}")


def test_a_variable_may_be_called_prompt() -> None:
    assert interpolate("{{ prompt }}", prompt="p") == "p"


def test_envir_mapping_replaces_the_callers_variables() -> None:
    topic = "local"  # noqa: F841 (must not be seen)
    assert interpolate("{{ topic }}", _envir={"topic": "mapped"}) == "mapped"
    assert interpolate("{{ topic }}", _envir={"topic": "mapped"}, topic="kw") == "kw"
    with pytest.raises(ConfigurationError, match="'topic'"):
        interpolate("{{ topic }}", _envir={})


def _wrapper(template: str) -> str | list[str]:
    return interpolate(template, _envir=sys._getframe(1))


def test_envir_frame_lets_a_wrapper_use_its_callers_variables() -> None:
    only_here = "seen through the wrapper"  # noqa: F841 (read by interpolate)
    assert _wrapper("{{ only_here }}") == "seen through the wrapper"


def test_envir_of_another_type_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="_envir must be a mapping"):
        interpolate("{{ x }}", _envir=42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="_envir must be a mapping"):
        interpolate("no fields", _envir=["x"])  # type: ignore[arg-type]


def test_prompt_must_be_a_string() -> None:
    with pytest.raises(ConfigurationError, match="must be a string"):
        interpolate(["{{x}}"], x=1)  # type: ignore[arg-type]


def test_values_are_written_with_str() -> None:
    assert interpolate("{{a}} {{b}} {{c}} {{d}}", a=1.0, b=True, c=None, d={"k": 1}) == (
        "1.0 True None {'k': 1}"
    )


# --- attribute and index access -------------------------------------------------


def test_attribute_and_index_access() -> None:
    user = User("Ann", ["x", "y"])  # noqa: F841 (read by interpolate)
    data = {"rows": [{"key": "v0"}, {"key": "v1"}]}  # noqa: F841 (read by interpolate)
    assert interpolate("{{ user.name }}") == "Ann"
    assert interpolate("{{ user.tags[1] }}") == "y"
    assert interpolate("{{ user.tags[-1] }}") == "y"
    assert interpolate('{{ data["rows"][1]["key"] }}') == "v1"
    assert interpolate("{{ data['rows'][0]['key'] }}") == "v0"


def test_missing_attribute_or_item_is_a_clear_error() -> None:
    user = User("Ann", ["x"])  # noqa: F841 (read by interpolate)
    with pytest.raises(ConfigurationError, match=r"value \(of type User\) has no attribute 'nmae'"):
        interpolate("{{ user.nmae }}")
    with pytest.raises(ConfigurationError, match=r"value \(of type list\) has no item 3"):
        interpolate("{{ user.tags[3] }}")
    with pytest.raises(ConfigurationError, match=r"value \(of type dict\) has no item 'b'"):
        interpolate('{{ d["b"] }}', d={"a": 1})
    with pytest.raises(ConfigurationError, match=r"value \(of type int\) has no item 0"):
        interpolate("{{ n[0] }}", n=5)


def test_private_attributes_are_refused() -> None:
    user = User("Ann", [])
    with pytest.raises(ConfigurationError, match="'_secret'"):
        interpolate("{{ user._secret }}")
    with pytest.raises(ConfigurationError, match="'__globals__'"):
        interpolate("{{ f.__globals__ }}", f=test_private_attributes_are_refused)
    assert user._secret == "hidden"


@pytest.mark.parametrize(
    "expr",
    [
        "1 + 1",
        "x + 1",
        "f()",
        "x.upper()",
        "'literal'",
        "42",
        "x if x else x",
        "[x]",
        "x, x",
        "x[1:2]",
        "x[y]",
        "x[True]",
        "x[1.5]",
        "(x := 1)",
        "lambda: x",
        "__import__('os')",
        "x) + (x",
        "not x",
        "x == x",
        "class",
        "x.",
        "x[",
        "'{{x}}'",
    ],
)
def test_an_expression_that_is_not_a_name_is_refused(expr: str) -> None:
    with pytest.raises(ConfigurationError, match="only a variable's name"):
        interpolate("{{ " + expr + " }}", x="x", y=0, f=lambda: "called")


def test_an_empty_field_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="is empty"):
        interpolate("a {{  }} b")


# --- vectorised values ----------------------------------------------------------


def test_a_list_gives_one_string_per_element() -> None:
    assert interpolate("Hi {{ who }}!", who=["Ann", "Bob"]) == ["Hi Ann!", "Hi Bob!"]
    assert interpolate("Hi {{ who }}!", who=("Ann", "Bob")) == ["Hi Ann!", "Hi Bob!"]
    assert interpolate("{{ n }}", n=[1, 2.5]) == ["1", "2.5"]


def test_one_element_list_gives_a_list() -> None:
    assert interpolate("{{ x }}", x=["only"]) == ["only"]


def test_lengths_of_one_are_recycled() -> None:
    out = interpolate("{{a}}-{{b}}-{{c}}", a=["1", "2", "3"], b=["x"], c="k")
    assert out == ["1-x-k", "2-x-k", "3-x-k"]
    assert interpolate("{{a}}{{b}}", a=[1, 2], b=[3, 4]) == ["13", "24"]


def test_an_empty_list_gives_no_strings() -> None:
    assert interpolate("{{a}} {{b}}", a=[], b=["x", "y"]) == []


def test_mismatched_lengths_are_an_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        interpolate("{{ a }} and\n  {{ b }}", a=[1, 2, 3], b=[1, 2])
    message = str(info.value)
    assert "{{ b }} at line 2, column 3 of the prompt has 2 values" in message
    assert "{{ a }} at line 1, column 1 of the prompt has 3" in message


def test_strings_and_named_tuples_are_single_values() -> None:
    assert interpolate("{{ p }}", p=Point(1, 2)) == "Point(x=1, y=2)"
    assert interpolate("{{ s }}", s="abc") == "abc"
    assert interpolate("{{ xs[0] }}", xs=["a", "b"]) == "a"


def test_a_vector_feeds_parallel_chat_prompts() -> None:
    topics = ["cats", "dogs"]  # noqa: F841 (read by interpolate)
    prompts = interpolate("Write a haiku about {{ topics }}.")
    assert prompts == ["Write a haiku about cats.", "Write a haiku about dogs."]


# --- glue's parsing: escapes, single braces, whitespace, quotes, comments ------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{{{x}}}}", "{{x}}"),
        ("{{{{}}}}", "{{}}"),  # glue: "<<<<>>>>" with << >> gives "<<>>"
        ("a }}}} b", "a }} b"),
        ("}}}}}}}}", "}}}}"),
        ("{{{{ {{x}} }}}}", "{{ 1 }}"),
        ("}}", "}}"),
        ("}}}", "}}}"),
        ("{{{{{x}}", "{1"),  # glue keeps the third { and reads the next two as {{
    ],
)
def test_doubled_delimiters_follow_glue(template: str, expected: str) -> None:
    assert interpolate(template, x=1) == expected


@pytest.mark.parametrize("template", ["{{{", "{{{{{{", "{{{x}}"])
def test_glue_reads_these_brace_runs_as_an_unclosed_field(template: str) -> None:
    # glue re-reads the second { of an opening {{, so "{{{x}}" opens twice and closes once
    with pytest.raises(ConfigurationError, match="never closed"):
        interpolate(template, x=1)


def test_single_braces_are_left_alone() -> None:
    prompt = 'Answer as JSON: {"name": "{{ name }}", "tags": [{"a": 1}], "x": {y}}'
    assert interpolate(prompt, name="Ann") == (
        'Answer as JSON: {"name": "Ann", "tags": [{"a": 1}], "x": {y}}'
    )
    assert interpolate("f(x) { return {x}; }") == "f(x) { return {x}; }"


@pytest.mark.parametrize(
    "template",
    [
        "{{u.name}}",
        "{{ u.name }}",
        "{{   u.name\t}}",
        "{{\n  u.name\n}}",
        "{{ u . name }}",
        "{{ u\n  .name }}",
        "{{ u.name # the user's name\n}}",
    ],
)
def test_whitespace_and_comments_inside_braces(template: str) -> None:
    assert interpolate(template, u=User("Ann", [])) == "Ann"


def test_quotes_inside_braces_may_hold_the_closing_delimiter() -> None:
    assert interpolate('{{ d["}}"] }}!', d={"}}": "ok"}) == "ok!"
    assert interpolate("{{ d['a\\'}}'] }}", d={"a'}}": "ok"}) == "ok"


def test_unclosed_field_names_its_position() -> None:
    with pytest.raises(ConfigurationError, match=r"line 2, column 4 .* never closed by }}"):
        interpolate("ok\nab {{ x ", x=1)


def test_unclosed_quote_and_comment_are_errors() -> None:
    with pytest.raises(ConfigurationError, match="quote that is never closed"):
        interpolate("{{ d['x }}", d={})
    with pytest.raises(ConfigurationError, match="'#' comment"):
        interpolate("{{ x # no new line }}", x=1)


def test_unknown_variable_names_it_and_its_position_not_other_values() -> None:
    api_key = "sk-very-secret"
    user = "Ann"
    with pytest.raises(ConfigurationError) as info:
        interpolate("Hello {{ user }},\n    {{ usr.name }} and {{ api_key }}")
    message = str(info.value)
    assert "'usr'" in message
    assert "{{ usr.name }} at line 2, column 5 of the prompt" in message
    assert api_key not in message
    assert user not in message


def test_long_fields_are_shortened_in_errors() -> None:
    expr = " + ".join(["y"] * 100)
    with pytest.raises(ConfigurationError) as info:
        interpolate("{{ " + expr + " }}", y=1)
    assert expr not in str(info.value)
    assert "y +...}}" in str(info.value)


# --- properties -----------------------------------------------------------------


def _glue_reference(text: str) -> str:
    """glue's rule for a template without {{: each run of } loses one in three while
    four or more remain (}}}} gives }}), written independently of the parser."""
    out, i = [], 0
    while i < len(text):
        if text[i] != "}":
            out.append(text[i])
            i += 1
            continue
        run = len(text[i:]) - len(text[i:].lstrip("}"))
        kept, left = 0, run
        while left >= 4:
            kept, left = kept + 1, left - 3
        out.append("}" * (kept + left))
        i += run
    return "".join(out)


BRACEY = st.text(alphabet=st.sampled_from("{}ab #'\"`\n\\é"), max_size=40) | st.text()


@given(BRACEY.filter(lambda t: "{{" not in t and "}}}}" not in t))
def test_a_template_without_fields_is_returned_unchanged(text: str) -> None:
    assert interpolate(text, _envir={}) == text


@given(BRACEY.filter(lambda t: "{{" not in t))
def test_without_open_delimiter_only_doubled_closes_change(text: str) -> None:
    assert interpolate(text, _envir={}) == _glue_reference(text)


@given(st.text(), st.text(), st.text())
def test_values_are_inserted_verbatim(before: str, value: str, after: str) -> None:
    assume("{" not in before + after and "}" not in before + after)
    assert interpolate(before + "{{ v }}" + after, v=value) == before + value + after
    assert interpolate("{{v}}", v=[value, after]) == [value, after]


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), min_size=1))
def test_escaped_delimiters_come_out_single(text: str) -> None:
    assert interpolate("{{{{" + text + "}}}}", _envir={}) == "{{" + text + "}}"


@given(BRACEY)
def test_any_template_gives_a_result_or_configuration_error(text: str) -> None:
    env: dict[str, Any] = {"a": "A", "b": ["1", "2"], "x": 1}
    try:
        out = interpolate(text, _envir=env)
    except ConfigurationError:
        return
    assert isinstance(out, (str, list))


# --- interpolate_file -----------------------------------------------------------


def test_interpolate_file_reads_utf8_and_uses_the_callers_variables(tmp_path: Path) -> None:
    path = tmp_path / "prompt.md"
    path.write_bytes("Résumé of {{ who }}: {json}\r\n".encode())
    who = "Zoë"
    assert interpolate_file(path) == "Résumé of Zoë: {json}\r\n"
    assert interpolate_file(str(path), who=["a", "b"]) == [
        "Résumé of a: {json}\r\n",
        "Résumé of b: {json}\r\n",
    ]
    assert who == "Zoë"


def test_interpolate_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.md"
    path.write_text("line one\n{{ nothing }}", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"line 2, column 1 of 'p.md'"):
        interpolate_file(path)
    with pytest.raises(ConfigurationError, match="must be an existing file"):
        interpolate_file(tmp_path / "missing.md")
    with pytest.raises(ConfigurationError, match="non-empty"):
        interpolate_file("")
    (tmp_path / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ConfigurationError, match="not UTF-8 text"):
        interpolate_file(tmp_path / "latin1.md")


# --- interpolate_package --------------------------------------------------------


@pytest.fixture
def prompt_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"prompts_pkg_{uuid.uuid4().hex}"
    package = tmp_path / name
    (package / "prompts" / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "prompts" / "joke.md").write_text("A joke about {{ topic }}.", encoding="utf-8")
    (package / "prompts" / "sub" / "deep.md").write_text("{{ x }}", encoding="utf-8")
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in (name, "bare"):
        sys.modules.pop(module, None)


def test_interpolate_package_reads_from_prompts(prompt_package: str) -> None:
    topic = "ducks"  # noqa: F841 (read by interpolate)
    assert interpolate_package(prompt_package, "joke.md") == "A joke about ducks."
    assert interpolate_package(prompt_package, "sub/deep.md", x=[1, 2]) == ["1", "2"]


def test_interpolate_package_errors(prompt_package: str) -> None:
    with pytest.raises(ConfigurationError, match=r"no 'nope.md' .* it has: joke.md, sub"):
        interpolate_package(prompt_package, "nope.md")
    with pytest.raises(ConfigurationError, match="inside prompts/"):
        interpolate_package(prompt_package, "../__init__.py")
    with pytest.raises(ConfigurationError, match="inside prompts/"):
        interpolate_package(prompt_package, "/etc/passwd")
    with pytest.raises(ConfigurationError, match="no prompts/ directory"):
        interpolate_package("bare", "joke.md")
    with pytest.raises(ConfigurationError, match="there is no package"):
        interpolate_package(f"missing_{uuid.uuid4().hex}", "joke.md")
    pattern = r"column 14 of prompts/joke.md in package '.*' names 'topic'"
    with pytest.raises(ConfigurationError, match=pattern):
        interpolate_package(prompt_package, "joke.md")
