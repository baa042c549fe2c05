"""Card numbers typed into chat are masked before the message is stored: only the last four digits stay.

A candidate is 13-19 digits written as one block or in a card's groups (4-4-4-4, 4-6-5, 4-6-4, ...)
separated by single spaces or dashes, starting with 2-6 (the card networks' ranges) and passing the Luhn
check. That leaves alone what customers type beside card numbers: phone numbers (+ or 00 in front, other
groupings, at most 15 digits), booking references (letters attached), dates, amounts and order numbers
that are not Luhn-valid.
"""

from __future__ import annotations

import re

MASK = "•"
# Digits in groups joined by one space or dash; not glued to letters, digits, '+', or another separator run.
_CANDIDATE = re.compile(r"(?<![\w+#@/.,-])(?:\d[ -]?){12,18}\d(?![\w@/-]|[.,]\d)")
_CARD_GROUPS = {(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 4, 4, 4, 2), (4, 4, 4, 4, 1), (4, 6, 5), (4, 6, 4),
                (4, 4, 4, 1), (4, 4, 4, 2), (4, 4, 4, 3), (4, 4, 5), (4, 5, 4), (4, 4, 4, 4, 4)}
_PHONE_CONTEXT = re.compile(r"(phone|call|tel|mobile|cell|whats ?app|number is)\W{0,3}$", re.IGNORECASE)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _looks_like_card(run: str, before: str) -> bool:
    separators = set(re.findall(r"[ -]", run))
    if len(separators) > 1:
        return False  # "4111 1111-1111 1111" mixes separators: not how anyone writes a card
    groups = tuple(len(g) for g in re.split(r"[ -]", run))
    digits = "".join(re.findall(r"\d", run))
    if not 13 <= len(digits) <= 19 or digits[0] not in "23456":
        return False
    if len(groups) > 1 and groups not in _CARD_GROUPS:
        return False
    if len(groups) == 1 and len(digits) <= 15 and _PHONE_CONTEXT.search(before):
        return False
    return luhn_valid(digits)


def _masked(run: str) -> str:
    total = sum(ch.isdigit() for ch in run)
    seen = 0
    out = []
    for ch in run:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - 4 else MASK)
        else:
            out.append(ch)
    return "".join(out)


def mask_card_numbers(text: str) -> tuple[str, int]:
    """The text with every card number masked to its last four digits ("•••• •••• •••• 4242"), and how
    many were masked."""
    if not text or sum(ch.isdigit() for ch in text) < 13:
        return text, 0
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        run = match.group(0)
        # A trailing separator is not part of the number ("4242...4242 - thanks").
        if _looks_like_card(run, text[max(match.start() - 20, 0):match.start()]):
            count += 1
            return _masked(run)
        return run

    return _CANDIDATE.sub(replace, text), count
