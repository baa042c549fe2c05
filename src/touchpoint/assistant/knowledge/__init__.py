"""The knowledge base: FAQ entries and articles per workspace, retrieved by words and by meaning, answered with
their source and a "Did this answer your question?" quick reply.

The assistant calls `service.search`, `service.best_answer`, `service.compose_answer` and `service.feedback_of`;
`api.py` is /api/v1/knowledge. Works without the `nlu` extra (by words only)."""
