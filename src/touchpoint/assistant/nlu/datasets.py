"""Readers for the public data sets the engine is trained and measured on (BANKING77, Bitext), and the mapping of
their intents to "a person should take this" — shared by the benchmark, the tests and whoever builds the default
escalation model. Paths are passed in: nothing here knows where a deployment keeps its data."""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from pathlib import Path

# Bitext intents that mean the customer is unhappy, wants a person, or has money trouble.
BITEXT_ESCALATE = frozenset({"complaint", "contact_human_agent", "contact_customer_service", "payment_issue"})

# BANKING77 intents where money went wrong: charged twice, not recognised, declined, missing, compromised.
BANKING77_PAYMENT_PROBLEMS = frozenset({
    "card_payment_not_recognised", "direct_debit_payment_not_recognised", "cash_withdrawal_not_recognised",
    "transaction_charged_twice", "compromised_card", "declined_card_payment", "declined_transfer",
    "declined_cash_withdrawal", "failed_transfer", "extra_charge_on_statement", "wrong_amount_of_cash_received",
    "card_payment_wrong_exchange_rate", "wrong_exchange_rate_for_cash_withdrawal", "Refund_not_showing_up",
    "reverted_card_payment?", "transfer_not_received_by_recipient", "balance_not_updated_after_bank_transfer",
    "balance_not_updated_after_cheque_or_cash_deposit", "top_up_failed", "top_up_reverted", "card_swallowed",
})

ESCALATE, NO_ESCALATE = "escalate", "no_escalate"


def read_labelled_csv(path: Path, text_column: str = "text", label_column: str = "label",
                      ) -> tuple[list[str], list[str]]:
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r[text_column] for r in rows], [r[label_column] for r in rows]


def read_banking77(directory: Path, split: str) -> tuple[list[str], list[str]]:
    return read_labelled_csv(Path(directory) / f"{split}.csv", "text", "category")


def read_bitext(path: Path) -> tuple[list[str], list[str]]:
    return read_labelled_csv(path, "instruction", "intent")


def stratified_split(texts: list[str], labels: list[str], test_share: float = 0.2, seed: int = 13,
                     ) -> tuple[tuple[list[str], list[str]], tuple[list[str], list[str]]]:
    """A fixed-seed stratified split (Bitext ships none)."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    rng = random.Random(seed)
    train, test = [], []
    for label in sorted(by_label):
        rows = by_label[label]
        rng.shuffle(rows)
        cut = round(len(rows) * test_share)
        test.extend(rows[:cut])
        train.extend(rows[cut:])
    train.sort()
    test.sort()
    return ([texts[i] for i in train], [labels[i] for i in train]), ([texts[i] for i in test],
                                                                      [labels[i] for i in test])


def few_shot(texts: list[str], labels: list[str], shots: int, seed: int) -> tuple[list[str], list[str]]:
    """`shots` examples per label, drawn with a fixed seed."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    rng = random.Random(seed)
    chosen = sorted(i for label in sorted(by_label)
                    for i in rng.sample(by_label[label], min(shots, len(by_label[label]))))
    return [texts[i] for i in chosen], [labels[i] for i in chosen]


def escalation_labels(labels: list[str], escalate: frozenset[str]) -> list[str]:
    return [ESCALATE if label in escalate else NO_ESCALATE for label in labels]
