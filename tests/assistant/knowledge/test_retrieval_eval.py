"""Retrieval quality on the evaluation set the thresholds were calibrated on (eval_set.py), by words only and with
the real sentence encoder: paraphrases find their entry, unrelated questions get no answer, and an answer given is
never the wrong entry's."""

from __future__ import annotations

import pytest

from tests.assistant.knowledge.eval_set import CONFUSABLE, KB, NO_SHARED_WORDS, PARAPHRASES, PASSAGES, UNRELATED
from tests.assistant.knowledge.support import rows_of
from touchpoint.assistant.knowledge.index import build_embedded
from touchpoint.assistant.knowledge.lexical import tokens
from touchpoint.assistant.knowledge.service import confident, search_index


@pytest.fixture(scope="module")
def words_index():
    return build_embedded(rows_of(KB))


@pytest.fixture(scope="module")
def hybrid_index(encoder):
    return build_embedded(rows_of(KB), encoder)


def _answers(index, encoder, messages):
    return {m: confident(search_index(index, m, encoder=encoder)) for m in messages}


def test_words_only_answers_many_paraphrases_and_never_a_wrong_or_unrelated_one(words_index):
    answers = _answers(words_index, None, [m for m, _ in PARAPHRASES])
    wrong = {m: a.title for (m, want), a in zip(PARAPHRASES, answers.values(), strict=True) if a and a.title != want}
    assert wrong == {}
    found = sum(1 for a in answers.values() if a is not None)
    assert found >= 0.55 * len(PARAPHRASES), found  # 20 of 32 when calibrated: words alone miss paraphrases
    unrelated = {m: a.title for m, a in _answers(words_index, None, UNRELATED).items() if a is not None}
    assert unrelated == {}
    assert all(a.semantic is None for a in answers.values() if a)


def test_with_the_encoder_nearly_every_paraphrase_is_answered_and_nothing_unrelated(hybrid_index, encoder):
    answers = _answers(hybrid_index, encoder, [m for m, _ in PARAPHRASES])
    wrong = {m: a.title for (m, want), a in zip(PARAPHRASES, answers.values(), strict=True) if a and a.title != want}
    assert wrong == {}
    missed = [m for m, a in answers.items() if a is None]
    assert len(missed) <= 3, missed  # 1 of 32 when calibrated ("can I get my money back if I don't come?")
    unrelated = {m: (a.title, a.score) for m, a in _answers(hybrid_index, encoder, UNRELATED).items() if a}
    assert unrelated == {}
    assert all(a.semantic is not None for a in answers.values() if a)


def test_meaning_finds_a_paraphrase_that_shares_no_word_with_its_entry(hybrid_index, words_index, encoder):
    for message, want in NO_SHARED_WORDS:
        entry = next(e for e in KB if e.question == want)
        assert not set(tokens(message)) & set(tokens(f"{entry.question} {entry.keywords} {entry.answer}")), message
        assert search_index(words_index, message) == [] or \
            confident(search_index(words_index, message)) is None  # words alone cannot
        hits = search_index(hybrid_index, message, encoder=encoder)
        assert hits[0].title == want, (message, hits)
        assert hits[0].lexical == 0.0 and hits[0].semantic is not None
    # The clearest of them is confident enough to be answered, not only ranked first.
    answer = confident(search_index(hybrid_index, "can my puppy come along?", encoder=encoder))
    assert answer is not None and answer.title == "Can I bring my dog?"


def test_confusable_questions_are_never_answered_from_the_wrong_entry(hybrid_index, encoder):
    for message, want in CONFUSABLE:
        answer = confident(search_index(hybrid_index, message, encoder=encoder))
        assert answer is None or answer.title == want, (message, answer)


@pytest.mark.parametrize("mode", ["words", "hybrid"])
def test_an_article_answers_with_its_best_matching_passage(mode, request):
    index = request.getfixturevalue(f"{mode}_index")
    encoder = request.getfixturevalue("encoder") if mode == "hybrid" else None
    for message, phrase in PASSAGES:
        # (By words alone an article is not always the top hit; the passage it would quote is what is tested.)
        hit = next(h for h in search_index(index, message, limit=5, encoder=encoder) if h.kind == "article")
        assert phrase in hit.answer, (message, hit.answer)
        article = next(e for e in KB if e.question == hit.title)
        assert len(hit.answer) < len(article.body or "") / 2  # a passage, not the article
        assert "##" not in hit.answer and hit.url and hit.url.startswith("https://harbour.example/")


def test_scores_are_bounded_and_explained(hybrid_index, encoder):
    hits = search_index(hybrid_index, "is there somewhere to park", limit=5, encoder=encoder)
    assert hits[0].title == "Is there parking?"
    assert all(0 <= h.score <= 1 and 0 <= h.lexical <= 1 and -1 <= (h.semantic or 0) <= 1 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({h.entry_id for h in hits}) == len(hits)


def test_bad_input_is_no_answer_not_an_error(hybrid_index, encoder):
    for message in ["", "   ", "\x00\x01", "🙂" * 500, "a" * 100_000, "?!?!", "ok " * 2000]:
        assert confident(search_index(hybrid_index, message, encoder=encoder)) is None
    assert search_index(hybrid_index, "parking", limit=0, encoder=encoder) == []
