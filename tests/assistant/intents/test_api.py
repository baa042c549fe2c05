"""/api/v1/assistant intents: CRUD, YAML import/export, auth and tenancy; every change asks for one retrain."""

from __future__ import annotations

from tests.api.support import api_for, audit_entries, other_workspace
from tests.assistant.intents.conftest import HOTEL_INTENTS, create_hotel_intents, pending_trainings
from tests.support.harness import running

GOOD_YAML = """\
intents:
  - name: opening_hours
    description: When we are open
    examples: [when are you open, what are your opening hours, are you open on sunday]
    response: We are open 9-18.
  - name: wifi
    examples: [what is the wifi password, is there free wifi]
"""


async def _put_yaml(api, body, mode: str | None = None):
    params = {"mode": mode} if mode else {}
    return await api.h.client.put(f"{api.h.base_url}/api/v1/assistant/intents.yaml", content=body, params=params,
                                  headers=api.headers({"content-type": "application/yaml"}))


async def _names(api) -> list[str]:
    response = await api.get("/assistant/intents")
    assert response.status_code == 200, response.text
    return [i["name"] for i in response.json()["data"]]


async def test_crud_and_each_change_requests_one_training(settings):
    async with running(settings, run_background=False) as h:
        url = f"{h.base_url}/api/v1/assistant/intents"
        assert (await h.client.get(url)).status_code == 401
        assert (await h.client.post(url, json=HOTEL_INTENTS[0])).status_code == 401
        api = await api_for(h)
        assert await _names(api) == []
        await create_hotel_intents(api)
        assert await pending_trainings(h) == 1  # the second change found the first request still waiting
        assert await _names(api) == ["opening_hours", "parking"]

        got = (await api.get("/assistant/intents/opening_hours")).json()
        assert got["examples"] == HOTEL_INTENTS[0]["examples"] and got["response"] == "We are open 9-18."
        assert got["builtin"] is False and got["id"] > 0

        duplicate = await api.post("/assistant/intents", HOTEL_INTENTS[0])
        assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "intent_exists"

        patched = await api.patch("/assistant/intents/parking", {"name": "car_parking", "response": "Free."})
        assert patched.status_code == 200, patched.text
        assert patched.json()["name"] == "car_parking" and patched.json()["examples"] == HOTEL_INTENTS[1]["examples"]
        cleared = await api.patch("/assistant/intents/car_parking", {"response": None})
        assert cleared.json()["response"] is None
        assert (await api.get("/assistant/intents/parking")).status_code == 404

        deleted = await h.client.delete(f"{url}/car_parking", headers=api.headers())
        assert deleted.status_code == 204
        assert await _names(api) == ["opening_hours"]
        assert (await h.client.delete(f"{url}/car_parking", headers=api.headers())).status_code == 404
        assert await pending_trainings(h) == 1
        assert [e.details["name"] for e in await audit_entries(h, "assistant.intent.create")] == [
            "opening_hours", "parking"]
        assert len(await audit_entries(h, "assistant.intent.delete")) == 1


