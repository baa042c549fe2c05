"""Outbox, dispatcher, rate limiters, retries and receipts."""
