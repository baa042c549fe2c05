"""The intents file: good files read back exactly, bad ones are refused with the line and the reason."""

from __future__ import annotations

import pytest

from touchpoint.assistant.intents.schemas import IntentSpec
from touchpoint.assistant.intents.yaml_io import (
    MAX_YAML_BYTES,
    IntentFileError,
    builtin_intents,
    dump_intents_yaml,
    parse_intents_yaml,
)
from touchpoint.assistant.training import DEFAULT_ESCALATE, training_intents

GOOD = """\
# a comment
version: 1
intents:
  - name: opening_hours
    description: When we are open
    examples:
      - when are you open
      - "are you open on sunday?"
      - When are you open   # a repeat (case and spaces aside): dropped
    response: We are open 9-18.
  - name: affirm_custom
    examples: [yes, no, 42, on]
    flow: change-booking.v2
"""


def test_a_good_file_is_read_and_round_trips():
    specs = parse_intents_yaml(GOOD)
    assert specs == [
        IntentSpec("opening_hours", ("when are you open", "are you open on sunday?"), "When we are open",
                   "We are open 9-18.", None),
        # YAML 1.1 would make these a boolean and a number; an example is the text as written.
        IntentSpec("affirm_custom", ("yes", "no", "42", "on"), "", None, "change-booking.v2"),
    ]
    assert parse_intents_yaml(dump_intents_yaml(specs, header="exported")) == specs
    assert parse_intents_yaml(GOOD.encode("utf-8")) == specs
    assert parse_intents_yaml("intents: []\n") == []
    assert parse_intents_yaml("intents:\n") == []


