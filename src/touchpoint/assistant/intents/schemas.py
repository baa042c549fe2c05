"""Intents as the API and the YAML file see them, and the rules both enforce.

The same checks run for the JSON API (pydantic validators) and the YAML import (with the file's line numbers),
so an intent that one accepts the other accepts too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

NAME = re.compile(r"[a-z0-9_]{1,100}")
FLOW_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
LANGUAGE = re.compile(r"[a-z]{2}")
MIN_EXAMPLES = 2  # one example gives the classifier a point, not a region, and no out-of-scope calibration
MAX_EXAMPLE_CHARS = 500
MAX_EXAMPLES_PER_INTENT = 1000
MAX_DESCRIPTION_CHARS = 500
MAX_RESPONSE_CHARS = 4000
# Per workspace: enough for a large FAQ bot, small enough that a retrain stays a background job of minutes.
MAX_INTENTS = 1000
MAX_TOTAL_EXAMPLES = 20_000
MAX_LANGUAGES = 20


@dataclass(frozen=True, slots=True)
class IntentSpec:
    """One intent as defined (by the API, a YAML file, or the built-ins), before it is stored."""

    name: str
    examples: tuple[str, ...]
    description: str = ""
    response: str | None = None
    flow: str | None = None


# --- the rules (each returns the reason the value is refused, or None) ------------------------------------------

def storable_problem(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (lone surrogate)"
    return None


def name_problem(name: str) -> str | None:
    if not NAME.fullmatch(name):
        return (f"intent name {name[:120]!r} is not valid: use 1 to 100 lower-case letters, digits and underscores "
                "(e.g. opening_hours)")
    return None


def flow_problem(flow: str) -> str | None:
    if not FLOW_NAME.fullmatch(flow):
        return f"flow name {flow[:120]!r} is not valid: use 1 to 100 letters, digits, '_', '.' or '-'"
    return None


def example_problem(example: str) -> str | None:
    if not example.strip():
        return "is empty"
    if len(example) > MAX_EXAMPLE_CHARS:
        return f"is {len(example)} characters long; an example may have at most {MAX_EXAMPLE_CHARS}"
    return storable_problem(example)


def dedupe_examples(examples: Iterable[str]) -> tuple[str, ...]:
    """Stripped, in order, without repeats (compared case-insensitively): a repeat adds nothing but weight."""
    seen: set[str] = set()
    out: list[str] = []
    for example in examples:
        text = example.strip()
        key = " ".join(text.casefold().split())
        if key and key not in seen:
            seen.add(key)
            out.append(text)
    return tuple(out)


def examples_count_problem(name: str, examples: tuple[str, ...]) -> str | None:
    if len(examples) < MIN_EXAMPLES:
        return (f"intent {name!r} needs at least {MIN_EXAMPLES} different examples (it has {len(examples)}); "
                "more, phrased differently, make it recognised more reliably")
    if len(examples) > MAX_EXAMPLES_PER_INTENT:
        return f"intent {name!r} has {len(examples)} examples; at most {MAX_EXAMPLES_PER_INTENT} are allowed"
    return None


def example_key(example: str) -> str:
    return " ".join(example.casefold().split())


def intent_set_problems(specs: Iterable[IntentSpec]) -> list[str]:
    """What is wrong with a workspace's whole set of intents: repeated names, an example taught as two intents,
    totals over the caps."""
    problems: list[str] = []
    names: set[str] = set()
    owner: dict[str, str] = {}
    total = count = 0
    for spec in specs:
        count += 1
        if spec.name in names:
            problems.append(f"intent {spec.name!r} is defined twice")
        names.add(spec.name)
        for example in spec.examples:
            total += 1
            other = owner.setdefault(example_key(example), spec.name)
            if other != spec.name:
                problems.append(f"example {example[:80]!r} of intent {spec.name!r} is also an example of "
                                f"{other!r}; an example can teach only one intent")
    if count > MAX_INTENTS:
        problems.append(f"{count} intents; a workspace may have at most {MAX_INTENTS}")
    if total > MAX_TOTAL_EXAMPLES:
        problems.append(f"{total} examples in all; a workspace may have at most {MAX_TOTAL_EXAMPLES}")
    return problems


# --- pydantic adapters -------------------------------------------------------------------------------------------

def _raise_if(problem: str | None) -> None:
    if problem:
        raise ValueError(problem)


def _check_name(value: str) -> str:
    _raise_if(name_problem(value))
    return value


def _check_flow(value: str | None) -> str | None:
    if value is not None:
        _raise_if(flow_problem(value))
    return value


def _check_text(value: str | None) -> str | None:
    if value is not None:
        _raise_if(storable_problem(value))
    return value


def _check_examples(values: list[str]) -> list[str]:
    for position, example in enumerate(values, 1):
        problem = example_problem(example)
        if problem:
            raise ValueError(f"example {position} {problem}")
    unique = dedupe_examples(values)
    if len(unique) < MIN_EXAMPLES:
        raise ValueError(f"needs at least {MIN_EXAMPLES} different examples (it has {len(unique)})")
    return list(unique)


def _check_languages(values: list[str]) -> list[str]:
    out: list[str] = []
    for code in values:
        if not LANGUAGE.fullmatch(code):
            raise ValueError(f"{code[:20]!r} is not an ISO 639-1 language code (two lower-case letters, e.g. 'en')")
        if code not in out:
            out.append(code)
    return out


IntentName = Annotated[str, Field(description="Lower-case letters, digits and underscores, 1-100.",
                                  examples=["opening_hours"]), AfterValidator(_check_name)]
Examples = Annotated[list[StrictStr], Field(
    min_length=MIN_EXAMPLES, max_length=MAX_EXAMPLES_PER_INTENT,
    description=f"What customers write, at least {MIN_EXAMPLES} different phrasings (ideally 10 or more), each at "
                f"most {MAX_EXAMPLE_CHARS} characters. Repeats are dropped.",
    examples=[["when are you open", "what are your opening hours", "are you open on sunday?"]]),
    AfterValidator(_check_examples)]
Description = Annotated[StrictStr, Field(max_length=MAX_DESCRIPTION_CHARS), AfterValidator(_check_text)]
Response = Annotated[StrictStr | None, Field(
    max_length=MAX_RESPONSE_CHARS, description="A fixed answer the bot gives for this intent.",
    examples=["We are open 9:00-18:00, Monday to Saturday."]), AfterValidator(_check_text)]
FlowName = Annotated[StrictStr | None, Field(description="The flow this intent starts.", examples=["change_booking"]),
                     AfterValidator(_check_flow)]


class IntentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: IntentName
    description: Description = ""
    examples: Examples
    response: Response = None
    flow: FlowName = None


class IntentUpdate(BaseModel):
    """Only the fields sent change; `response` or `flow` set to null clears it."""

    model_config = ConfigDict(extra="forbid")

    name: IntentName | None = None
    description: Description | None = None
    examples: Examples | None = None
    response: Response = None
    flow: FlowName = None


class IntentOut(BaseModel):
    id: int | None = Field(description="Null for a built-in intent the workspace has not overridden.")
    name: str
    description: str
    examples: list[str]
    response: str | None
    flow: str | None
    builtin: bool = Field(description="A built-in intent (human_request, complaint, greeting...), trained into "
                                      "every workspace's model unless the workspace defines one of that name.")
    created_at: datetime | None
    updated_at: datetime | None


class IntentList(BaseModel):
    data: list[IntentOut]


class ImportResult(BaseModel):
    mode: str = Field(description="replace or merge", examples=["replace"])
    created: list[str]
    updated: list[str]
    deleted: list[str]
    unchanged: int
    training_requested: bool


class AssistantSettings(BaseModel):
    """The workspace's assistant settings, kept in workspace.settings["assistant"]."""

    model_config = ConfigDict(extra="forbid")

    languages: Annotated[list[StrictStr], Field(
        max_length=MAX_LANGUAGES, description="ISO 639-1 codes of the languages the assistant answers in; a "
        "message in another language goes to a person who speaks it. Empty: any language.",
        examples=[["en", "es"]]), AfterValidator(_check_languages)] = []
    model_dir: Annotated[StrictStr | None, Field(
        min_length=1, max_length=1000,
        description="The workspace's own sentence-embedding model: a directory with model.onnx and tokenizer.json "
                    "(or vocab.txt), inside the server's `<data_dir>/models/` (a name relative to it, or an "
                    "absolute path there). Null: the bundled model.", examples=["acme-minilm"]),
        AfterValidator(_check_text)] = None


class TrainingRequested(BaseModel):
    requested: bool = Field(description="False when a training request was already waiting (it covers this one).")


class ModelVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: str
    status: str = Field(description="training | ready | failed", examples=["ready"])
    is_active: bool
    error: str | None
    details: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None


class ModelVersionList(BaseModel):
    data: list[ModelVersionOut]
    training_pending: bool = Field(description="A training request is waiting or running.")
