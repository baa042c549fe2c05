"""The parsed form of a flow: frozen dataclasses the runner walks, and the error an invalid file raises."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from touchpoint.assistant.flows.slots import SlotSpec
from touchpoint.kit.errors import AppError

END = "end"
BUILTINS: dict[str, tuple[str, ...]] = {
    "payment": ("reference", "amount", "amount_cents", "currency", "url"),
    "error": ("status", "reason"),
}
DEFAULT_MESSAGES = {
    "cancelled": "OK, I've cancelled that. Is there anything else I can help with?",
    "start_over": "OK, let's start over.",
    "still_working": "One moment, I'm still checking that for you.",
    "waiting_approval": "A colleague is checking your request; you'll get an answer here shortly.",
    "error": "Sorry, something went wrong on our side. I'm passing you to a colleague who can help.",
    "gave_up": "Sorry, I'm having trouble with that. Let me pass you to a colleague.",
    "confirm_reprompt": "Please answer yes or no.",
    "not_confirmed": "No problem, let's fix that.",
}


class FlowDefinitionError(AppError):
    status_code = 422
    code = "invalid_flow"


# ---- the parsed flow -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ActionSpec:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    timeout: float = 5.0
    retries: int = 2
    expect: tuple[str, ...] = ()
    allow_private_urls: bool = False
    url_field: str = "url"  # payment links only: where the link is in the response


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    kind: str
    line: int = field(compare=False)  # where it was in the file (0 when rebuilt from storage)
    next: str | None  # None: the step after this one


@dataclass(frozen=True, slots=True)
class AskStep(Step):
    slot: str = ""


@dataclass(frozen=True, slots=True)
class SayStep(Step):
    text: str = ""


@dataclass(frozen=True, slots=True)
class ConfirmStep(Step):
    text: str = ""
    on_no: str | None = None  # None: back to the first question
    no_message: str | None = None
    reprompt: str | None = None
    max_attempts: int = 3


@dataclass(frozen=True, slots=True)
class ActionStep(Step):
    action: ActionSpec | None = None
    message: str | None = None
    on_error: str | None = None
    on_status: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ApprovalStep(Step):
    amount: str = ""  # template; `amount_is_cents` says which unit it renders to
    amount_is_cents: bool = True
    currency: str = ""
    reference: str = ""
    team: str | None = None
    reason: str = ""
    message: str = ""
    link: ActionSpec | None = None
    link_url: str | None = None
    sent: str = ""
    rejected: str = ""


@dataclass(frozen=True, slots=True)
class HandoffStep(Step):
    team: str | None = None
    reason: str = ""
    text: str | None = None


@dataclass(frozen=True, slots=True)
class EndStep(Step):
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    description: str
    trigger_intents: tuple[str, ...]
    slots: Mapping[str, SlotSpec]
    steps: tuple[Step, ...]
    handoff_team: str
    messages: Mapping[str, str]

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def after(self, step: Step) -> str:
        """The id of the step that follows `step` when it does not say."""
        if step.next:
            return step.next
        index = self.steps.index(step)
        return self.steps[index + 1].id if index + 1 < len(self.steps) else END

    def first_question(self) -> str:
        return next((s.id for s in self.steps if isinstance(s, AskStep)), self.steps[0].id)
