"""Retrieval by words: BM25 over accent-folded, stop-worded, lightly stemmed tokens, tolerant of one typo.

Scores are normalised to 0..1 as the idf-weighted share of the query's words a document explains (BM25's term
saturation and length normalisation included), so one threshold means the same thing in a 7-entry FAQ and in a
5,000-passage knowledge base. Pure Python: it must work without the `nlu` extra.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

K1 = 1.2
B = 0.75
# A query word the knowledge base has never seen ("wondering", "tomorrow") says little about which entry is
# meant; counted at full rare-word weight it would sink every score. It still counts, at this share.
UNKNOWN_WEIGHT = 0.5
# One common word ("room" in a hotel's KB) explaining a one-word message is weak evidence: a document's score is
# scaled down until the idf of the words it matched reaches this share of a rare word's idf.
EVIDENCE_SHARE = 0.6
TYPO_WEIGHT = 0.8  # a word matched through one typo counts a little less than the word itself
MIN_TYPO_LENGTH = 5
_WORD = re.compile(r"\w+(?:[-'’]\w+)*")
_CONTRACTION = re.compile(r"['’](s|ll|re|ve|d|t|m)$|['’]")

STOPWORDS = frozenset("""
a about above after again against all am an and any are aren as at be because been before being below between
both but by can cannot could couldn did didn do does doesn doing don down during each either else ever every few
for from further get gets got had hadn has hasn have haven having he her here hers herself him himself his how
i if in into is isn it its itself just let lets like ll may me might more most must mustn my myself need needs no
nor not now of off on once only or other ought our ours ourselves out over own please pls plz re same shall
shan she should shouldn so some such than thank thanks that the their theirs them themselves then there these
they this those through to too under until up us ve very want wanna was wasn way we were weren what when where
which while who whom why will with won would wouldn you your yours yourself yourselves hi hello hey dear
tell know wondering wonder anyone someone something thing things also yes ok okay
el la los las un una unos unas de del y o en con por para que es son se lo le al como mas
le la les un une des de du et ou en au aux avec pour que qui est sont ce cette je vous nous il elle
o a os as um uma de do da dos das e ou em no na nos nas com por para que se eu voce
der die das ein eine und oder in im mit fur ist sind ich sie wir
""".split())

# Suffixes removed by the light stemmer, longest first; the stem keeps at least three letters and a vowel.
_SUFFIXES = ("ational", "ations", "ation", "ments", "ment", "ings", "ing", "edly", "ed", "ly")
_VOWELS = frozenset("aeiouy")


def fold(text: str) -> str:
    """Casefolded, accents removed ("Réservation" → "reservation"): customers type without them."""
    folded = text.casefold()
    if folded.isascii():  # the common case, and NFKD cannot change ASCII
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A deliberately light English stemmer: plurals, -ing, -ed, -ation, -ment, -ly, final e and doubled
    consonants. It only has to map a word and its common variants to the same key (cancel, cancelled,
    cancelling, cancellation → cancel; pay, payments → pay); it never has to produce a real word."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and not (suffix == "ed" and word.endswith("eed")):
            rest = word[: -len(suffix)]
            if len(rest) >= (4 if suffix == "ly" else 3) and _VOWELS & set(rest):
                word = rest
                break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in _VOWELS:
        word = word[:-1]
    return word


class Word(NamedTuple):
    surface: str  # folded, as written: typos are corrected on it ("parkign" is one letter off "parking")
    stem: str  # what is indexed and compared


def words(text: str) -> list[Word]:
    """Content words. A hyphenated word counts as its parts and as its joined form ("check-in" → checkin,
    check; "wi-fi" → wifi, wi, fi), so either spelling finds the other."""
    out: list[Word] = []
    for word in _WORD.findall(fold(text)):
        word = _CONTRACTION.sub("", word)  # "I'll" → i, "what's" → what, "don't" → don (stop words)
        parts = word.split("-")
        if len(parts) > 1:
            joined = "".join(parts)
            if joined not in STOPWORDS:
                out.append(Word(joined, stem(joined)))
        out.extend(Word(p, stem(p)) for p in parts if p not in STOPWORDS and (len(p) > 1 or p.isdigit()))
    return out


def tokens(text: str) -> list[str]:
    """The stems of `words(text)`."""
    return [w.stem for w in words(text)]


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


@dataclass(frozen=True, slots=True)
class LexicalMatch:
    score: float  # 0..1, see the module docstring
    raw: float  # before the cap at 1 (a short document matching every word scores a little above): breaks ties
    matched: tuple[str, ...]  # the query words (stemmed) that the document contains


class Bm25Index:
    """BM25 over a fixed list of documents (each a list of words). Built once per knowledge-base version."""

    def __init__(self, documents: Sequence[Sequence[Word]]) -> None:
        self.size = len(documents)
        self._tf = [Counter(w.stem for w in doc) for doc in documents]
        self._lengths = [len(doc) for doc in documents]
        self._avg_length = (sum(self._lengths) / self.size) if self.size else 1.0
        df: Counter[str] = Counter()
        postings: dict[str, list[int]] = {}
        for index, tf in enumerate(self._tf):
            df.update(tf.keys())
            for term in tf:
                postings.setdefault(term, []).append(index)
        self._df = df
        self._postings = postings
        # One-typo lookup (SymSpell style): every word as written in the documents, and each of its single-letter
        # deletions, point to its stem. A query word with one letter missing, extra, wrong or two swapped shares
        # a key with the word it meant.
        self._typo: dict[str, set[str]] = {}
        for surface, term in {w for doc in documents for w in doc}:
            if len(surface) >= MIN_TYPO_LENGTH - 1 and surface.isalpha():
                for key in _deletions(surface) | {surface}:
                    self._typo.setdefault(key, set()).add(term)

    def idf(self, term: str) -> float:
        df = self._df.get(term, 0)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def _resolve(self, word: Word) -> tuple[str | None, float]:
        """The indexed stem a query word stands for, with how much it counts: its own stem, the stem of a word
        one typo away ("breakfst" → breakfast, "parkign" → parking), or None."""
        if word.stem in self._df:
            return word.stem, 1.0
        if len(word.surface) < MIN_TYPO_LENGTH or not word.surface.isalpha():
            return None, UNKNOWN_WEIGHT
        candidates: set[str] = set()
        for key in _deletions(word.surface) | {word.surface}:
            candidates |= self._typo.get(key, set())
        if not candidates:
            return None, UNKNOWN_WEIGHT
        # The most frequent neighbour: the typo most likely meant a common word of this knowledge base.
        best = max(sorted(candidates), key=lambda t: self._df[t])
        return best, TYPO_WEIGHT

    def score(self, query: Iterable[Word]) -> dict[int, LexicalMatch]:
        """The documents that contain at least one query word (by position), with their scores. Sparse: a large
        knowledge base is mostly documents that share nothing with the message."""
        scores: dict[int, float] = {}
        evidence: dict[int, float] = {}
        matched: dict[int, list[str]] = {}
        total = 0.0
        rare = math.log(1.0 + (self.size - 0.5) / 1.5) if self.size else 1.0  # idf of a word in one document
        for word in dict.fromkeys(query):  # a repeated query word counts once
            resolved, weight = self._resolve(word)
            if resolved is None:
                total += rare * weight
                continue
            idf = self.idf(resolved)
            total += idf * weight
            for index in self._postings[resolved]:
                tf = self._tf[index][resolved]
                norm = K1 * (1 - B + B * self._lengths[index] / self._avg_length)
                # One occurrence in a document of average length scores the word's full idf, a shorter document
                # a little more, a longer one less; repeats saturate quickly (they must not make up for words the
                # document lacks).
                scores[index] = scores.get(index, 0.0) + weight * idf * min(tf * (K1 + 1) / (tf + norm), 1.25)
                evidence[index] = evidence.get(index, 0.0) + weight * idf
                matched.setdefault(index, []).append(resolved)
        if total <= 0:
            return {}
        enough = EVIDENCE_SHARE * rare
        out = {}
        for index, score in scores.items():
            raw = score / total * min(evidence[index] / enough, 1.0)
            out[index] = LexicalMatch(min(raw, 1.0), raw, tuple(matched[index]))
        return out
