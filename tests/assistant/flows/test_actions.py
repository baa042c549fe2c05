"""The brand's HTTP actions: requests built safely from slots, called by the ActionWorker outside any
transaction against a local fake brand server, with timeouts, retries, refusal of private addresses,
and success and error paths that always end in a reply or a person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.assistant.flows.support import FakeBrandApi, world
from tests.support.servers import serve_asgi
from touchpoint.assistant.flows.actions import ActionBuildError, build_request, interpret
from touchpoint.assistant.flows.context import Scope
from touchpoint.assistant.flows.definition import parse_flow
from touchpoint.conversations.action_worker import ActionWorker
from touchpoint.models import AuditEntry, Message

LOOKUP = """\
name: lookup
slots:
  ref: {type: text, prompt: "Reference?", regex: "R-\\\\d+"}
steps:
  - ask: ref
  - id: find
    action:
      method: POST
      url: /lookup/{ref}
      headers: {X-Ref: "{ref}"}
      body: {reference: "{ref}", note: "ref {ref}", fixed: 3}
      expect: [status, guest.name]
      timeout: 2
      retries: 1
    message: "One moment…"
    on_status: {404: missing}
    on_error: broken
  - end: "{find.guest.name}: {find.status}"
  - id: missing
    end: "No {ref}."
  - id: broken
    end: "Broken: {error.reason}"
