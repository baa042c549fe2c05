"""A caller that already has the message's vector (the assistant's understanding made it) hands it to the search:
the same hits, and the encoder is not asked again."""

from __future__ import annotations

from tests.assistant.knowledge.eval_set import KB
from tests.assistant.knowledge.support import FakeEncoder, rows_of
from touchpoint.assistant.knowledge import service
from touchpoint.assistant.knowledge.index import build_embedded
from touchpoint.assistant.knowledge.retrieval import clean_query


def test_a_known_vector_gives_the_same_hits_without_encoding_again():
    encoder = FakeEncoder()
    index = build_embedded(rows_of(KB), encoder)
    service._query_vectors.clear()
    for message in ("can my puppy come along?", "is there somewhere to park", "what time do I have to leave"):
        text = clean_query(message)
        own = service.search_index(index, message, limit=3, encoder=encoder)
        vector = encoder.encode([text])[0]
        service._query_vectors.clear()
        before = encoder.calls
        given = service.search_index(index, message, limit=3, encoder=encoder, query_vector=vector)
        assert given == own and own
        assert encoder.calls == before  # not encoded a second time
        # ...and remembered for the next search of the same text (the agent's suggestions).
        assert service.search_index(index, message, limit=3, encoder=encoder) == own
        assert encoder.calls == before


def test_a_known_vector_is_ignored_without_an_encoder():
    index = build_embedded(rows_of(KB), None)
    words_only = service.search_index(index, "is there somewhere to park", limit=3)
    assert service.search_index(index, "is there somewhere to park", limit=3, query_vector=[1.0, 0.0]) == words_only
