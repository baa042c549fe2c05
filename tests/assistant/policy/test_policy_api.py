"""/api/v1/assistant/policy and /api/v1/assistant/decisions on both databases: import, refuse with the line,
keep every version, roll back, isolate workspaces, and explain stored decisions."""

from __future__ import annotations

from tests.api.support import api_for, audit_entries, other_workspace
from tests.delivery.support import open_conversations
from tests.support.harness import running
from touchpoint.assistant.policy import service
from touchpoint.models import AssistantDecision

CUSTOM = """\
default_team: sales
rules:
  - name: groups
    when: {keywords: [group booking]}
    then: {action: escalate, priority: 2, reason: group sales}
"""


async def test_policy_versions_import_refuse_and_roll_back(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        url = f"{h.base_url}/api/v1/assistant/policy"
        default = (await api.get("/assistant/policy")).json()
        assert (default["version"], default["is_default"]) == (None, True)
        assert "vip_trouble" in default["source"]
        assert default["policy"]["rules"][0]["name"] == "vip_trouble"

        created = await h.client.put(url, content=CUSTOM, headers=api.headers({"content-type": "application/yaml"}))
        assert created.status_code == 200, created.text
        assert (created.json()["version"], created.json()["policy"]["default_team"]) == (1, "sales")
        active = (await api.get("/assistant/policy")).json()
        assert (active["version"], active["source"], active["policy"]["rules"][0]["name"]) == (1, CUSTOM, "groups")

        broken = CUSTOM.replace("keywords", "keywordz")
        refused = await h.client.put(url, content=broken, headers=api.headers({"content-type": "text/plain"}))
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "invalid_policy"
        assert refused.json()["error"]["details"]["line"] == 4
        assert "keywordz" in refused.json()["error"]["message"]
        assert (await api.get("/assistant/policy")).json()["version"] == 1  # the running version is untouched

        for bad_json in ({"text": CUSTOM}, ["no"]):
            assert (await h.client.put(url, json=bad_json, headers=api.headers())).status_code == 422
        assert (await h.client.put(url, content=b"\xff\xfe", headers=api.headers())).status_code == 422
        second = await h.client.put(url, json={"source": default["source"]}, headers=api.headers())
        assert second.status_code == 200 and second.json()["version"] == 2

        versions = (await api.get("/assistant/policy/versions")).json()["data"]
        assert [(v["version"], v["is_active"], v["created_by"]) for v in versions] == [
            (2, True, "tests"), (1, False, "tests")]

        rolled = await api.post("/assistant/policy/versions/1/activate")
        assert rolled.status_code == 200 and rolled.json()["version"] == 1
        assert (await api.get("/assistant/policy")).json()["policy"]["default_team"] == "sales"
        assert [v["is_active"] for v in (await api.get("/assistant/policy/versions")).json()["data"]] == [False, True]
        assert (await api.post("/assistant/policy/versions/9/activate")).status_code == 404
        assert (await api.post("/assistant/policy/versions/0/activate")).status_code == 422

        assert [e.details["version"] for e in await audit_entries(h, "assistant.policy_import")] == [1, 2]
        assert [e.details["version"] for e in await audit_entries(h, "assistant.policy_activate")] == [1]

        async with h.runtime.sessionmaker() as session:
            policy, version = await service.active_policy(session, h.workspace_id)
        assert (version, policy.default_team, policy.rules[0].name) == (1, "sales", "groups")

        other = await api_for(h, await other_workspace(h), name="other")
        theirs = (await other.get("/assistant/policy")).json()
        assert (theirs["version"], theirs["is_default"]) == (None, True)
        assert (await other.get("/assistant/policy/versions")).json()["data"] == []
        assert (await other.post("/assistant/policy/versions/1/activate")).status_code == 404


async def test_decisions_explain_what_the_assistant_did_in_a_conversation(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        [conversation_id] = await open_conversations(h, 1, prefix="dec")
        async with h.runtime.transaction() as session:
            for i, (action, rule) in enumerate([("clarify", "out_of_scope"), ("escalate", "payment_problem")]):
                session.add(AssistantDecision(
                    workspace_id=h.workspace_id, conversation_id=conversation_id, action=action, rule=rule,
                    intent="payment_problem" if i else None, confidence=0.2 + i * 0.6, language="en",
                    sentiment=-0.3, team_slug="service" if i else None, scores={"cue:payment_trouble": 1.0},
                    model_version="v3", policy_version=None))
        first = await api.get("/assistant/decisions", conversation_id=conversation_id, limit=1)
        assert first.status_code == 200, first.text
        page = first.json()
        assert [(d["action"], d["rule"], d["team_slug"]) for d in page["data"]] == [
            ("escalate", "payment_problem", "service")]
        assert page["data"][0]["scores"] == {"cue:payment_trouble": 1.0}
        assert page["data"][0]["policy_version"] is None and page["data"][0]["model_version"] == "v3"
        rest = (await api.get("/assistant/decisions", conversation_id=conversation_id,
                              before=page["next_before"])).json()
        assert [d["rule"] for d in rest["data"]] == ["out_of_scope"] and rest["next_before"] is None

        assert (await api.get("/assistant/decisions")).status_code == 422
        assert (await api.get("/assistant/decisions", conversation_id=10**6)).status_code == 404
        other = await api_for(h, await other_workspace(h), name="other")
        assert (await other.get("/assistant/decisions", conversation_id=conversation_id)).status_code == 404
