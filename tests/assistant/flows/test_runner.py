"""The flow state machine on a real database: slots with re-prompts and giving up, confirmation, cancel and
start over anywhere, pre-filled slots, versions."""

from __future__ import annotations

from tests.assistant.flows.support import world
from touchpoint.assistant.flows.runner import active_session, command_in, outcome_decision, yes_or_no

TABLE = """\
name: table
trigger_intents: [book_table]
slots:
  day: {type: date, prompt: "Which day?", future_only: true}
  time: {type: time, prompt: "What time?", earliest: "12:00", latest: "22:00"}
  guests: {type: number, prompt: "How many guests?", integer: true, min: 1, max: 8, max_attempts: 2,
           reprompt: "We seat 1 to 8 people at a table. How many guests?"}
  area:
    type: choice
    prompt: "Inside or on the terrace?"
    choices: [{value: inside, label: Inside}, {value: terrace, label: Terrace}]
  phone: {type: phone, prompt: "Your phone number?", default_country: "351"}
  email: {type: email, prompt: "And your email?"}
  note: {type: text, prompt: "Anything we should know?", max_length: 200}
steps:
  - ask: day
  - ask: time
  - ask: guests
  - ask: area
  - ask: phone
  - ask: email
  - ask: note
  - id: check
    confirm: "A table for {guests} on {day} at {time}, {area}? We'll text {phone}."
  - end: "Booked! See you on {day}."
"""


def texts(outcome) -> list[str]:
    return [reply.text for reply in outcome.replies]


async def test_every_slot_type_is_collected_with_re_prompts_until_confirmed(settings):
    async with world(settings, TABLE) as w:
        first = await w.start("table")
        assert texts(first) == ["Which day?"] and first.status == "active" and first.handoff is None
        conversation = [
            ("last monday", "in the past"), ("friday", "What time?"),
            ("at 9am", "too early"), ("7.30pm", "How many guests?"),
            ("twelve", "We seat 1 to 8 people"), ("four of us", "Inside or on the terrace?"),
            ("balcony", "Please pick one of: Inside, Terrace"), ("2", "Your phone number?"),
            ("912 345 678", "And your email?"), ("flo@example.com", "Anything we should know?"),
            ("It's a birthday", "A table for 4 on 8 May at 19:30, Terrace? We'll text +351912345678."),
        ]
        for said, expected in conversation:
            outcome = await w.say(said)
            assert expected in texts(outcome)[-1], (said, texts(outcome))
        done = await w.say("yes please")
        assert texts(done) == ["Booked! See you on 8 May."] and done.status == "completed"
        assert done.slots == {"day": "2026-05-08", "time": "19:30", "guests": 4, "area": "terrace",
                              "phone": "+351912345678", "email": "flo@example.com", "note": "It's a birthday"}
        async with w.runtime.sessionmaker() as session:
            assert await active_session(session, w.conversation_id) is None


async def test_choice_prompts_offer_the_options_as_quick_replies_and_a_numbered_list(settings):
    async with world(settings, TABLE) as w:
        outcome = await w.start("table", {"day": "friday", "time": "8pm", "guests": "2"})
        reply = outcome.replies[0]
        assert reply.text == "Inside or on the terrace?\n1. Inside\n2. Terrace"
        assert reply.content["quick_replies"] == ["Inside", "Terrace"] and reply.content["slot"] == "area"


async def test_after_max_attempts_the_customer_goes_to_a_person_with_the_reason(settings):
    async with world(settings, TABLE) as w:
        await w.start("table", {"day": "tomorrow", "time": "13:00"})
        outcome = await w.say("a hundred")
        assert outcome.handoff is None and "We seat 1 to 8" in texts(outcome)[0]
        outcome = await w.say("all of them")
        assert outcome.status == "handed_off"
        assert outcome.handoff is not None and outcome.handoff.team_slug == "service"
        assert outcome.handoff.reason == "flow table: could not get guests after 2 tries"
        assert "pass you to a colleague" in texts(outcome)[0]
        decision = outcome_decision(outcome)
        assert decision.action == "escalate" and decision.rule == "flow:table:handed_off"


