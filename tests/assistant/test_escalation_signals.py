"""The words-level escalation signals: negation, "call me" that asks for nobody, reassurance, money gone wrong
described without the word payment, sarcasm, and the development set they were worked out on."""

from __future__ import annotations

import csv

import pytest

from tests.assistant.conftest import REALISTIC
from touchpoint.assistant.nlu.cues import find_cues
from touchpoint.assistant.policy import default_policy, evaluate, sentiment
from touchpoint.assistant.signals_builder import TurnContext, build_signals, is_human_request, words_only

DEV = REALISTIC.with_name("escalation_dev.csv")


def test_dev_set_is_well_formed_and_disjoint_from_the_other_sets():
    with DEV.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    others = set()
    for path in (REALISTIC, REALISTIC.with_name("escalation_holdout.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            others |= {r["text"].casefold() for r in csv.DictReader(fh)}
    assert len(rows) >= 300 and {r["label"] for r in rows} == {"escalate", "no_escalate"}
    assert 0.4 < sum(r["label"] == "escalate" for r in rows) / len(rows) < 0.6
    categories = {r["category"] for r in rows}
    assert {"hard_negative", "ordinary_payment", "sarcasm", "payment_trouble", "threat"} <= categories
    texts = [r["text"].casefold() for r in rows]
    assert len(set(texts)) == len(texts) and not set(texts) & others


@pytest.mark.parametrize("text", [
    "no complaints, just a question about parking",
    "I'm not angry, just want to know when the technician comes",
    "nothing wrong, just checking my booking is confirmed",
])
def test_a_negated_complaint_is_no_complaint_and_reads_as_calm(text):
    found = find_cues(text)
    assert "complaint" not in found.hits and found.calm


@pytest.mark.parametrize("text", ["i'm not happy with how my claim was handled", "this is not acceptable"])
def test_negated_praise_is_still_a_complaint(text):
    assert "complaint" in find_cues(text).hits


@pytest.mark.parametrize("text", [
    "call me by my first name, Ana",
    "please call me a taxi for 7am",
    "no need to call me, email is fine",
    "don't call me, I'm in a meeting",
    "can the driver call me when he's near?",
    "can reception give me a wake-up call at 6",
    "I need a person to pick me up at the airport",
])
def test_call_me_that_asks_for_nobody_is_not_a_request_for_a_person(text):
    assert "human_request" not in find_cues(text).hits
    assert not is_human_request(text)


@pytest.mark.parametrize("text", [
    "call me when you can", "pls get someone to contact me asap", "put me through to the billing department",
    "let me speak with your team leader", "this bot can't help me", "I'd like a callback about my mortgage",
])
def test_requests_for_a_person_in_other_words(text):
    assert "human_request" in find_cues(text).hits


@pytest.mark.parametrize("text", [
    "you took the money twice for the same order",
    "my card was charged but there is no booking",
    "i never received the refund you promised",
    "i sent money to the wrong account number, please reverse it",
    "you debited my account after I closed it",
    "why did you take 200 from my account",
    "the upgrade was free but it's on my bill",
])
def test_money_gone_wrong_without_the_word_payment(text):
    assert "payment_trouble" in find_cues(text).hits


@pytest.mark.parametrize("text", [
    "how do I pay my bill", "can I pay by card?", "what's your refund policy",
    "can you charge my card for the extra night", "got my money back, all good", "how long does a refund usually take",
])
def test_ordinary_money_questions_stay_quiet(text):
    assert find_cues(text).hits == {}


@pytest.mark.parametrize("text", [
    "nice, the app crashed right when i was paying",
    'yeah sure, "24 hour delivery"',
    "great, another week of waiting, just what i needed",
    "so helpful, the bot just repeats itself",
])
def test_praise_about_a_failure_is_sarcasm(text):
    assert "sarcasm" in find_cues(text).hits


def test_sincere_thanks_is_not_sarcasm():
    for text in ("perfect thanks, just what I needed", "great, see you on friday", "wow, the upgrade is amazing"):
        assert "sarcasm" not in find_cues(text).hits
    assert sentiment("perfect thanks, just what I needed") > 0.5
    assert sentiment("great, another week of waiting, just what i needed") < -0.3


@pytest.mark.parametrize("text", [
    "I will post about this on tripadvisor", "we are thinking about moving our accounts to another bank",
    "i'm going to open a chargeback", "if this isn't solved today I'm cancelling", "enough is enough",
    "we booked a sea view and got a room facing the car park", "the air conditioning is not working",
])
def test_threats_and_indirect_complaints(text):
    assert "complaint" in find_cues(text).hits


@pytest.mark.parametrize("text", [
    "how do I leave a review? we had a lovely time", "i'm going to cancel my booking, how?",
    "is the suite more expensive than the double room?",
])
def test_ordinary_messages_with_complaint_words_stay_quiet(text):
    assert "complaint" not in find_cues(text).hits


@pytest.mark.parametrize(("text", "action"), [
    ("you took the money twice for the same order", "escalate"),
    ("put me through to the billing department", "escalate"),
    ("honestly very disappointed with the stay", "escalate"),
    ("no need to call me, email is fine", "clarify"),
    ("please call me a taxi for 7am", "clarify"),
])
def test_words_only_path_keeps_sane_escalation(text, action):
    """No trained model: cues, request-a-person patterns and sentiment still decide; the rest is asked again."""
    signals = build_signals(text, words_only(text), TurnContext(), served_languages=("en",), feedback=None)
    assert evaluate(default_policy(), signals).action == action
