"""sentiment(text): clear cases only — the rules (negation, intensifiers, capitals, "!!!", emoji, sarcasm) each
move the score the way a person reading the message would expect."""

from __future__ import annotations

import pytest

from touchpoint.assistant.policy.sentiment import sentiment


@pytest.mark.parametrize("text", [
    "This is terrible", "Worst hotel ever, absolutely disgusting", "I am furious", "the staff were rude and useless",
    "thanks for nothing", "Great, just great.", "oh wonderful, another delay", "yeah right, like that will happen",
    "I'm fed up with this", "😡😡", "what a joke", "péssimo serviço", "this is a waste of time",
])
def test_clearly_negative(text):
    assert sentiment(text) < -0.5, sentiment(text)


@pytest.mark.parametrize("text", [
    "Thank you so much, that was really helpful!", "The room was lovely", "great service 👍", "I love it :)",
    "Perfect, thanks!", "muito obrigado", "all sorted, cheers",
])
def test_clearly_positive(text):
    assert sentiment(text) > 0.4, sentiment(text)


@pytest.mark.parametrize("text", [
    "Is breakfast included?", "What time is check-out?", "I would like to book a room for two nights",
    "Can I change my reservation to Friday?", "How do I pay my bill?", "do you have parking", "ok", "",
    "See https://example.com/a:b for details", "12345",
])
def test_plain_requests_are_neutral(text):
    assert -0.2 <= sentiment(text) <= 0.2, sentiment(text)


def test_negation_flips_and_damps():
    assert sentiment("I am happy") > 0.4
    assert sentiment("I am not happy") < -0.3
    assert abs(sentiment("I am not happy")) < abs(sentiment("I am happy"))
    assert sentiment("not bad") > 0
    assert sentiment("the wifi isnt good") < 0  # a contraction without its apostrophe


def test_intensifiers_capitals_and_exclamations_add_weight():
    assert sentiment("this is very bad") < sentiment("this is bad") < 0
    assert sentiment("this is slightly bad") > sentiment("this is bad")
    assert sentiment("this is BAD") < sentiment("this is bad")
    assert sentiment("this is bad!!!") < sentiment("this is bad")
    assert sentiment("THIS IS BAD") < sentiment("this is bad")
    assert sentiment("great!!!") > sentiment("great")


def test_but_shifts_weight_to_what_follows():
    assert sentiment("the room was great but the staff were rude") < 0
    assert sentiment("the wait was annoying but the staff were wonderful") > 0


def test_sarcasm_reads_as_the_complaint_it_is():
    assert sentiment("great job") > 0
    assert sentiment("great job, you lost my booking again") < -0.4
    assert sentiment("thanks a lot") > 0
    assert sentiment("thanks a lot for nothing") < -0.5
    assert sentiment("just what I needed, another cancelled flight") < -0.4


def test_emoji_count_like_words():
    assert sentiment("my order arrived 😡") < sentiment("my order arrived") == 0
    assert sentiment("my order arrived 😊") > 0


def test_the_score_stays_in_range_and_never_raises():
    furious = "I HATE THIS TERRIBLE AWFUL DISGUSTING USELESS SERVICE!!!!!! 😡🤬👎 " * 50
    assert -1.0 <= sentiment(furious) < -0.9
    assert 0.9 < sentiment("amazing wonderful perfect excellent brilliant 😍🎉 " * 50) <= 1.0
    for odd in ["\x00\x01\x02", "💩" * 10_000, "ａｂｃ", "\ud800 lone surrogate", None, "!!!", "?!?!", ":( :( :("]:
        value = sentiment(odd)  # type: ignore[arg-type]
        assert -1.0 <= value <= 1.0
