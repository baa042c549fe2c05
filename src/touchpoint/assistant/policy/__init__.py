"""The declarative, auditable escalation policy: rules (YAML) → `evaluate(policy, signals) -> Verdict`.

Pure parts are importable without a database: `parse_policy`, `default_policy`, `evaluate`, `sentiment`.
The stored versions per workspace live in `service` (active_policy, import, list, activate); routes in `api`.
"""

from touchpoint.assistant.policy.evaluate import evaluate
from touchpoint.assistant.policy.rules import EscalationPolicy, PolicyError, Rule, default_policy, parse_policy
from touchpoint.assistant.policy.sentiment import sentiment
from touchpoint.assistant.policy.signals import Signals, Verdict

__all__ = ["EscalationPolicy", "PolicyError", "Rule", "Signals", "Verdict", "default_policy", "evaluate",
           "parse_policy", "sentiment"]
