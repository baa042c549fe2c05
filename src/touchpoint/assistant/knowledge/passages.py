"""Cutting an article into the passages the bot can quote: a customer who asks about parking gets the parking
paragraph of the "Your stay" article, not the whole article."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PASSAGE_CHARS = 700  # about what fits in one chat bubble, and under the encoder's 128-token window
MIN_PASSAGE_CHARS = 60  # shorter paragraphs ("Good to know:") join the next one
MAX_PASSAGES = 200  # per article: a pasted book must not turn into thousands of embeddings
_BLANK_LINES = re.compile(r"\n\s*\n")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class Passage:
    text: str  # what the bot quotes
    heading: str  # the nearest heading above it ("" when none): context for retrieval, not quoted


def _split_long(text: str) -> list[str]:
    if len(text) <= MAX_PASSAGE_CHARS:
        return [text]
    chunks: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > MAX_PASSAGE_CHARS:  # one endless "sentence": cut at a space near the limit
            cut = sentence.rfind(" ", 0, MAX_PASSAGE_CHARS)
            cut = cut if cut > MAX_PASSAGE_CHARS // 2 else MAX_PASSAGE_CHARS
            if current:
                chunks.append(current)
                current = ""
            chunks.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > MAX_PASSAGE_CHARS:
            chunks.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        chunks.append(current)
    return [c for c in chunks if c]


def split_passages(body: str) -> list[Passage]:
    """Paragraphs (blank-line separated; markdown headings become context), long ones cut at sentence ends,
    very short ones joined to the next."""
    passages: list[Passage] = []
    heading = ""
    pending = ""
    for block in _BLANK_LINES.split(body.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [line.rstrip() for line in block.strip().split("\n") if line.strip()]
        content: list[str] = []
        for line in lines:
            match = _HEADING.match(line)
            if match:
                if content or pending:
                    passages.extend(Passage(p, heading) for p in _split_long(" ".join([pending, *content]).strip()))
                    content, pending = [], ""
                heading = match.group(1)
            else:
                content.append(line.strip())
        if not content:
            continue
        # List items keep their line breaks; prose lines are one paragraph.
        text = "\n".join(content) if any(c[:2] in ("- ", "* ", "• ") for c in content) else " ".join(content)
        text = f"{pending}\n{text}".strip() if pending else text
        if len(text) < MIN_PASSAGE_CHARS:
            pending = text
            continue
        pending = ""
        passages.extend(Passage(p, heading) for p in _split_long(text))
        if len(passages) >= MAX_PASSAGES:
            return passages[:MAX_PASSAGES]
    if pending:
        if passages and passages[-1].heading == heading and len(passages[-1].text) + len(pending) < MAX_PASSAGE_CHARS:
            passages[-1] = Passage(f"{passages[-1].text}\n{pending}", heading)
        else:
            passages.append(Passage(pending, heading))
    return passages[:MAX_PASSAGES]
