"""Knowledge-base request and response schemas. Every field is capped at its column size, so bad input is a
precise 422 and never a database error."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from touchpoint.contacts.schemas import check_storable_text

MAX_QUESTION_CHARS = 500
MAX_ANSWER_CHARS = 4000
MAX_KEYWORDS_CHARS = 500
MAX_KEYWORD_CHARS = 100
MAX_URL_CHARS = 1000
MAX_LANGUAGE_CHARS = 16
MAX_BODY_CHARS = 100_000  # an article; the column is TEXT, the cap keeps imports and embeddings bounded
MAX_QUERY_CHARS = 1000

_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,2}$")

Kind = Literal["faq", "article"]


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _check_url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError("must be an http:// or https:// address without spaces")
    return value


def _check_keywords(value: Any) -> str:
    """A list of keywords (stored comma-separated) or one string of them, as the demo data has."""
    if value is None:
        return ""
    if isinstance(value, str):
        items = [value.strip()] if value.strip() else []
        joined = value.strip()
    elif isinstance(value, list):
        items = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError("keywords must be strings")
            item = item.strip()
            if "," in item:
                raise ValueError("a keyword in a list must not contain a comma")
            if len(item) > MAX_KEYWORD_CHARS:
                raise ValueError(f"a keyword must have at most {MAX_KEYWORD_CHARS} characters")
            if item:
                items.append(item)
        joined = ", ".join(items)
    else:
        raise ValueError("must be a list of strings or a string")
    for item in items:
        check_storable_text(item)
    if len(joined) > MAX_KEYWORDS_CHARS:
        raise ValueError(f"must have at most {MAX_KEYWORDS_CHARS} characters in all")
    return joined


def keyword_list(stored: str | None) -> list[str]:
    if not stored:
        return []
    parts = stored.split(",") if "," in stored else stored.split()
    return [p.strip() for p in parts if p.strip()]


_storable = AfterValidator(check_storable_text)
_strip = BeforeValidator(_stripped)
# Field first: constraints then apply to the string itself ("at most 500 characters"), after stripping.
Question = Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                                description="The FAQ question, or the article title."), _strip, _storable]
Answer = Annotated[str, Field(min_length=1, max_length=MAX_ANSWER_CHARS,
                              description="The FAQ answer, or an article's optional short answer."), _strip, _storable]
Body = Annotated[str, Field(min_length=1, max_length=MAX_BODY_CHARS,
                            description="An article's text. Paragraphs are separated by blank lines; `#` headings "
                                        "are allowed."), _strip, _storable]
Keywords = Annotated[str, Field(description="Extra words customers use for this entry (a list, or one string).",
                                examples=[["checkin", "arrival time"]]), BeforeValidator(_check_keywords)]
Url = Annotated[str, Field(max_length=MAX_URL_CHARS, examples=["https://example.com/help/parking"]), _strip,
                AfterValidator(_check_url), _storable]
Language = Annotated[str, Field(max_length=MAX_LANGUAGE_CHARS, pattern=_LANGUAGE.pattern, examples=["en"],
                                description="BCP 47 language tag. Empty: the entry serves every language."), _strip]

def check_kind_fields(kind: str, answer: str | None, body: str | None) -> None:
    """The rule every way of writing an entry shares (create, update, import)."""
    if kind == "faq":
        if not answer:
            raise ValueError("an FAQ entry needs an answer")
        if body:
            raise ValueError("only articles have a body; use kind 'article' or put the text in `answer`")
    elif not body:
        raise ValueError("an article needs a body")


class EntryIn(BaseModel):
    """An FAQ entry (question → answer) or an article (title in `question` → `body`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "faq", "question": "Is there parking?", "answer": "Yes, our garage has 40 spaces at 12 EUR a day.",
         "keywords": ["car", "garage"]},
        {"kind": "article", "question": "House rules", "body": "Quiet hours are 10 pm to 7 am.\n\nNo smoking "
         "inside.", "url": "https://example.com/house-rules"}]})

    kind: Kind = "faq"
    question: Question
    answer: Answer | None = None
    body: Body | None = None
    keywords: Keywords = ""
    url: Url | None = None
    language: Language | None = None
    published: bool = True

    @model_validator(mode="after")
    def _kind_rules(self) -> EntryIn:
        check_kind_fields(self.kind, self.answer, self.body)
        return self


class EntryUpdate(BaseModel):
    """Only the fields sent change; null clears an optional field."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"answer": "Yes, 40 spaces."}]})

    kind: Kind | None = None
    question: Question | None = None
    answer: Answer | None = None
    body: Body | None = None
    keywords: Keywords | None = None
    url: Url | None = None
    language: Language | None = None
    published: bool | None = None


class EntryOut(BaseModel):
    id: int
    kind: Kind
    question: str
    answer: str | None
    body: str | None
    keywords: list[str]
    url: str | None
    language: str | None
    published: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, entry: Any) -> EntryOut:
        return cls(id=entry.id, kind=entry.kind, question=entry.question, answer=entry.answer or None,
                   body=entry.body, keywords=keyword_list(entry.keywords), url=entry.url, language=entry.language,
                   published=entry.is_published, created_at=entry.created_at, updated_at=entry.updated_at)


class EntryPage(BaseModel):
    data: list[EntryOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last page.")


class HitOut(BaseModel):
    entry_id: int
    kind: Kind
    title: str
    answer: str = Field(description="What the bot would quote: the FAQ answer, or the best article passage.")
    url: str | None
    score: float = Field(description="Fused score, 0..1; the bot answers only at or above `threshold`.")
    lexical: float = Field(description="Share of the message's words the entry explains, 0..1.")
    semantic: float | None = Field(description="Cosine similarity by meaning; null when searching by words only.")


class SearchOut(BaseModel):
    query: str
    mode: Literal["hybrid", "words"] = Field(description="hybrid: words and meaning; words: no embedding model "
                                                         "is installed (or it is still embedding a large import).")
    threshold: float
    answer: HitOut | None = Field(description="What the bot would answer with, or null: it would not guess.")
    hits: list[HitOut]


class ImportOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    deleted: int = Field(description="Entries not in the file, removed because `replace=true`.")