async def test_cancel_works_at_any_step_by_word_or_by_intent(settings):
    async with world(settings, TABLE) as w:
        await w.start("table")
        await w.say("tomorrow")
        outcome = await w.say("Cancel please")
        assert outcome.status == "cancelled" and "cancelled" in texts(outcome)[0] and outcome.handoff is None
        async with w.runtime.sessionmaker() as session:
            assert await active_session(session, w.conversation_id) is None

        await w.start("table", {"day": "tomorrow", "time": "13:00", "guests": "2", "area": "inside",
                                "phone": "+44 7911 123456", "email": "a@b.co", "note": "none"})
        outcome = await w.say("hmm let us not do this", intent="cancel")
        assert outcome.status == "cancelled"

        # An answer that is valid is an answer, whatever the intent classifier thought.
        await w.start("table")
        outcome = await w.say("tomorrow", intent="cancel")
        assert outcome.status == "active" and texts(outcome) == ["What time?"]


async def test_start_over_clears_everything_and_asks_the_first_question_again(settings):
    async with world(settings, TABLE) as w:
        await w.start("table", {"day": "tomorrow", "time": "13:00"})
        outcome = await w.say("let's start over")
        assert texts(outcome) == ["OK, let's start over.", "Which day?"] and outcome.slots == {}
        outcome = await w.say("this is going nowhere", intent="start_over")
        assert texts(outcome)[-1] == "Which day?"


async def test_no_at_the_confirmation_goes_back_to_the_questions(settings):
    async with world(settings, TABLE) as w:
        await w.start("table", {"day": "tomorrow", "time": "13:00", "guests": "2", "area": "inside",
                                "phone": "+44 7911 123456", "email": "a@b.co", "note": "none"})
        outcome = await w.say("maybe")
        assert texts(outcome) == ["Please answer yes or no. A table for 2 on 7 May at 13:00, Inside? We'll text "
                                  "+447911123456."]
        outcome = await w.say("no, wrong day")
        assert texts(outcome) == ["No problem, let's fix that.", "Which day?"] and outcome.slots == {}
        assert outcome.status == "active"


async def test_affirm_and_deny_intents_answer_the_confirmation():
    assert yes_or_no("sounds about right to me honestly", "affirm") is True
    assert yes_or_no("nah", None) is False
    assert yes_or_no("yes", "deny") is True  # the words win
    assert yes_or_no("what?", None) is None
    assert command_in("Start over!") == "start_over" and command_in("never mind") == "cancel"
    assert command_in("cancel my booking for next week") is None


async def test_prefilled_slots_are_validated_and_invalid_ones_asked(settings):
    async with world(settings, TABLE) as w:
        outcome = await w.start("table", {"day": "tomorrow", "guests": "lots", "unknown": "x"})
        assert outcome.slots == {"day": "2026-05-07"} and texts(outcome) == ["What time?"]


async def test_a_missing_flow_hands_over_instead_of_failing(settings):
    async with world(settings, TABLE) as w:
        outcome = await w.start("nope")
        assert outcome.status == "failed" and outcome.handoff is not None
        assert outcome.handoff.reason == "flow nope is not available" and outcome.replies


async def test_starting_another_flow_replaces_the_running_one(settings):
    async with world(settings, TABLE, TABLE.replace("name: table", "name: other")) as w:
        await w.start("table")
        await w.start("other")
        async with w.runtime.sessionmaker() as session:
            running = await active_session(session, w.conversation_id)
        assert running is not None and running.flow_name == "other"


async def test_a_new_version_serves_new_sessions_while_running_ones_finish_on_theirs(settings):
    async with world(settings, TABLE) as w:
        await w.start("table", {"day": "tomorrow", "time": "13:00", "guests": "2", "area": "inside",
                                "phone": "+44 7911 123456", "email": "a@b.co"})
        await w.import_flow(TABLE.replace("Booked! See you on {day}.", "Version two."))
        finished = await w.say("no notes")
        finished = await w.say("yes")
        assert texts(finished) == ["Booked! See you on 7 May."]
        await w.start("table", {"day": "tomorrow", "time": "13:00", "guests": "2", "area": "inside",
                                "phone": "+44 7911 123456", "email": "a@b.co", "note": "x"})
        assert texts(await w.say("yes")) == ["Version two."]


async def test_a_bug_inside_a_flow_turn_hands_over_instead_of_leaving_the_customer_without_answer(settings,
                                                                                                   monkeypatch):
    from touchpoint.assistant.flows import machine

    async with world(settings, TABLE) as w:
        await w.start("table")

        def broken(*_args, **_kwargs):
            raise RuntimeError("parser bug")

        monkeypatch.setattr(machine, "parse_value", broken)
        outcome = await w.say("tomorrow")
        assert outcome.status == "failed" and outcome.handoff is not None
        assert outcome.handoff.reason == "flow table: an internal error stopped the flow"
        assert texts(outcome) == ["Sorry, something went wrong on our side. I'm passing you to a colleague who can "
                                  "help."]
