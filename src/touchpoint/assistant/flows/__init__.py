"""Declarative slot-filling flows: definition (YAML/JSON → dataclasses), slots (typed parsers), runner (the
state machine), actions (the brand's HTTP calls), payments (human approval before a payment link), service
and api (versions, import/export)."""