async def test_bad_intents_are_refused_with_the_reason(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        cases = [
            ({"name": "hours", "examples": ["when are you open"]}, "examples"),
            ({"name": "hours", "examples": ["open?", "OPEN?"]}, "at least 2 different examples"),
            ({"name": "Hours!", "examples": ["a", "b"]}, "is not valid"),
            ({"name": "hours", "examples": ["a", 7]}, "examples"),
            ({"name": "hours", "examples": ["a", "x" * 501]}, "examples"),
            ({"name": "hours", "examples": ["a", "b\u0000"]}, "NUL"),
            ({"name": "hours", "examples": ["a", "b"], "colour": "red"}, "colour"),
            ({"name": "hours", "examples": ["a", "b"], "flow": "two words"}, "flow name"),
        ]
        for body, reason in cases:
            response = await api.post("/assistant/intents", body)
            assert response.status_code == 422, (body, response.text)
            assert reason in response.text, (body, response.text)
        await create_hotel_intents(api)
        # an example may teach only one intent
        clash = await api.post("/assistant/intents", {"name": "hours2", "examples": ["When are you open", "x y"]})
        assert clash.status_code == 422 and clash.json()["error"]["code"] == "intent_invalid"
        assert "also an example of 'opening_hours'" in clash.json()["error"]["message"]
        assert (await api.get("/assistant/intents/Bad-Name")).status_code == 422
        assert (await api.patch("/assistant/intents/nope", {"description": "x"})).status_code == 404


async def test_builtins_are_listed_and_overridable(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        listed = (await api.get("/assistant/intents", include_builtin="true")).json()["data"]
        builtin = {i["name"]: i for i in listed}
        assert builtin["human_request"]["builtin"] is True and builtin["human_request"]["id"] is None
        assert (await api.get("/assistant/intents/complaint")).json()["builtin"] is True
        own = await api.post("/assistant/intents", {"name": "greeting", "examples": ["ahoy", "good day, sailor"]})
        assert own.status_code == 201
        listed = (await api.get("/assistant/intents", include_builtin="true")).json()["data"]
        greeting = [i for i in listed if i["name"] == "greeting"]
        assert len(greeting) == 1 and greeting[0]["builtin"] is False and greeting[0]["examples"][0] == "ahoy"


async def test_yaml_import_export_replace_and_merge(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        await create_hotel_intents(api)
        replaced = await _put_yaml(api, GOOD_YAML)
        assert replaced.status_code == 200, replaced.text
        assert replaced.json() == {"mode": "replace", "created": ["wifi"], "updated": ["opening_hours"],
                                   "deleted": ["parking"], "unchanged": 0, "training_requested": True}
        assert await _names(api) == ["opening_hours", "wifi"]

        exported = await api.get("/assistant/intents.yaml")
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/yaml")
        again = await _put_yaml(api, exported.content)
        assert again.json()["unchanged"] == 2 and not again.json()["training_requested"]

        merged = await _put_yaml(api, "intents:\n  - name: parking\n    examples: [parking?, where to park]\n",
                                 mode="merge")
        assert merged.status_code == 200, merged.text
        assert merged.json()["created"] == ["parking"] and merged.json()["deleted"] == []
        assert await _names(api) == ["opening_hours", "parking", "wifi"]
        # merge still refuses an example that another (kept) intent teaches
        clash = await _put_yaml(api, "intents:\n  - name: other\n    examples: [is there free wifi, x y]\n",
                                mode="merge")
        assert clash.status_code == 422 and "also an example of 'wifi'" in clash.text
        assert (await _put_yaml(api, "intents: []\n", mode="sideways")).status_code == 422


async def test_a_bad_yaml_file_changes_nothing(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        assert (await _put_yaml(api, GOOD_YAML)).status_code == 200
        before = (await api.get("/assistant/intents")).json()
        async with h.runtime.transaction() as session:  # the first request is being trained
            from sqlalchemy import update

            from touchpoint.models import Timer
            await session.execute(update(Timer).where(Timer.kind == "assistant_train").values(status="leased"))
        bad = GOOD_YAML.replace("[what is the wifi password, is there free wifi]", "[only one example]")
        response = await _put_yaml(api, bad)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "intent_file_invalid" and error["details"]["line"] == 7
        assert error["message"].startswith("line 7: intent 'wifi' needs at least 2 different examples")
        for garbage in (b"\xff\xd8\xff\xe0\x00\x10JFIF", b"intents: [\n", "intents:\n  - name: x\n    examples: 5\n"):
            assert (await _put_yaml(api, garbage)).status_code == 422
        assert (await api.get("/assistant/intents")).json() == before
        assert await pending_trainings(h) == 0  # no new training request either
        too_big = await _put_yaml(api, b"#" * (2 * 1024 * 1024 + 1))
        assert too_big.status_code == 413
        # a change made while a training runs gets a request of its own: the running one read the old intents
        assert (await api.patch("/assistant/intents/wifi", {"description": "Internet"})).status_code == 200
        assert await pending_trainings(h) == 1


async def test_another_workspace_sees_none_of_our_intents(settings):
    async with running(settings, run_background=False) as h:
        ours = await api_for(h)
        theirs = await api_for(h, await other_workspace(h), name="other")
        await create_hotel_intents(ours)
        assert await _names(theirs) == []
        assert (await theirs.get("/assistant/intents/parking")).status_code == 404
        assert (await theirs.patch("/assistant/intents/parking", {"description": "mine"})).status_code == 404
        assert "opening_hours" not in (await theirs.get("/assistant/intents.yaml")).text
        # the same name is free in another workspace
        assert (await theirs.post("/assistant/intents", HOTEL_INTENTS[1])).status_code == 201