"""
NO_ERROR_PATH = LOOKUP.replace("    on_error: broken\n", "").replace("name: lookup", "name: plain")
OK = (200, {"status": "confirmed", "guest": {"name": "Ana"}, "extra": "ignored"})


async def test_a_successful_action_continues_the_flow_with_the_response(settings):
    brand = FakeBrandApi()
    brand.on("/lookup/R-7", OK)
    async with serve_asgi(brand.app()) as url, world(settings, LOOKUP, base_url=url, allow_private_urls=True) as w:
        await w.start("lookup")
        waiting = await w.say("it's R-7")
        assert waiting.status == "waiting_action" and [r.text for r in waiting.replies] == ["One moment…"]
        (call,) = await w.calls()
        assert call.request["url"] == f"{url}/lookup/R-7" and call.request["max_attempts"] == 2
        # Nothing was called inside the customer's transaction; a message meanwhile is not lost.
        assert brand.received == []
        meanwhile = await w.say("hello?")
        assert [r.text for r in meanwhile.replies] == ["One moment, I'm still checking that for you."]
        assert meanwhile.status == "waiting_action"

        await w.run_actions()
        assert (await w.bot_texts())[-1] == "Ana: confirmed"
        assert (await w.flow_session()).status == "completed"
        (request,) = brand.received
        assert request["method"] == "POST" and request["json"] == {"reference": "R-7", "note": "ref R-7", "fixed": 3}
        assert request["headers"]["x-ref"] == "R-7"
        assert request["headers"]["idempotency-key"] == f"touchpoint-action-{call.id}"
        (done,) = await w.calls()
        assert done.status == "done" and done.response["data"] == {"status": "confirmed", "guest": {"name": "Ana"}}


@pytest.mark.parametrize(("answers", "hits", "reply"), [
    ([(500, {"e": 1}), OK], 2, "Ana: confirmed"),  # retried once, then fine
    ([(503, "down")], 2, "Broken: HTTP 503"),  # retries used up
    ([(200, "<html>oops</html>")], 1, "Broken: the response is not JSON"),  # garbage is not retried
    ([(200, {"status": "confirmed"})], 1, "Broken: the response has no 'guest.name'"),
    ([(200, [1, 2])], 1, "Broken: the response is not a JSON object"),
    ([(404, {"error": "nope"})], 1, "No R-7."),  # a 4xx with its own branch
    ([(302, "moved")], 1, "Broken: redirects are not followed"),
])
async def test_failures_take_the_error_path(settings, answers, hits, reply):
    brand = FakeBrandApi()
    brand.on("/lookup/R-7", *answers)
    async with serve_asgi(brand.app()) as url, world(settings, LOOKUP, base_url=url, allow_private_urls=True) as w:
        await w.start("lookup")
        await w.say("R-7")
        await w.run_actions()
        assert (await w.bot_texts())[-1] == reply
        assert brand.hits("/lookup/R-7") == hits
        assert (await w.flow_session()).status == "completed"


async def test_a_timeout_is_retried_then_takes_the_error_path(settings):
    brand = FakeBrandApi()
    brand.on("/lookup/R-7", (200, OK[1], 1.0))
    flow = LOOKUP.replace("timeout: 2", "timeout: 0.5")
    async with serve_asgi(brand.app()) as url, world(settings, flow, base_url=url, allow_private_urls=True) as w:
        await w.start("lookup")
        await w.say("R-7")
        await w.run_actions()
        assert (await w.bot_texts())[-1] == "Broken: timed out after 0.5 s"
        (call,) = await w.calls()
        assert call.status == "failed" and call.attempts == 2


async def test_without_an_error_path_the_customer_is_told_and_handed_to_a_person(settings):
    brand = FakeBrandApi()
    brand.on("/lookup/R-7", (500, "boom"))
    async with serve_asgi(brand.app()) as url, \
            world(settings, NO_ERROR_PATH, base_url=url, allow_private_urls=True) as w:
        await w.start("plain")
        await w.say("R-7")
        await w.run_actions()
        texts = await w.bot_texts()
        assert texts[-2] == "Sorry, something went wrong on our side. I'm passing you to a colleague who can help."
        assert "connecting you" in texts[-1]  # the processor's acknowledgement of the handoff
        conversation = await w.conversation()
        assert conversation.status == "queued"
        assert conversation.handoff_reason == "flow plain: action find failed: HTTP 500"
        assert (await w.flow_session()).status == "failed"


async def test_private_addresses_are_refused_unless_allowed(settings):
    strict = settings.model_copy(update={"allow_private_urls": False})
    brand = FakeBrandApi()
    brand.on("/lookup/R-7", OK)
    async with serve_asgi(brand.app()) as url, world(strict, LOOKUP, base_url=url) as w:
        await w.start("lookup")
        await w.say("R-7")
        await w.run_actions(ActionWorker(w.runtime, "strict", backoff_base=0.01))
        assert (await w.bot_texts())[-1].startswith("Broken: refused: 127.0.0.1 resolves to a non-public address")
        assert brand.received == []
        (call,) = await w.calls()
        assert call.attempts == 1  # a refusal is not retried

        # The action itself may allow it (a brand system on the operator's own network).
        await w.import_flow(LOOKUP.replace("      retries: 1\n", "      retries: 1\n      allow_private_urls: true\n"))
        await w.start("lookup")
        await w.say("R-7")
        await w.run_actions(ActionWorker(w.runtime, "strict", backoff_base=0.01))
        assert (await w.bot_texts())[-1] == "Ana: confirmed"
        assert brand.hits("/lookup/R-7") == 1


async def test_a_flow_whose_action_never_comes_back_goes_to_a_person_instead_of_waiting_forever(settings):
    async with world(settings, NO_ERROR_PATH, base_url="http://brand.invalid") as w:
        await w.start("plain")
        await w.say("R-7")  # no action worker runs in this world
        assert (await w.say("still there?")).status == "waiting_action"
        w.now = w.now + timedelta(minutes=11)
        outcome = await w.say("hello??")
        assert outcome.status == "failed" and outcome.handoff is not None
        assert outcome.handoff.reason == "flow plain: the brand's system did not answer"


async def test_a_relative_url_without_a_base_url_is_an_error_without_a_call(settings):
    async with world(settings, LOOKUP) as w:
        await w.start("lookup")
        outcome = await w.say("R-7")
        assert [r.text for r in outcome.replies] == ["Broken: the action URL is a path but the workspace has no flows "
                                                     "base_url"]
        assert await w.calls() == []


async def test_a_result_that_arrives_after_the_customer_cancelled_changes_nothing(settings):
    brand = FakeBrandApi()
    brand.on("/lookup/R-7", OK)
    async with serve_asgi(brand.app()) as url, world(settings, LOOKUP, base_url=url, allow_private_urls=True) as w:
        await w.start("lookup")
        await w.say("R-7")
        cancelled = await w.say("cancel")
        assert cancelled.status == "cancelled"
        before = await w.bot_texts()
        await w.run_actions()
        assert await w.bot_texts() == before
        assert (await w.flow_session()).status == "cancelled"


async def test_when_an_agent_took_over_meanwhile_the_bot_stays_silent(settings):
    brand = FakeBrandApi()
    brand.on("/lookup/R-7", (500, "x"))
    async with serve_asgi(brand.app()) as url, \
            world(settings, NO_ERROR_PATH, base_url=url, allow_private_urls=True) as w:
        await w.start("plain")
        await w.say("R-7")
        async with w.runtime.transaction() as session:
            from touchpoint.models import Agent, Conversation

            conversation = await session.get(Conversation, w.conversation_id)
            agent = await session.get(Agent, w.agent_id)
            from touchpoint.conversations import service

            await service.take_over(session, conversation=conversation, agent=agent)
        await w.run_actions()
        async with w.runtime.sessionmaker() as session:
            last = (await session.execute(select(Message).where(Message.conversation_id == w.conversation_id)
                                          .order_by(Message.id.desc()))).scalars().first()
            handoffs = (await session.execute(select(AuditEntry).where(
                AuditEntry.action == "conversation.handoff"))).scalars().all()
        assert last.status == "suppressed" and last.gate["reasons"] == ["human_owned"]
        assert handoffs == [] and (await w.conversation()).status == "assigned"


# ---- building requests and judging responses (no database) ---------------------------------------------------

def test_slot_values_cannot_change_the_url_beyond_their_own_segment():
    spec, _ = parse_flow("name: f\nslots: {ref: {type: text, prompt: x}}\nsteps: [{ask: ref}, {id: a, action: "
                         "{url: 'https://brand.example/r/{ref}?q={ref}', method: POST, body: {n: '{ref}'}}}]\n")
    step = spec.step("a")
    request = build_request(step.action, Scope(spec, {"ref": "a/../admin?x=1&y=#z"}, {}), base_url=None,
                            allow_private=False, kind="flow_action", step="a")
    assert request["url"] == ("https://brand.example/r/a%2F..%2Fadmin%3Fx%3D1%26y%3D%23z"
                              "?q=a%2F..%2Fadmin%3Fx%3D1%26y%3D%23z")
    assert request["json"] == {"n": "a/../admin?x=1&y=#z"}


def test_header_values_with_line_breaks_are_refused():
    spec, _ = parse_flow("name: f\nslots: {ref: {type: text, prompt: x}}\nsteps: [{ask: ref}, {id: a, action: "
                         "{url: 'https://brand.example/', headers: {X-Ref: '{ref}'}}}]\n")
    with pytest.raises(ActionBuildError, match="line breaks"):
        build_request(spec.step("a").action, Scope(spec, {"ref": "x\r\nX-Admin: 1"}, {}), base_url=None,
                      allow_private=False, kind="flow_action", step="a")


def test_interpret_keeps_only_expected_fields_and_refuses_non_finite_numbers():
    kept = interpret(200, b'{"a": {"b": 1, "c": 2}, "d": 3}', ["a.b"])
    assert kept.ok and kept.data == {"a": {"b": 1}}
    assert not interpret(200, b'{"a": NaN}', ["a"]).ok
    assert interpret(429, b"", []).retryable and not interpret(400, b"", []).retryable
    assert interpret(204, b"", []).ok
