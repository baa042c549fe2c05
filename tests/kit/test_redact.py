"""Card numbers typed into chat are masked to their last four digits; look-alikes are left alone."""

from __future__ import annotations

import pytest

from touchpoint.kit.redact import luhn_valid, mask_card_numbers


@pytest.mark.parametrize(("text", "masked"), [
    ("4242424242424242", "••••••••••••4242"),
    ("my card is 4242 4242 4242 4242, exp 12/28", "my card is •••• •••• •••• 4242, exp 12/28"),
    ("5555-5555-5555-4444", "••••-••••-••••-4444"),
    ("amex 3782 822463 10005 ok", "amex •••• •••••• •0005 ok"),
    ("4000 0566 5566 5556.", "•••• •••• •••• 5556."),
    ("card: 6011111111111117 cvv 123", "card: ••••••••••••1117 cvv 123"),
    ("(4242 4242 4242 4242)", "(•••• •••• •••• 4242)"),
])
def test_card_numbers_are_masked_to_the_last_four_digits(text, masked):
    assert mask_card_numbers(text) == (masked, 1)


def test_several_cards_are_all_counted():
    text, count = mask_card_numbers("first 4242424242424242 then 5555 5555 5555 4444")
    assert count == 2 and "4242424242424242" not in text and text.endswith("•••• •••• •••• 4444")


@pytest.mark.parametrize("text", [
    "call me on +351 912 345 678",
    "my number is 00351912345678",
    "phone 4155552671234",  # Luhn-valid digits after a phone word, no card grouping
    "booking HB-1234, arriving 2026-05-12",
    "HB-4242424242424242",
    "the total was 1,234,567.89 EUR",
    "4242 4242 4242 4241",  # fails Luhn
    "order 1234567890123456",  # fails Luhn
    "tracking 4242 42 4242 4242 42",  # not a card's grouping
    "ref 0000000000000000",  # no card starts with 0
    "12/05/2026 14:30 for 2 nights",
    "",
])
def test_look_alikes_are_left_alone(text):
    assert mask_card_numbers(text) == (text, 0)


def test_luhn():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
