"""Understanding a batch of messages at once, before the transaction that processes them.

One message at a time, the encoder runs a 1-row ONNX graph (6 to 7.5 ms of CPU here); a group of messages sorted by
length and run 8 at a time costs 2.7 to 5.7 ms each (see ENCODE_BATCH), with the same results within float rounding
(cosine of the embeddings >= 0.9999998; no intent or escalation decision changed on 640 BANKING77 questions). The
inbound worker therefore reads the texts of a claimed batch here, in a worker thread (onnxruntime and the
tokenizer release the GIL, so webhooks keep being answered), and hands each result to the assistant as a
`Preread`. The sentence vector of the message is kept as well, so the knowledge base does not encode the same
text a second time.

`understand_many` mirrors `NluEngine.understand` step by step (the engine reads one message; this reads many). If
the engine grows an `understand_many` of its own, that one is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from touchpoint.assistant.knowledge.retrieval import clean_query
from touchpoint.assistant.signals_builder import Understood, from_understanding

if TYPE_CHECKING:
    from touchpoint.assistant.nlu import NluEngine

# Texts per ONNX run, after sorting the whole group by length. Measured here (CPU per text; one at a time: 7.5 ms
# for BANKING77 questions, 6 ms for the demo's short FAQ questions): runs of 8 cost 5.7 and 2.7 ms, runs of 32
# 10.2 and 2.6 ms: with 32 texts of mixed length in one run the padding and the larger tensors cost more than
# the runs saved.
ENCODE_BATCH = 8


@dataclass(frozen=True, slots=True)
class Preread:
    """A message's understanding computed ahead of its processing. `text` is the (stripped) text it was computed
    for: the assistant uses it only for that very text and that very engine. `query_vector` is the message's
    sentence vector when the knowledge base would embed exactly the same string (else None: it encodes its own)."""

    text: str
    understood: Understood
    engine: Any
    query_vector: Any = None


def understand_many(engine: NluEngine, texts: Sequence[str]) -> list[tuple[Any, Any]]:
    """Per text, (the engine's `Understanding`, the sentence vector of its cleaned text or None without encoder).
    CPU-bound: call it in a worker thread."""
    own = getattr(engine, "understand_many", None)
    if own is not None:  # the engine knows best how to batch itself
        return [(result, None) for result in own(list(texts))]
    import time

    from touchpoint.assistant.nlu.classifier import encode_views
    from touchpoint.assistant.nlu.engine import Understanding
    from touchpoint.assistant.nlu.language import detect_language
    from touchpoint.assistant.nlu.text import clean_text

    if not texts:
        return []
    started = time.perf_counter()
    model = engine.model
    languages = [detect_language(text, engine.languages) for text in texts]
    cleaned = [clean_text(text) for text in texts]
    encoder = model.intents.encoder
    encoded = encode_views(encoder, cleaned, ENCODE_BATCH) if encoder is not None else None
    intents = model.intents.predict_many(cleaned, encoded=encoded)
    escalations: list[Any] = [None] * len(texts)
    if model.escalation is not None:
        embeddings = encoded[0] if encoded is not None and model.escalation.encoder is not None else None
        escalations = list(model.escalation.score_many(cleaned, embeddings))
    # The engine reports the time of one reading; here it is the batch's time shared out.
    elapsed = round((time.perf_counter() - started) * 1000 / len(texts), 3)
    vectors = encoded[0] if encoded is not None else [None] * len(texts)
    return [(Understanding(language, intent, escalation, model.version, elapsed), vector)
            for language, intent, escalation, vector in zip(languages, intents, escalations, vectors, strict=True)]


def preread(engine: NluEngine, texts: Sequence[str]) -> list[Preread]:
    """`understand_many` as the assistant consumes it. `texts` must already be stripped as the assistant strips
    them. Blocking: run it in a worker thread."""
    from touchpoint.assistant.nlu.text import clean_text

    out = []
    for text, (understanding, vector) in zip(texts, understand_many(engine, texts), strict=True):
        # The knowledge base embeds clean_query(text); the encoder embedded clean_text(text). Almost always the
        # same string (both are NFKC, control-free, whitespace-collapsed); when not, the vector is not reused.
        reusable = vector is not None and clean_query(text) == clean_text(text)
        out.append(Preread(text, from_understanding(understanding), engine, vector if reusable else None))
    return out
