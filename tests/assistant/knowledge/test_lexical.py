"""Words: folding, stemming, typo tolerance, the 0..1 BM25 score, and cutting articles into passages."""

from __future__ import annotations

from touchpoint.assistant.knowledge.lexical import Bm25Index, fold, stem, tokens, words
from touchpoint.assistant.knowledge.passages import MAX_PASSAGE_CHARS, split_passages


def test_tokens_fold_accents_drop_stop_words_and_join_hyphenated_words():
    assert fold("Réservation à Zürich") == "reservation a zurich"
    assert tokens("What time is check-in?") == ["time", "checkin", "check"]
    assert tokens("Is the WiFi free? Wi-Fi!") == ["wifi", "free", "wifi", "wi", "fi"]
    assert tokens("I'll arrive, what's the price? Don't") == ["arriv", "pric"]
    assert tokens("") == [] and tokens("the and of") == []


def test_light_stemming_maps_common_variants_together():
    groups = [("cancel", "cancelled", "cancelling", "cancellation", "cancels"), ("pay", "payment", "payments"),
              ("book", "booking", "bookings", "booked"), ("include", "included", "includes"), ("reply", "replies"),
              ("park", "parking", "parked")]
    for group in groups:
        assert len({stem(word) for word in group}) == 1, group
    assert stem("need") == "need" and stem("bus") == "bus" and stem("12") == "12"


def test_scores_are_the_share_of_the_query_explained():
    index = Bm25Index([words("Is there parking? car garage"), words("Can I bring my dog? pet"),
                       words("Is breakfast included? morning food")])
    full, partial = index.score(words("parking garage")), index.score(words("parking tomorrow"))
    assert set(full) == {0} and full[0].score == 1.0 and full[0].matched == ("park", "garag")
    assert set(partial) == {0} and 0.3 < partial[0].score < 0.9
    assert index.score(words("weather")) == {}  # only documents sharing a word are returned


def test_one_typo_still_matches_a_word_of_the_knowledge_base():
    index = Bm25Index([words("Is breakfast included?"), words("Is there parking?")])
    assert index.score(words("breakfst"))[0].score > 0.5
    assert index.score(words("brekfast"))[0].score > 0.5
    assert index.score(words("parkign"))[1].score > 0.5
    assert index.score(words("bre")) == {}  # short words are never "corrected"


def test_an_empty_index_scores_nothing():
    assert Bm25Index([]).score(words("anything")) == {}


def test_articles_split_into_paragraph_passages_with_their_headings():
    body = ("# Parking\nOur garage has 40 spaces at 12 EUR per day and you do not need to book a space.\n\n"
            "Tip:\n\nElectric cars charge for free on level -1, ask reception for a charging card.\n\n"
            "## Wifi\nFree fast wifi everywhere in the building; the password is on your key card.")
    passages = split_passages(body)
    assert [p.heading for p in passages] == ["Parking", "Parking", "Wifi"]
    assert passages[1].text.startswith("Tip:\nElectric cars")  # a very short paragraph joins the next
    assert passages[2].text.startswith("Free fast wifi")


def test_a_huge_paragraph_is_cut_at_sentence_ends_and_a_wall_of_text_at_spaces():
    sentences = " ".join(f"This is sentence number {i} of a long paragraph." for i in range(200))
    passages = split_passages(sentences)
    assert len(passages) > 5 and all(len(p.text) <= MAX_PASSAGE_CHARS for p in passages)
    assert all(p.text.endswith(".") for p in passages)
    wall = split_passages("x" * 5000)
    assert all(len(p.text) <= MAX_PASSAGE_CHARS for p in wall) and "".join(p.text for p in wall) == "x" * 5000
    assert split_passages("") == [] and split_passages("\n\n\n") == []
