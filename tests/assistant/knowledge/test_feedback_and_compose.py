"""The customer's yes/no to "Did this answer your question?", and the answer message the bot sends."""

from __future__ import annotations

import pytest

from touchpoint.assistant.base import Reply
from touchpoint.assistant.knowledge.retrieval import KnowledgeHit
from touchpoint.assistant.knowledge.service import FEEDBACK_QUESTION, compose_answer, feedback_of


@pytest.mark.parametrize("text", [
    "yes", "Yes!", "YES", "yep", "yeah", "yup", "y", "Yes, thanks", "yes thank you", "thanks", "Thanks a lot!",
    "thank you so much", "thx", "ty", "that helped", "It helped, thanks", "perfect", "great, thanks!", "ok",
    "okay thanks", "got it", "all good", "that's it", "That’s it", "👍", "👍👍", "👍🏽", "yes 👍", "🙏", "it did",
    "yes it did, thanks", "cheers", "sí", "oui merci", "obrigado",
])
def test_yes(text):
    assert feedback_of(text) is True


@pytest.mark.parametrize("text", [
    "no", "No.", "NO!!", "nope", "nah", "n", "not really", "Not really, thanks", "no thanks", "no, it didn't",
    "that didn't help", "That did not help.", "it doesn't help", "not helpful", "not what I asked", "wrong answer",
    "that's not it", "👎", "no 👎", "unfortunately not", "no, sorry", "non", "nein", "não",
])
def test_no(text):
    assert feedback_of(text) is False


@pytest.mark.parametrize("text", [
    "", "   ", "Is there parking?", "yes but what about parking?", "no, I asked about parking",
    "thanks, and is breakfast included?", "I want to talk to a person", "hello", "🙂", "help", "not bad",
    "No problem", "yes " * 100, "why?", "maybe", "\x00\x01", "that", "asdf",
])
def test_anything_else_is_not_feedback(text):
    assert feedback_of(text) is None


def _hit(**overrides):
    values = {"entry_id": 7, "kind": "faq", "title": "Is there parking?", "answer": "Yes, a garage with 40 spaces.",
              "url": "https://harbour.example/parking", "score": 0.8, "lexical": 0.7, "semantic": 0.6}
    return KnowledgeHit(**{**values, **overrides})


def test_an_answer_cites_its_source_and_asks_whether_it_helped():
    reply = compose_answer(_hit())
    assert isinstance(reply, Reply)
    assert reply.text == ("Yes, a garage with 40 spaces.\n\nFrom: Is there parking?\nhttps://harbour.example/parking\n"
                          f"{FEEDBACK_QUESTION}")
    assert reply.content == {"source": {"knowledge_id": 7, "title": "Is there parking?",
                                        "url": "https://harbour.example/parking"},
                             "quick_replies": ["Yes, thanks", "No"], "feedback_for": 7}
    # The quick replies themselves are understood as feedback.
    assert [feedback_of(q) for q in reply.content["quick_replies"]] == [True, False]


def test_an_answer_without_url_and_a_very_long_answer_still_fit_one_message():
    reply = compose_answer(_hit(url=None, answer="word " * 2000))
    assert "From: Is there parking?\nDid this answer" in reply.text
    assert reply.content["source"]["url"] is None
    assert len(reply.text) <= 4000 and reply.text.endswith(FEEDBACK_QUESTION) and "…" in reply.text
