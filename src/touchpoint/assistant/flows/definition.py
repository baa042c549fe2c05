"""Flow files (YAML or JSON) parsed and validated into frozen dataclasses.

Every problem is reported with its line and reason (422 `invalid_flow`), all at once, and nothing is
stored until the file is valid: the running version keeps serving. The validated plain structure is what
the database keeps (`FlowDefinition.definition`); `build_flow` rebuilds the dataclasses from it.

    name: change_reservation
    trigger_intents: [change_reservation]
    slots:
      booking_ref: {type: text, prompt: "Your booking reference?", regex: "HB-?\\d{4}", transform: upper}
    steps:
      - ask: booking_ref
      - confirm: "Change booking {booking_ref}?"
      - id: change
        action: {method: POST, url: "/reservations/{booking_ref}/change", expect: [status]}
        on_error: failed
      - end: "Done: {change.status}"
      - id: failed
        end: "Sorry, {error.reason}"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from touchpoint.assistant.flows import templates
from touchpoint.assistant.flows.checks import IDENT, TEAM, Checker, check_slots, names
from touchpoint.assistant.flows.loader import LineMap, dumps, flow_error, load_source, plain
from touchpoint.assistant.flows.loader import line_of as _line
from touchpoint.assistant.flows.slots import SlotSpec
from touchpoint.assistant.flows.spec import (
    BUILTINS,
    DEFAULT_MESSAGES,
    END,
    ActionSpec,
    ActionStep,
    ApprovalStep,
    AskStep,
    ConfirmStep,
    EndStep,
    Flow,
    FlowDefinitionError,
    HandoffStep,
    SayStep,
    Step,
)

__all__ = ["END", "ActionSpec", "ActionStep", "ApprovalStep", "AskStep", "ConfirmStep", "EndStep", "Flow",
           "FlowDefinitionError", "HandoffStep", "SayStep", "Step", "build_flow", "dumps", "load_source",
           "parse_flow", "plain"]

MAX_STEPS = 100
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
STEP_KINDS = ("ask", "say", "confirm", "action", "approval", "handoff", "end")


def parse_flow(source: str) -> tuple[Flow, dict[str, Any]]:
    """Parse and validate a flow file: the Flow and the plain structure to store."""
    data = load_source(source)
    flow = build_flow(data)
    return flow, plain(data)


def build_flow(data: Any) -> Flow:
    """Validate a loaded structure (with or without line numbers) into a Flow; raises FlowDefinitionError."""
    check = Checker()
    if not isinstance(data, dict):
        raise flow_error([(_line(data), "a flow file must be a mapping with name, slots and steps")])
    check.keys(data, {"name", "description", "trigger_intents", "handoff_team", "messages", "slots", "steps"}, "flow")
    name = check.text(data, "name", "flow", required=True, template=False) or ""
    if name and not IDENT.match(name):
        check.fail(_line(data, "name"), "flow: 'name' must be lowercase letters, digits and _ (at most 100)")
    description = check.text(data, "description", "flow", template=False) or ""
    triggers = names(check, data, "trigger_intents", "flow")
    team = check.text(data, "handoff_team", "flow", template=False) or "service"
    if not TEAM.match(team):
        check.fail(_line(data, "handoff_team"), "flow: 'handoff_team' must be a team slug")
    messages = dict(DEFAULT_MESSAGES)
    raw_messages = data.get("messages") or {}
    if not isinstance(raw_messages, dict):
        check.fail(_line(data, "messages"), "flow: 'messages' must be a mapping")
    else:
        check.keys(raw_messages, set(DEFAULT_MESSAGES), "messages")
        for key in DEFAULT_MESSAGES:
            messages[key] = check.text(raw_messages, key, "messages", default=messages[key]) or messages[key]
    slots = check_slots(check, data)
    steps = _steps(check, data, slots)
    _check_references(check, slots, steps)
    if check.problems:
        raise flow_error(check.problems)
    return Flow(name=name, description=description, trigger_intents=triggers, slots=slots, steps=steps,
                handoff_team=team, messages=messages)


STEP_KEYS = {
    "ask": {"next"},
    "say": {"next"},
    "confirm": {"on_no", "no_message", "reprompt", "max_attempts", "next"},
    "action": {"message", "on_success", "next", "on_error", "on_status"},
    "approval": set(),
    "handoff": set(),
    "end": set(),
}


def _steps(check: Checker, data: Any, slots: Mapping[str, SlotSpec]) -> tuple[Step, ...]:
    raw = data.get("steps")
    if not isinstance(raw, list) or not raw:
        check.fail(_line(data, "steps") if "steps" in data else _line(data), "flow: 'steps' must be a non-empty list")
        return ()
    if len(raw) > MAX_STEPS:
        check.fail(_line(data, "steps"), f"flow: at most {MAX_STEPS} steps")
    steps: list[Step] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        line = _line(raw, index)
        if not isinstance(item, dict):
            check.fail(line, f"step {index + 1}: must be a mapping such as '- ask: slot_name'")
            continue
        kinds = [k for k in STEP_KINDS if k in item]
        if len(kinds) != 1:
            check.fail(line, f"step {index + 1}: must have exactly one of {', '.join(STEP_KINDS)}")
            continue
        kind = kinds[0]
        step_id = item.get("id")
        if step_id is None:
            if kind == "action":
                check.fail(line, f"step {index + 1}: an action step needs an id (its response is saved under it)")
                continue
            step_id = f"ask_{item['ask']}" if kind == "ask" and isinstance(item["ask"], str) else f"{kind}_{index + 1}"
        where = f"step '{step_id}'"
        if not isinstance(step_id, str) or not IDENT.match(step_id) or step_id == END:
            check.fail(_line(item, "id"), f"step {index + 1}: 'id' must be lowercase letters, digits and _ "
                                          "(and not 'end')")
            continue
        if step_id in seen or step_id in slots or step_id in BUILTINS:
            check.fail(_line(item, "id"), f"{where}: the id is already used by another step, a slot or a built-in")
            continue
        seen.add(step_id)
        check.keys(item, {"id", kind} | STEP_KEYS[kind], where)
        step = _step(check, kind, step_id, item, line, where, slots)
        if step is not None:
            steps.append(step)
    _check_targets(check, steps, seen)
    return tuple(steps)


def _target(check: Checker, item: Any, key: str, where: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        check.fail(_line(item, key), f"{where}: '{key}' must be a step id or 'end'")
        return None
    return value


def _step(check: Checker, kind: str, step_id: str, item: Any, line: int, where: str,
          slots: Mapping[str, SlotSpec]) -> Step | None:
    nxt = _target(check, item, "next", where)
    if kind == "ask":
        slot = item["ask"]
        if not isinstance(slot, str) or slot not in slots:
            check.fail(_line(item, "ask"), f"{where}: '{slot}' is not a slot of this flow")
            return None
        return AskStep(step_id, kind, line, nxt, slot=slot)
    if kind == "say":
        return SayStep(step_id, kind, line, nxt, text=check.text(item, "say", where, required=True) or "")
    if kind == "confirm":
        attempts = check.number(item, "max_attempts", where, low=1, high=10, default=3, integer=True)
        return ConfirmStep(step_id, kind, line, nxt, text=check.text(item, "confirm", where, required=True) or "",
                           on_no=_target(check, item, "on_no", where),
                           no_message=check.text(item, "no_message", where),
                           reprompt=check.text(item, "reprompt", where), max_attempts=int(attempts or 3))
    if kind == "action":
        if "next" in item and "on_success" in item:
            check.fail(line, f"{where}: give 'on_success' or 'next', not both")
        spec = _action(check, item, "action", where)
        on_status: dict[int, str] = {}
        raw_status = item.get("on_status") or {}
        if not isinstance(raw_status, dict):
            check.fail(_line(item, "on_status"), f"{where}: 'on_status' maps HTTP statuses to step ids")
        else:
            for code, target in raw_status.items():
                if not str(code).isdigit() or not 400 <= int(code) <= 499 or not isinstance(target, str):
                    check.fail(_line(raw_status, code), f"{where}: 'on_status' keys are 4xx statuses, values step ids")
                    continue
                on_status[int(code)] = target
        return ActionStep(step_id, kind, line, _target(check, item, "on_success", where) or nxt, action=spec,
                          message=check.text(item, "message", where), on_error=_target(check, item, "on_error", where),
                          on_status=on_status)
    if kind == "approval":
        return _approval(check, step_id, item, line, where)
    if kind == "handoff":
        raw = item["handoff"]
        if isinstance(raw, str):
            raw = LineMap({"reason": raw})
            raw.line, raw.lines = line, {"reason": _line(item, "handoff")}
        if not isinstance(raw, dict):
            check.fail(line, f"{where}: 'handoff' is a reason or a mapping with team, reason, message")
            return None
        check.keys(raw, {"team", "reason", "message"}, where)
        team = check.text(raw, "team", where, template=False)
        if team is not None and not TEAM.match(team):
            check.fail(_line(raw, "team"), f"{where}: 'team' must be a team slug")
        return HandoffStep(step_id, kind, line, None, team=team,
                           reason=check.text(raw, "reason", where, required=True) or "",
                           text=check.text(raw, "message", where))
    return EndStep(step_id, kind, line, None, text=check.text(item, "end", where))


ACTION_KEYS = {"method", "url", "headers", "body", "timeout", "retries", "expect", "allow_private_urls"}


def _action(check: Checker, container: Any, key: str, where: str, *, link: bool = False) -> ActionSpec | None:
    raw = container.get(key)
    if not isinstance(raw, dict):
        check.fail(_line(container, key), f"{where}: '{key}' must be a mapping with at least url")
        return None
    check.keys(raw, ACTION_KEYS | ({"url_field"} if link else set()), f"{where} {key}")
    method = str(raw.get("method", "POST" if link else "GET")).upper()
    if method not in METHODS:
        check.fail(_line(raw, "method"), f"{where}: 'method' must be one of {', '.join(METHODS)}")
    url = check.text(raw, "url", where, required=True) or ""
    if url and not (url.startswith(("http://", "https://", "/")) and " " not in url):
        check.fail(_line(raw, "url"), f"{where}: 'url' must be an http(s) URL or a path starting with /")
    headers: dict[str, str] = {}
    raw_headers = raw.get("headers") or {}
    if not isinstance(raw_headers, dict):
        check.fail(_line(raw, "headers"), f"{where}: 'headers' must be a mapping")
    else:
        for name, value in raw_headers.items():
            if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", name) or not isinstance(value, str):
                check.fail(_line(raw_headers, name), f"{where}: header '{name}' needs a token name and a text value")
                continue
            check.template(value, _line(raw_headers, name), f"{where}: header '{name}'")
            headers[name] = value
    body = raw.get("body")
    if body is not None:
        if method == "GET":
            check.fail(_line(raw, "body"), f"{where}: a GET request has no body")
        _body_templates(check, body, _line(raw, "body"), where)
    expect = names(check, raw, "expect", where)
    for path in expect:
        if not templates.NAME.match(path):
            check.fail(_line(raw, "expect"), f"{where}: 'expect' entries are field names or dotted paths")
    timeout = check.number(raw, "timeout", where, low=0.5, high=30, default=5.0)
    retries = check.number(raw, "retries", where, low=0, high=5, default=2, integer=True)
    url_field = str(raw.get("url_field", "url"))
    return ActionSpec(method=method, url=url, headers=headers, body=plain(body), timeout=float(timeout or 5.0),
                      retries=int(retries if retries is not None else 2), expect=expect,
                      allow_private_urls=check.flag(raw, "allow_private_urls", where), url_field=url_field)


def _body_templates(check: Checker, value: Any, line: int, where: str) -> None:
    if isinstance(value, str):
        check.template(value, line, f"{where}: body")
    elif isinstance(value, dict):
        for key, item in value.items():
            _body_templates(check, item, _line(value, key) or line, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _body_templates(check, item, _line(value, index) or line, where)


APPROVAL_KEYS = {"amount", "amount_cents", "currency", "reference", "team", "reason", "message", "link", "link_url",
                 "sent", "rejected"}


def _approval(check: Checker, step_id: str, item: Any, line: int, where: str) -> ApprovalStep | None:
    raw = item["approval"]
    if not isinstance(raw, dict):
        check.fail(line, f"{where}: 'approval' must be a mapping")
        return None
    check.keys(raw, APPROVAL_KEYS, where)
    if ("amount" in raw) == ("amount_cents" in raw):
        check.fail(_line(raw), f"{where}: give exactly one of 'amount' (e.g. 182.50) or 'amount_cents'")
    in_cents = "amount_cents" in raw
    amount = check.text(raw, "amount_cents" if in_cents else "amount", where) or ""
    if ("link" in raw) == ("link_url" in raw):
        check.fail(_line(raw), f"{where}: give exactly one of 'link' (an action that creates the payment link) "
                               "or 'link_url' (a URL template)")
    link = _action(check, raw, "link", where, link=True) if "link" in raw else None
    link_url = check.text(raw, "link_url", where)
    team = check.text(raw, "team", where, template=False)
    if team is not None and not TEAM.match(team):
        check.fail(_line(raw, "team"), f"{where}: 'team' must be a team slug")
    return ApprovalStep(
        step_id, "approval", line, None, amount=amount, amount_is_cents=in_cents,
        currency=check.text(raw, "currency", where, required=True) or "",
        reference=check.text(raw, "reference", where, required=True) or "", team=team,
        reason=check.text(raw, "reason", where, default="A payment needs approval") or "",
        message=check.text(raw, "message", where, default="Thanks! A colleague will check the amount and send "
                                                          "you a secure payment link here.") or "",
        link=link, link_url=link_url,
        sent=check.text(raw, "sent", where, default="Here is your secure payment link for {payment.amount}: "
                                                    "{payment.url}") or "",
        rejected=check.text(raw, "rejected", where, default="Sorry, we can't take this payment online right now. "
                                                            "A colleague will write to you here.") or "")


def _check_targets(check: Checker, steps: list[Step], ids: set[str]) -> None:
    for step in steps:
        targets = [step.next]
        if isinstance(step, ConfirmStep):
            targets.append(step.on_no)
        if isinstance(step, ActionStep):
            targets.append(step.on_error)
            targets.extend(step.on_status.values())
        for target in targets:
            if target is not None and target != END and target not in ids:
                check.fail(step.line, f"step '{step.id}': goes to '{target}', which is not a step of this flow")


def _check_references(check: Checker, slots: Mapping[str, SlotSpec], steps: tuple[Step, ...]) -> None:
    """Every placeholder names a slot, a field an action promises (`expect`) or a built-in."""
    actions = {s.id: s.action.expect for s in steps if isinstance(s, ActionStep) and s.action is not None}
    for line, where, name in check.references:
        head, _, rest = name.partition(".")
        if head in slots:
            if rest:
                check.fail(line, f"{where}: slot '{head}' has no fields ({{{name}}})")
        elif head in actions:
            if not rest:
                check.fail(line, f"{where}: name a field of '{head}', such as {{{head}.field}}")
            elif not any(rest == path or rest.startswith(path + ".") for path in actions[head]):
                check.fail(line, f"{where}: {{{name}}} is not among the fields action '{head}' expects "
                                 f"(add it to its 'expect' list)")
        elif head in BUILTINS:
            if rest not in BUILTINS[head]:
                check.fail(line, f"{where}: {{{name}}}: {head} has {', '.join(BUILTINS[head])}")
        else:
            check.fail(line, f"{where}: {{{name}}} is not a slot, an action or a built-in")
