"""Contacts through /api/v1: create, update, read with identities and consent, search and paginate."""

from __future__ import annotations

from tests.api.support import api_for, audit_entries, one
from tests.support.harness import running
from touchpoint.models import Contact


async def test_create_read_update_a_contact(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        created = await api.post("/contacts", {
            "name": "Rita Sousa", "email": "rita@example.com", "phone": "+351 912 000 111",
            "external_ref": "user-77", "timezone": "Europe/Lisbon", "locale": "pt-PT",
            "attributes": {"tier": "gold", "nights": 3}})
        assert created.status_code == 201, created.text
        contact = created.json()
        assert contact["external_ref"] == "user-77" and contact["attributes"] == {"tier": "gold", "nights": 3}

        got = (await api.get(f"/contacts/{contact['id']}")).json()
        assert got["name"] == "Rita Sousa" and got["identities"] == [] and got["consents"] == []

        patched = await api.patch(f"/contacts/{contact['id']}", {
            "phone": None, "timezone": "Asia/Tokyo", "attributes": {"tier": "platinum", "nights": None, "vip": True}})
        assert patched.status_code == 200, patched.text
        body = patched.json()
        assert body["phone"] is None and body["timezone"] == "Asia/Tokyo"
        assert body["name"] == "Rita Sousa"  # not sent, so unchanged
        assert body["attributes"] == {"tier": "platinum", "vip": True}
        stored = await one(h, Contact, Contact.id == contact["id"])
        assert stored.attributes == {"tier": "platinum", "vip": True} and stored.phone is None

        # Each patch is small, but what the merge would store must still fit.
        assert (await api.patch(f"/contacts/{contact['id']}", {"attributes": {"a": "x" * 9000}})).status_code == 200
        too_big = await api.patch(f"/contacts/{contact['id']}", {"attributes": {"b": "y" * 9000}})
        assert too_big.status_code == 422 and too_big.json()["error"]["code"] == "attributes_invalid"
        assert set((await one(h, Contact, Contact.id == contact["id"])).attributes) == {"tier", "vip", "a"}

        creates = await audit_entries(h, "contact.create")
        updates = await audit_entries(h, "contact.update")
        assert [(e.actor_type, e.actor_id, e.subject_id) for e in creates] == [("api_key", api.key_id, contact["id"])]
        assert updates[0].details["fields"] == ["attributes", "phone", "timezone"]
        assert {(e.actor_type, e.actor_id) for e in updates} == {("api_key", api.key_id)}


async def test_contact_detail_shows_identities_and_consent_in_force(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        ana = (await api.get("/contacts", query="Ana Silva")).json()["data"]
        assert len(ana) == 1
        detail = (await api.get(f"/contacts/{ana[0]['id']}")).json()
        assert [(i["channel"], i["external_id"]) for i in detail["identities"]] == [("webchat", "visitor-ana")]
        assert [(c["topic"], c["channel"], c["granted"]) for c in detail["consents"]] == [("promotions", "*", True)]

        # A later record replaces the one in force; the history stays but is not "in force".
        from touchpoint.contacts.service import record_consent

        async with h.runtime.transaction() as session:
            contact = await session.get(Contact, ana[0]["id"])
            await record_consent(session, contact=contact, topic="promotions", channel="*", granted=False,
                                 source="stop_keyword", evidence="STOP")
            await record_consent(session, contact=contact, topic="reminders", channel="whatsapp", granted=True,
                                 source="form")
        detail = (await api.get(f"/contacts/{ana[0]['id']}")).json()
        assert [(c["topic"], c["channel"], c["granted"], c["source"]) for c in detail["consents"]] == [
            ("promotions", "*", False, "stop_keyword"), ("reminders", "whatsapp", True, "form")]


async def test_duplicate_external_ref_is_409_contact_exists(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        first = (await api.post("/contacts", {"name": "A", "external_ref": "crm-1"})).json()
        again = await api.post("/contacts", {"name": "B", "external_ref": "crm-1"})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "contact_exists"
        assert again.json()["error"]["details"]["contact_id"] == first["id"]
        other = (await api.post("/contacts", {"name": "C", "external_ref": "crm-2"})).json()
        moved = await api.patch(f"/contacts/{other['id']}", {"external_ref": "crm-1"})
        assert moved.status_code == 409 and moved.json()["error"]["code"] == "contact_exists"
        # Setting a contact's own ref again is not a conflict.
        assert (await api.patch(f"/contacts/{first['id']}", {"external_ref": "crm-1"})).status_code == 200
        async with h.runtime.sessionmaker() as session:
            from sqlalchemy import func, select

            count = (await session.execute(select(func.count()).select_from(Contact)
                                           .where(Contact.external_ref == "crm-1"))).scalar()
        assert count == 1


async def test_invalid_fields_are_422_with_the_field_named(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        cases = [
            ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
            ({"timezone": "../../etc/passwd"}, "timezone"),
            ({"email": "not-an-email"}, "email"),
            ({"phone": "call me"}, "phone"),
            ({"locale": "english please"}, "locale"),
            ({"name": "x" * 201}, "name"),
            ({"name": "nul\u0000byte"}, "name"),
            ({"attributes": [1, 2]}, "attributes"),
            ({"attributes": {"deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}}}, "attributes"),
            ({"surprise": 1}, "surprise"),
        ]
        for body, field in cases:
            response = await api.post("/contacts", body)
            assert response.status_code == 422, (body, response.text)
            error = response.json()["error"]
            assert error["code"] == "validation_error"
            assert any(field in d["loc"] for d in error["details"]), (body, error)
        contact = (await api.post("/contacts", {"name": "Valid"})).json()
        bad_patch = await api.patch(f"/contacts/{contact['id']}", {"timezone": "Nowhere/Special"})
        assert bad_patch.status_code == 422
        for raw in (b"{not json", b'{"name": NaN}', b'{"name": "\\ud800"}', b"[" * 5000 + b"]" * 5000):
            response = await h.client.post(f"{h.base_url}/api/v1/contacts", content=raw,
                                           headers=api.headers({"content-type": "application/json"}))
            assert response.status_code == 422, (raw[:20], response.text)
            assert response.json()["error"]["code"] == "validation_error"
        assert (await api.get("/contacts/99999999999999999999999")).status_code == 422
        assert (await api.get("/contacts", limit=201)).status_code == 422
        assert (await api.get("/contacts", query="a\u0000b")).status_code == 422
        assert (await api.get("/contacts/424242")).status_code == 404


async def test_search_and_cursor_pagination(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        made = []
        for n in range(7):
            made.append((await api.post("/contacts", {"name": f"Pager {n}", "email": f"p{n}@pager.test"})).json()["id"])
        await api.post("/contacts", {"name": "100% real_name"})
        seen, after, pages = [], None, 0
        while True:
            params = {"query": "pager", "limit": 3, **({"after": after} if after else {})}
            page = (await api.get("/contacts", **params)).json()
            seen += [c["id"] for c in page["data"]]
            pages += 1
            after = page["next_after"]
            if after is None:
                break
        assert seen == made and pages == 3
        everyone = (await api.get("/contacts", limit=200)).json()
        assert everyone["next_after"] is None and len(everyone["data"]) == 4 + 7 + 1  # demo contacts too
        # The searcher's % and _ are literal characters, not wildcards.
        assert [c["name"] for c in (await api.get("/contacts", query="100%")).json()["data"]] == ["100% real_name"]
        assert (await api.get("/contacts", query="%")).json()["data"] == [
            c for c in everyone["data"] if "%" in (c["name"] or "")]
        assert [c["name"] for c in (await api.get("/contacts", query="_")).json()["data"]] == ["100% real_name"]
