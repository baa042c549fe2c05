"""The evaluation set the answer thresholds were calibrated on: a hotel's knowledge base (the demo FAQ plus a few
entries and two articles), paraphrases that must find the right entry, and questions it must not answer.

Change the retrieval code and these still have to pass; change them and say why in the commit."""

from __future__ import annotations

from dataclasses import dataclass

from touchpoint.demo import FAQ


@dataclass(frozen=True)
class Entry:
    question: str
    answer: str = ""
    keywords: str = ""
    kind: str = "faq"
    body: str | None = None
    url: str | None = None
    language: str | None = None


ACCESSIBILITY = """Everyone should be able to enjoy a stay by the harbour. Here is what we offer.

## Getting around
The main entrance is step-free and a lift serves every floor, including the roof terrace. The lift is wide
enough for a wheelchair and has braille buttons. Corridors are at least 1.2 m wide.

## Accessible rooms
Four rooms on the first floor have a roll-in shower with a fold-down seat, grab rails beside the toilet, and a
bed height of 50 cm. Ask for an accessible room when you book; they are kept for guests who need them.

## Assistance animals
Guide dogs and other assistance dogs are welcome in every room, free of charge, and are not counted as pets.

## Hearing
Reception has a hearing loop, and we lend vibrating alarm clocks and visual fire alarms for your room."""

HOUSE_RULES = """A few rules keep the house pleasant for everyone.

Quiet hours are from 10 pm to 7 am. Please keep music and voices low in the corridors and on the terrace at night.

Smoking, including e-cigarettes, is not allowed anywhere inside the building. We charge a cleaning fee of 150 EUR
when a room has been smoked in. You can smoke in the garden by the fountain.

Visitors are welcome in the lobby and bar at any time, and in rooms until 10 pm. Parties and events in the rooms
are not allowed.

Damage to the room or its furniture is charged at repair cost. Please tell reception about anything broken so we
can fix it quickly."""

KB: list[Entry] = [Entry(q, a, k) for q, a, k in FAQ] + [
    Entry("Is there a swimming pool?", "Our heated rooftop pool is open from 8 am to 8 pm, April to October. Towels "
          "are in your room.", "pool swim swimming rooftop"),
    Entry("How do I get here from the airport?", "The airport shuttle bus stops in front of the hotel every 30 "
          "minutes (5 EUR). A taxi takes about 20 minutes and costs around 25 EUR.",
          "airport transfer taxi shuttle bus"),
    Entry("Can you keep my luggage?", "Yes, reception stores bags for free on your arrival and departure day, before "
          "check-in and after check-out.", "luggage bags storage suitcase"),
    Entry("Accessibility at Harbour Stays", kind="article", body=ACCESSIBILITY, keywords="wheelchair disabled access",
          url="https://harbour.example/accessibility"),
    Entry("House rules", kind="article", body=HOUSE_RULES, keywords="rules smoking noise visitors",
          url="https://harbour.example/house-rules"),
]

# (message, the question/title of the entry that must come first)
PARAPHRASES: list[tuple[str, str]] = [
    ("what time can I arrive", "What time is check-in and check-out?"),
    ("how late can I stay on my last day?", "What time is check-in and check-out?"),
    ("latest time to check out", "What time is check-in and check-out?"),
    ("check in time?", "What time is check-in and check-out?"),
    ("are pets allowed?", "Can I bring my dog?"),
    ("can my puppy come along?", "Can I bring my dog?"),
    ("is the hotel pet friendly", "Can I bring my dog?"),
    ("is the morning meal part of the price?", "Is breakfast included?"),
    ("what time is breakfast served", "Is breakfast included?"),
    ("Do I get breakfast with my room?", "Is breakfast included?"),
    ("how can I settle my invoice?", "How do I pay my bill?"),
    ("where do I pay", "How do I pay my bill?"),
    ("I need to cancel my reservation", "How do I cancel my booking?"),
    ("can I get my money back if I don't come?", "How do I cancel my booking?"),
    ("cancellation policy", "How do I cancel my booking?"),
    ("where can I leave my car?", "Is there parking?"),
    ("is there somewhere to park", "Is there parking?"),
    ("how much does parking cost per day", "Is there parking?"),
    ("is there internet?", "Do you have wifi?"),
    ("what's the wi-fi password", "Do you have wifi?"),
    ("can I go swimming at the hotel?", "Is there a swimming pool?"),
    ("is there a shuttle from the airport", "How do I get here from the airport?"),
    ("how much is a taxi from the airport", "How do I get here from the airport?"),
    ("where can I keep my suitcases after I check out?", "Can you keep my luggage?"),
    ("is there a lift for wheelchair users?", "Accessibility at Harbour Stays"),
    ("do you have rooms with a roll-in shower?", "Accessibility at Harbour Stays"),
    ("are assistance dogs allowed", "Accessibility at Harbour Stays"),
    ("can I smoke in my room?", "House rules"),
    ("until what time can friends visit me in my room?", "House rules"),
    ("is it ok to have a party in the room", "House rules"),
    ("what are the quiet hours", "House rules"),
]

# Paraphrases that share no content word with their entry: only meaning can find them.
NO_SHARED_WORDS: list[tuple[str, str]] = [
    ("can my puppy come along?", "Can I bring my dog?"),
    ("can my doggy come too?", "Can I bring my dog?"),
    ("I'd like to call off my stay", "How do I cancel my booking?"),
]

# (message, the passage of the article that must be quoted, by a phrase in it)
PASSAGES: list[tuple[str, str]] = [
    ("is there a lift for wheelchair users?", "lift serves every floor"),
    ("do you have rooms with a roll-in shower?", "roll-in shower"),
    ("can I smoke in my room?", "Smoking, including e-cigarettes"),
    ("until what time can friends visit me in my room?", "Visitors are welcome"),
]

# Messages the knowledge base has no answer for; several share words with an entry ("password", "card",
# "arrived", "room") to make sure one common word is not enough.
UNRELATED: list[str] = [
    "what's the weather like tomorrow",
    "who won the football match last night",
    "what is the capital of France",
    "tell me a joke",
    "I forgot my online banking password",
    "I lost my credit card",
    "my order hasn't arrived yet",
    "do you sell gift cards?",
    "I want to buy a car",
    "how many stars does the hotel have",
    "my room was not cleaned and nobody answered the phone",
    "can I book a massage",
    "is there a gym",
    "hello",
    "ok",
    "asdfghjkl qwerty",
    "🙂🙂🙂",
]

# Questions the KB does answer, that words alone attribute to the wrong entry (the bill FAQ says "online"):
# by meaning, the assistant may fail to find them but must never give the wrong entry's answer.
CONFUSABLE: list[tuple[str, str]] = [
    ("can I get online?", "Do you have wifi?"),
    ("can I get online in my room?", "Do you have wifi?"),
]
