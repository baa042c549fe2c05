"""API keys: who may call /api/v1, and that a key only ever sees its own workspace."""

from __future__ import annotations

from sqlalchemy import update

from tests.api.support import api_for, one, other_workspace
from tests.support.harness import running
from touchpoint.kit.clock import utcnow
from touchpoint.models import ApiKey, Contact, Conversation


def _unauthorized(response):
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_missing_malformed_wrong_and_revoked_keys_are_refused(settings):
    async with running(settings, run_background=False) as h:
        url = f"{h.base_url}/api/v1/contacts"
        _unauthorized(await h.client.get(url))
        _unauthorized(await h.client.get(url, headers={"authorization": "Basic dXNlcjpwYXNz"}))
        _unauthorized(await h.client.get(url, headers={"authorization": "Bearer not-a-key"}))
        _unauthorized(await h.client.get(url, headers={"authorization": "Bearer tp_" + "x" * 40}))
        api = await api_for(h)
        assert (await api.get("/contacts")).status_code == 200
        async with h.runtime.transaction() as session:
            await session.execute(update(ApiKey).where(ApiKey.id == api.key_id).values(revoked_at=utcnow()))
        _unauthorized(await api.get("/contacts"))
        # A refused request changes nothing, even with a body.
        _unauthorized(await api.post("/contacts", {"name": "Mallory"}))
        assert await one(h, Contact, Contact.name == "Mallory") is None


async def test_last_used_at_is_recorded(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        assert (await one(h, ApiKey, ApiKey.id == api.key_id)).last_used_at is None
        assert (await api.get("/conversations")).status_code == 200
        first = (await one(h, ApiKey, ApiKey.id == api.key_id)).last_used_at
        assert first is not None
        # Within the minute the row is not rewritten on every request.
        assert (await api.get("/conversations")).status_code == 200
        assert (await one(h, ApiKey, ApiKey.id == api.key_id)).last_used_at == first


async def test_another_workspace_sees_nothing_of_ours(settings):
    async with running(settings, run_background=False) as h:
        ours = await api_for(h)
        theirs = await api_for(h, await other_workspace(h), name="other")
        conversation = await one(h, Conversation, Conversation.workspace_id == h.workspace_id)
        contact = await one(h, Contact, Contact.workspace_id == h.workspace_id)
        assert (await ours.get(f"/conversations/{conversation.id}")).status_code == 200
        assert (await ours.get(f"/contacts/{contact.id}")).status_code == 200

        def not_found(response):
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "not_found"

        not_found(await theirs.get(f"/conversations/{conversation.id}"))
        not_found(await theirs.get(f"/conversations/{conversation.id}/messages"))
        not_found(await theirs.post(f"/conversations/{conversation.id}/resolve"))
        not_found(await theirs.post(f"/conversations/{conversation.id}/assign", {"team_id": 1}))
        not_found(await theirs.post(f"/conversations/{conversation.id}/messages",
                                    {"text": "hi", "sender": "system"}))
        not_found(await theirs.get(f"/contacts/{contact.id}"))
        not_found(await theirs.patch(f"/contacts/{contact.id}", {"name": "Stolen"}))
        assert (await theirs.get("/contacts")).json()["data"] == []
        assert (await theirs.get("/conversations")).json()["data"] == []
        # Nothing they tried changed our conversation.
        after = await one(h, Conversation, Conversation.id == conversation.id)
        assert after.status == conversation.status


async def test_openapi_documents_the_api_and_its_key_scheme(settings):
    async with running(settings, run_background=False) as h:
        spec = (await h.client.get(f"{h.base_url}/openapi.json")).json()
        assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
        expected = {("/api/v1/contacts", "post"), ("/api/v1/contacts", "get"), ("/api/v1/contacts/{contact_id}", "get"),
                    ("/api/v1/contacts/{contact_id}", "patch"), ("/api/v1/conversations", "get"),
                    ("/api/v1/conversations/{conversation_id}", "get"),
                    ("/api/v1/conversations/{conversation_id}/assign", "post"),
                    ("/api/v1/conversations/{conversation_id}/resolve", "post"),
                    ("/api/v1/conversations/{conversation_id}/messages", "get"),
                    ("/api/v1/conversations/{conversation_id}/messages", "post")}
        for path, method in expected:
            operation = spec["paths"][path][method]
            assert operation["security"] == [{"ApiKey": []}], path
            assert operation.get("description"), (path, method)
            assert "401" in operation["responses"]
        assert spec["components"]["schemas"]["ContactCreate"]["examples"]
        assert spec["components"]["schemas"]["MessageCreate"]["examples"]
        docs = await h.client.get(f"{h.base_url}/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_oversized_body_is_413_before_anything_else(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        response = await api.post("/contacts", {"name": "Big", "attributes": {"blob": "x" * 400_000}})
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"

