"""Flow files: valid ones parse into the dataclasses the runner uses; broken ones are refused with the line
and the reason of every problem (422 invalid_flow), never a 500."""

from __future__ import annotations

import json
import textwrap

import pytest

from touchpoint.assistant.flows.definition import (
    ActionStep,
    ApprovalStep,
    AskStep,
    ConfirmStep,
    FlowDefinitionError,
    build_flow,
    parse_flow,
)
from touchpoint.demo_data import DEMO_FLOWS, flow_sources

GOOD = textwrap.dedent("""\
    name: change_reservation
    trigger_intents: [change_reservation]
    slots:
      booking_ref: {type: text, prompt: "Reference?", regex: "HB-\\\\d{4}", transform: upper}
      new_date: {type: date, prompt: "New date?", future_only: true}
      nights: {type: number, prompt: "Nights?", integer: true, min: 1, max: 14}
      room: {type: choice, prompt: "Room?", choices: [garden, {value: sea, label: Sea view}, "no"]}
    steps:
      - ask: booking_ref
      - ask: new_date
      - ask: nights
      - ask: room
      - id: check
        confirm: "Change booking {booking_ref} to {new_date} for {nights} nights?"
      - id: change
        action:
          method: POST
          url: /reservations/{booking_ref}
          body: {arrival: "{new_date}", nights: "{nights}"}
          expect: [reference, departure]
        on_status: {404: missing}
        on_error: broken
      - end: "Done: {change.reference} until {change.departure}"
      - id: missing
        end: "No booking {booking_ref}"
      - id: broken
        handoff: "Booking system said {error.reason}"
    """)


def errors_of(source: str) -> list[dict]:
    with pytest.raises(FlowDefinitionError) as caught:
        parse_flow(source)
    assert caught.value.status_code == 422 and caught.value.code == "invalid_flow"
    return caught.value.details["errors"]


def test_a_valid_flow_parses_into_typed_steps_and_round_trips_through_its_stored_form():
    flow, stored = parse_flow(GOOD)
    assert [s.id for s in flow.steps] == ["ask_booking_ref", "ask_new_date", "ask_nights", "ask_room", "check",
                                          "change", "end_7", "missing", "broken"]
    assert isinstance(flow.steps[0], AskStep) and isinstance(flow.steps[4], ConfirmStep)
    change = flow.step("change")
    assert isinstance(change, ActionStep) and change.action is not None
    assert (change.action.method, change.action.retries, change.action.timeout) == ("POST", 2, 5.0)
    assert change.on_status == {404: "missing"} and change.on_error == "broken"
    # YAML 1.1 would read the choice "no" as false; a flow means the word.
    assert [c.value for c in flow.slots["room"].choices] == ["garden", "sea", "no"]
    assert build_flow(json.loads(json.dumps(stored))) == flow


def test_json_flows_are_accepted_too():
    _, stored = parse_flow(GOOD)
    flow, _ = parse_flow(json.dumps(stored, indent=2))
    assert flow.name == "change_reservation"


@pytest.mark.parametrize("name", DEMO_FLOWS)
def test_the_demo_flows_are_valid(name):
    flow, _ = parse_flow(flow_sources()[name])
    assert flow.trigger_intents == (name,)


def test_pay_bill_demo_has_an_approval_with_a_link_action():
    flow, _ = parse_flow(flow_sources()["pay_bill"])
    approve = flow.step("approve")
    assert isinstance(approve, ApprovalStep) and approve.link is not None and approve.amount_is_cents


def test_yaml_syntax_errors_give_their_line():
    errors = errors_of("name: x\nslots:\n  a: {type: text\nsteps: []\n")
    assert errors[0]["line"] == 4


@pytest.mark.parametrize(("source", "line", "fragment"), [
    (GOOD.replace("  - ask: nights\n", "  - ask: nightz\n"), 11, "'nightz' is not a slot"),
    (GOOD.replace("confirm: \"Change booking {booking_ref}", "confirm: \"Change booking {booking}"), 14,
     "{booking} is not a slot"),
    (GOOD.replace("on_error: broken", "on_error: brokn"), 15, "goes to 'brokn'"),
    (GOOD.replace("until {change.departure}", "until {change.arrival}"), 23, "not among the fields"),
    (GOOD.replace("future_only: true", "future_only: true, colour: red"), 5, "unknown key 'colour'"),
    (GOOD.replace('regex: "HB-\\\\d{4}"', 'regex: "HB-(\\\\d{4}"'), 4, "does not compile"),
    (GOOD.replace("min: 1, max: 14", "min: 20, max: 14"), 6, "'min' is larger than 'max'"),
    (GOOD.replace("type: number", "type: integer"), 6, "'type' must be one of"),
    (GOOD.replace("  - id: change\n", "  - \n"), 16, "needs an id"),
    (GOOD.replace("method: POST", "method: YEET"), 17, "'method' must be one of"),
    (GOOD.replace("url: /reservations/{booking_ref}", "url: ftp://x/{booking_ref}"), 18, "'url' must be"),
    (GOOD.replace("{error.reason}", "{error.stack}"), 27, "error has status, reason"),
    (GOOD.replace("  - ask: room\n", "  - ask: room\n    colour: red\n"), 13, "unknown key 'colour'"),
    (GOOD.replace("Done: {change.reference}", "Done: {change.reference"), 23, "unbalanced"),
])
def test_each_mistake_is_reported_with_its_line_and_reason(source, line, fragment):
    errors = errors_of(source)
    assert any(e["line"] == line and fragment in e["reason"] for e in errors), errors


def test_every_problem_is_reported_at_once_and_the_message_names_the_first():
    source = GOOD.replace("ask: nights", "ask: nightz").replace("on_error: broken", "on_error: brokn")
    with pytest.raises(FlowDefinitionError) as caught:
        parse_flow(source)
    assert len(caught.value.details["errors"]) == 2
    assert caught.value.message.startswith("line 11:") and "(and 1 more)" in caught.value.message


@pytest.mark.parametrize(("source", "fragment"), [
    ("", "must be a mapping"),
    ("- just\n- a list\n", "must be a mapping"),
    ("name: x\nname: y\nsteps: [{end: hi}]\n", "appears twice"),
    ("name: x\nbase: &b {end: hi}\nsteps: [*b]\n", "aliases"),
    ("name: Bad Name\nsteps: [{end: hi}]\n", "'name' must be lowercase"),
    ("name: x\nsteps: []\n", "'steps' must be a non-empty list"),
    ("name: x\nsteps: [{say: hi, end: bye}]\n", "exactly one of"),
    ("name: x\nsteps: [{id: a, end: hi}, {id: a, end: hi}]\n", "already used"),
    ("name: x\x00\n", "not text"),
    ("name: x\nsteps:\n" + "  - say: hi\n" * 101, "at most 100 steps"),
    ("name: x\nsteps: [{approval: {amount: '1', amount_cents: '1', currency: EUR, reference: r, link_url: "
     "'https://p/x'}}]\n", "exactly one of 'amount'"),
    ("name: x\nsteps: [{id: a, action: {url: /x, method: GET, body: {a: 1}}}]\n", "GET request has no body"),
])
def test_structural_mistakes_are_refused(source, fragment):
    errors = errors_of(source)
    assert any(fragment in e["reason"] for e in errors), errors


def test_a_huge_file_is_refused_without_parsing():
    errors = errors_of("name: x\n" + "#" * 70_000)
    assert "larger than" in errors[0]["reason"]
