"""Small hand-written training data for the understanding-engine tests."""

from __future__ import annotations

# A small hand-written intent set: enough to train in a second, different enough that a working model separates it.
INTENTS: dict[str, list[str]] = {
    "check_in_time": [
        "what time is check in", "when can we check in", "earliest check-in time?", "can i arrive early",
        "from what time is the room ready", "when can i get my room key", "is early check in possible",
        "what hour does check in start",
    ],
    "parking": [
        "is there parking", "where can i park my car", "do you have a car park", "how much is parking per night",
        "can i leave my car at the hotel", "is parking free for guests", "do i need to book a parking space",
        "is there a garage nearby",
    ],
    "breakfast": [
        "is breakfast included", "what time is breakfast served", "do you serve breakfast",
        "how much does breakfast cost", "can i get breakfast in my room", "are there vegan options at breakfast",
        "until when is breakfast", "where do we have breakfast",
    ],
    "wifi": [
        "what is the wifi password", "is there free wifi", "the internet is not working in my room",
        "how do i connect to the wifi", "is wifi included", "wifi keeps dropping", "how fast is the internet",
        "can i get online in the room",
    ],
    "cancel_booking": [
        "i want to cancel my booking", "how do i cancel my reservation", "please cancel my stay",
        "can i cancel for free", "what is the cancellation policy", "cancel my room for next week",
        "i need to cancel the reservation", "is it too late to cancel",
    ],
}


def intent_examples() -> tuple[list[str], list[str]]:
    texts = [t for examples in INTENTS.values() for t in examples]
    labels = [name for name, examples in INTENTS.items() for _ in examples]
    return texts, labels