@pytest.mark.parametrize(("source", "line", "reason"), [
    ("intents:\n  - name: a\n    examples: [x, y\n", 4, "not valid YAML"),
    ("intents:\n  - name: hours\n    examples:\n      - when are you open\n", 4, "at least 2 different examples"),
    ("intents:\n  - name: hours\n    examples: [open?, Open?]\n", 3, "at least 2 different examples"),
    ("intents:\n  - name: Opening Hours\n    examples: [a, b]\n", 2, "is not valid: use 1 to 100 lower-case"),
    ("intents:\n  - name: " + "a" * 101 + "\n    examples: [a, b]\n", 2, "is not valid"),
    ("intents:\n  - name: a\n    examples: [x, y]\n  - name: b\n    examples: [z, w]\n  - name: a\n"
     "    examples: [p, q]\n", 6, "intent 'a' is defined twice (first on line 2)"),
    ("intents:\n  - name: a\n    examples:\n      - ok\n      - {x: 1}\n", 5, "example 2 of intent 'a' must be text"),
    ("intents:\n  - name: a\n    examples:\n      - ok\n      - [1, 2]\n", 5, "must be text, not a list"),
    ("intents:\n  - name: a\n    examples:\n      - ok\n      -\n      - fine\n", 5, "example 2 of intent 'a' is"),
    ("intents:\n  - name: a\n    examples: [ok, '   ']\n", 3, "is empty"),
    ("intents:\n  - name: a\n    examples: [ok, " + "x" * 501 + "]\n", 3, "501 characters long; an example may"),
    ("intents:\n  - name: a\n    exmaples: [a, b]\n", 3, "unknown key 'exmaples'"),
    ("intents:\n  - name: a\n    examples: [a, b]\n    examples: [c, d]\n", 4, "appears twice"),
    ("intents:\n  - name: a\n", 2, "has no examples"),
    ("intents:\n  - examples: [a, b]\n", 2, "has no name"),
    ("intents:\n  - name: a\n    examples: hello\n", 3, "must be a list"),
    ("intents:\n  - name: a\n    examples: [hi there, yo]\n  - name: b\n    examples: [Hi  there, hey]\n", 4,
     "is also an example of 'a'"),
    ("intents:\n  - name: a\n    examples: [!!binary aGk=, b]\n", 3, "tag:yaml.org,2002:binary is not supported"),
    ("intents:\n  - name: a\n    examples: !custom [a, b]\n", 3, "the tag !custom is not supported"),
    ("intents:\n  - name: a\n    examples: &e [a, b]\n  - name: b\n    examples: *e\n", 3, "aliases"),
    ("intents:\n  - name: a\n    examples: [a, b]\n    flow: two words\n", 4, "flow name"),
    ("intents:\n  - name: a\n    examples: [a, b]\n    response: [x]\n", 4, "must be text"),
    ("- name: a\n  examples: [a, b]\n", 1, "must be a mapping with the keys intents"),
    ("intentz: []\n", 1, "unknown key 'intentz'"),
    ("version: 2\nintents: []\n", 1, "version '2' is not supported"),
    ("intents: 7\n", 1, "must be a list of intents"),
    ("", 1, "the file is empty"),
    ("intents: []\n---\nintents: []\n", 2, "expected a single document"),
    ("intents: " + "[" * 5000, 1, "not valid YAML"),
    ("intents:\n  - name: a\n    examples: [a, \"b\\ud800\"]\n", 3, "invalid Unicode"),
    ("intents:\n  - name: a\n    examples: [a, b]\n\x00\x01\x02", 4, "control character U+0000"),
    (b"intents:\n  - name: a\n    examples: [a, \xff\xfe]\n", 3, "not UTF-8 text (byte 0xff)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "not UTF-8"),
])
def test_bad_files_name_the_line_and_the_reason(source, line, reason):
    with pytest.raises(IntentFileError) as caught:
        parse_intents_yaml(source)
    error = caught.value
    assert error.status_code == 422 and error.code == "intent_file_invalid"
    assert error.details["line"] == line, error.message
    assert reason in error.details["reason"], error.message
    assert error.message.startswith(f"line {line}: ")
    assert error.details["errors"][0] == {"line": line, "reason": error.details["reason"]}


def test_every_problem_is_listed_up_to_a_limit():
    source = "intents:\n" + "".join(f"  - name: Bad{i}\n    examples: [a{i}]\n" for i in range(40))
    with pytest.raises(IntentFileError) as caught:
        parse_intents_yaml(source)
    errors = caught.value.details["errors"]
    assert len(errors) == 20 and errors[0]["line"] == 2 and errors[1]["line"] == 3
    assert "more problems" in caught.value.message


def test_size_caps():
    with pytest.raises(IntentFileError, match="larger than"):
        parse_intents_yaml(b"#" * (MAX_YAML_BYTES + 1))
    many = "intents:\n" + "".join(f"  - name: i{i}\n    examples: [a{i}, b{i}]\n" for i in range(1001))
    with pytest.raises(IntentFileError, match="at most 1000"):
        parse_intents_yaml(many)


def test_builtin_intents_cover_the_shared_names_with_enough_examples():
    specs = {spec.name: spec for spec in builtin_intents()}
    assert set(specs) == {"human_request", "complaint", "payment_problem", "greeting", "thanks", "goodbye", "affirm",
                          "deny", "cancel", "start_over"}
    for spec in specs.values():
        assert 25 <= len(spec.examples) <= 60, spec.name
    assert DEFAULT_ESCALATE <= set(specs)
    # payment trouble described without the word, complaints without "complaint"
    assert sum("payment" not in e for e in specs["payment_problem"].examples) >= 35
    assert sum("complain" not in e for e in specs["complaint"].examples) >= 40


def test_workspace_intents_override_builtins_by_name_and_keep_their_examples():
    builtins = (IntentSpec("greeting", ("hi", "hello")), IntentSpec("thanks", ("thanks", "cheers", "hello there")))
    own = [IntentSpec("greeting", ("good day", "howdy")), IntentSpec("hello_world", ("hello there", "hi world"))]
    assert training_intents(own, builtins) == [
        ("greeting", ["good day", "howdy"]), ("hello_world", ["hello there", "hi world"]),
        ("thanks", ["thanks", "cheers"]),  # "hello there" is the workspace's now
    ]
