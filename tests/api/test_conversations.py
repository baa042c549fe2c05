"""Conversations through /api/v1: list with filters and cursors, read, assign and resolve (audited)."""

from __future__ import annotations

import base64

from tests.api.support import agent_id, api_for, audit_entries, one, other_workspace, team_id
from tests.support.harness import running
from touchpoint.models import Contact, Conversation, Message


async def test_list_filters_and_pages_by_recent_activity(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        everything = (await api.get("/conversations")).json()
        statuses = sorted(c["status"] for c in everything["data"])
        assert statuses == ["assigned", "bot", "queued", "resolved"]  # the demo's four
        times = [c["last_message_at"] for c in everything["data"]]
        assert times == sorted(times, reverse=True)

        open_ones = (await h.client.get(f"{h.base_url}/api/v1/conversations?status=queued&status=assigned",
                                        headers=api.headers())).json()["data"]
        assert sorted(c["status"] for c in open_ones) == ["assigned", "queued"]
        sales = await team_id(h, "sales")
        assert [c["team_id"] for c in (await api.get("/conversations", team=sales)).json()["data"]] == [sales]
        sam = await agent_id(h, "sam@harbour.example")
        assert [c["agent_id"] for c in (await api.get("/conversations", agent=sam)).json()["data"]] == [sam]

        seen, before = [], None
        while True:
            page = (await api.get("/conversations", limit=1, **({"before": before} if before else {}))).json()
            seen += [c["id"] for c in page["data"]]
            before = page["next_before"]
            if before is None:
                break
        assert seen == [c["id"] for c in everything["data"]]

        forged = base64.urlsafe_b64encode(b"-99999999999999999:1").decode()
        for bad in ({"status": "sleeping"}, {"before": "not-a-cursor"}, {"before": forged}, {"limit": 0},
                    {"limit": 201}, {"team": -1}):
            response = await api.get("/conversations", **bad)
            assert response.status_code == 422, (bad, response.text)
            assert response.json()["error"]["code"] == "validation_error"


async def test_get_includes_contact_and_latest_messages(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        conversation = await one(h, Conversation, Conversation.status == "assigned")
        contact = await one(h, Contact, Contact.id == conversation.contact_id)
        body = (await api.get(f"/conversations/{conversation.id}")).json()
        assert body["contact"]["name"] == contact.name and body["status"] == "assigned"
        texts = [m["text"] for m in body["messages"]]
        assert texts[0].startswith("Do you offer group rates") and texts[-1].startswith("Happy to help!")
        assert [m["sender"] for m in body["messages"]] == ["contact", "agent"]
        latest = (await api.get(f"/conversations/{conversation.id}", messages=1)).json()["messages"]
        assert [m["text"] for m in latest] == [texts[-1]]
        assert (await api.get("/conversations/987654")).status_code == 404


async def test_assign_and_resolve_are_audited_with_the_api_key(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h, name="crm-sync")
        conversation = await one(h, Conversation, Conversation.status == "bot")
        service, li = await team_id(h, "service"), await agent_id(h, "li@harbour.example")

        to_team = await api.post(f"/conversations/{conversation.id}/assign", {"team_id": service})
        assert to_team.status_code == 200, to_team.text
        assert to_team.json()["status"] == "queued" and to_team.json()["team_id"] == service

        to_agent = await api.post(f"/conversations/{conversation.id}/assign", {"agent_id": li})
        assert to_agent.json()["status"] == "assigned" and to_agent.json()["agent_id"] == li
        joined = await one(h, Message, Message.conversation_id == conversation.id, Message.sender_kind == "system")
        assert joined.text == "Li joined the conversation"

        resolved = await api.post(f"/conversations/{conversation.id}/resolve")
        assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
        assert resolved.json()["resolved_at"] is not None
        assert (await api.post(f"/conversations/{conversation.id}/resolve")).status_code == 200  # idempotent

        for action, details in (("conversation.assign_team", {"team_id": service}),
                                ("conversation.assign", {"agent_id": li}),
                                ("conversation.resolve", {})):
            entries = [e for e in await audit_entries(h, action) if e.subject_id == conversation.id]
            assert len(entries) == 1, action
            assert (entries[0].actor_type, entries[0].actor_id) == ("api_key", api.key_id)
            assert details.items() <= entries[0].details.items()


async def test_assign_refuses_bad_targets(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        other = await other_workspace(h)
        conversation = await one(h, Conversation, Conversation.status == "queued")
        foreign_agent = await agent_id(h, "eve@other.example", other)
        foreign_team = await team_id(h, "service", other)
        for body in ({"agent_id": foreign_agent}, {"team_id": foreign_team}, {"agent_id": 555555}):
            response = await api.post(f"/conversations/{conversation.id}/assign", body)
            assert response.status_code == 404, (body, response.text)
        empty = await api.post(f"/conversations/{conversation.id}/assign", {})
        assert empty.status_code == 422 and empty.json()["error"]["code"] == "validation_error"

        from sqlalchemy import update

        from touchpoint.models import Agent

        li = await agent_id(h, "li@harbour.example")
        async with h.runtime.transaction() as session:
            await session.execute(update(Agent).where(Agent.id == li).values(is_active=False))
        inactive = await api.post(f"/conversations/{conversation.id}/assign", {"agent_id": li})
        assert inactive.status_code == 409 and inactive.json()["error"]["code"] == "agent_unavailable"
        unchanged = await one(h, Conversation, Conversation.id == conversation.id)
        assert unchanged.status == "queued" and unchanged.agent_id is None
