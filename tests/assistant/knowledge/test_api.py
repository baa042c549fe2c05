"""/api/v1/knowledge: entries, publishing, import (YAML and CSV) and search, with bad input answered as JSON 4xx."""

from __future__ import annotations

from tests.api.support import api_for, audit_entries, other_workspace
from tests.support.harness import running
from touchpoint.assistant.knowledge.import_io import MAX_IMPORT_BYTES

YAML = """\
entries:
  - question: Is there a swimming pool?
    answer: Our heated rooftop pool is open from 8 am to 8 pm, April to October.
    keywords: [pool, swim, swimming]
  - kind: article
    title: House rules
    url: https://harbour.example/house-rules
    body: |
      Quiet hours are from 10 pm to 7 am. Please keep music and voices low at night.

      Smoking is not allowed anywhere inside the building; we charge a cleaning fee of 150 EUR.
  - question: Tem piscina?
    answer: Sim, no terraço, das 8h às 20h.
    language: pt
    published: false
"""


async def _put(api, path, body: bytes | str, content_type: str):
    return await api.h.client.put(f"{api.h.base_url}/api/v1{path}", content=body,
                                  headers=api.headers({"content-type": content_type}))


async def _delete(api, path):
    return await api.h.client.delete(f"{api.h.base_url}/api/v1{path}", headers=api.headers())


async def _count(api) -> int:
    return len((await api.get("/knowledge", limit=200)).json()["data"])


async def test_entries_crud_publish_and_paging(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        demo = (await api.get("/knowledge", limit=3)).json()
        assert len(demo["data"]) == 3 and demo["data"][0]["question"] == "What time is check-in and check-out?"
        assert demo["data"][1]["keywords"] == ["dog", "pet", "pets", "animal"] and demo["next_after"] is not None
        rest = (await api.get("/knowledge", limit=200, after=demo["next_after"])).json()
        assert len(rest["data"]) == 4 and rest["next_after"] is None

        created = await api.post("/knowledge", {"question": "Is there a gym?", "answer": "Yes, open 24/7.",
                                                "keywords": ["gym", "fitness"], "published": False})
        assert created.status_code == 201, created.text
        gym = created.json()
        assert gym["kind"] == "faq" and gym["keywords"] == ["gym", "fitness"] and gym["published"] is False
        article = await api.post("/knowledge", {"kind": "article", "question": "Accessibility",
                                                "body": "# Lift\nA lift serves every floor.\n\nRoll-in showers in "
                                                        "four rooms.", "url": "https://harbour.example/access"})
        assert article.status_code == 201 and article.json()["answer"] is None

        assert [e["id"] for e in (await api.get("/knowledge", published="false")).json()["data"]] == [gym["id"]]
        assert [e["question"] for e in (await api.get("/knowledge", kind="article")).json()["data"]] == \
            ["Accessibility"]
        assert [e["id"] for e in (await api.get("/knowledge", query="fitn")).json()["data"]] == [gym["id"]]

        published = await api.post(f"/knowledge/{gym['id']}/publish")
        assert published.status_code == 200 and published.json()["published"] is True
        patched = await api.patch(f"/knowledge/{gym['id']}", {"answer": "Yes, open 6 am to 11 pm.", "keywords": None})
        assert patched.status_code == 200 and patched.json()["keywords"] == []
        assert (await api.get(f"/knowledge/{gym['id']}")).json()["answer"] == "Yes, open 6 am to 11 pm."
        # What an update would store must still be a valid entry.
        invalid = await api.patch(f"/knowledge/{gym['id']}", {"kind": "article"})
        assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "invalid_entry"
        cleared = await api.patch(f"/knowledge/{gym['id']}", {"question": None})
        assert cleared.status_code == 422

        assert (await api.post(f"/knowledge/{gym['id']}/unpublish")).json()["published"] is False
        assert (await _delete(api, f"/knowledge/{gym['id']}")).status_code == 204
        gone = await api.get(f"/knowledge/{gym['id']}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        assert (await _delete(api, f"/knowledge/{gym['id']}")).status_code == 404

        actions = [e.action for e in await audit_entries(h, "knowledge.create")] + \
            [e.action for e in await audit_entries(h, "knowledge.delete")]
        assert actions == ["knowledge.create", "knowledge.create", "knowledge.delete"]

        # Another workspace's key sees none of it.
        other = await api_for(h, await other_workspace(h), name="other")
        assert (await other.get("/knowledge")).json()["data"] == []
        assert (await other.get(f"/knowledge/{article.json()['id']}")).status_code == 404
        assert (await other.get("/knowledge/search", q="is there a lift")).json()["hits"] == []


async def test_search_shows_what_the_bot_would_answer_and_follows_changes(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        dog = (await api.get("/knowledge/search", q="can my puppy come along?")).json()
        assert dog["mode"] == "hybrid" and dog["answer"]["title"] == "Can I bring my dog?"
        assert dog["answer"]["semantic"] > 0.5 and 0 < dog["answer"]["score"] <= 1
        nothing = (await api.get("/knowledge/search", q="who won the football match last night")).json()
        assert nothing["answer"] is None

        gym = (await api.post("/knowledge", {"question": "Is there a gym?", "answer": "Yes, open 24/7."})).json()
        found = (await api.get("/knowledge/search", q="is there a gym", limit=1)).json()
        assert found["answer"]["entry_id"] == gym["id"] and len(found["hits"]) == 1
        await api.post(f"/knowledge/{gym['id']}/unpublish")
        hits = (await api.get("/knowledge/search", q="is there a gym")).json()["hits"]
        assert gym["id"] not in [hit["entry_id"] for hit in hits]

        for bad in [{"q": ""}, {"q": "x" * 1001}, {"q": "parking", "limit": 0}, {"q": "a\x00b"},
                    {"q": "parking", "language": "not a language"}]:
            response = await api.get("/knowledge/search", **bad)
            assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error", bad


async def test_import_yaml_then_csv_updates_by_question(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        before = await _count(api)
        response = await _put(api, "/knowledge/import", YAML, "application/yaml")
        assert response.status_code == 200, response.text
        assert response.json() == {"created": 3, "updated": 0, "unchanged": 0, "deleted": 0}
        articles = (await api.get("/knowledge", kind="article")).json()["data"]
        assert articles[0]["question"] == "House rules" and articles[0]["body"].startswith("Quiet hours")
        pt = (await api.get("/knowledge", query="piscina")).json()["data"][0]
        assert pt["language"] == "pt" and pt["published"] is False

        smoking = (await api.get("/knowledge/search", q="can I smoke in my room?")).json()["answer"]
        assert smoking["kind"] == "article" and smoking["answer"].startswith("Smoking is not allowed")
        assert smoking["url"] == "https://harbour.example/house-rules"

        csv_text = ('question,answer,keywords,published\r\n'
                    'Is there a swimming pool?,"Yes, open 7 am to 9 pm.",pool swim,yes\r\n'
                    '"Is there a gym?","Yes,\nopen 24/7.",gym,\r\n')
        response = await _put(api, "/knowledge/import", csv_text.encode(), "text/csv; charset=utf-8")
        assert response.json() == {"created": 1, "updated": 1, "unchanged": 0, "deleted": 0}
        assert await _count(api) == before + 4
        again = await _put(api, "/knowledge/import", csv_text.encode(), "text/csv")
        assert again.json() == {"created": 0, "updated": 0, "unchanged": 2, "deleted": 0}
        replaced = await _put(api, "/knowledge/import?replace=true", csv_text.encode(), "text/csv")
        assert replaced.json() == {"created": 0, "updated": 0, "unchanged": 2, "deleted": before + 2}
        assert sorted(e["question"] for e in (await api.get("/knowledge")).json()["data"]) == \
            ["Is there a gym?", "Is there a swimming pool?"]
        assert [e.details for e in await audit_entries(h, "knowledge.import")][-1]["deleted"] == before + 2


async def test_bad_imports_name_the_line_and_import_nothing(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        before = await _count(api)

        async def refused(body, content_type="application/yaml", status=422):
            response = await _put(api, "/knowledge/import", body, content_type)
            assert response.status_code == status, response.text
            return response.json()["error"]

        bad_yaml = YAML.replace("    answer: Sim, no", "   answer: [Sim, no")
        error = await refused(bad_yaml)
        assert error["code"] == "invalid_import" and error["details"]["line"] == 13 and "YAML" in error["message"]
        error = await refused(YAML.replace("    keywords: [pool, swim, swimming]", "    colour: blue"))
        assert error["details"]["line"] == 4 and "unknown field 'colour'" in error["message"]
        error = await refused(YAML.replace("    answer: Our heated", "    notes: Our heated").replace("notes", "url"))
        assert error["details"]["line"] == 3 and error["details"]["field"] == "url"
        error = await refused(YAML.replace("      Quiet hours", "      " + "Quiet " * 20_000))
        assert error["details"]["line"] == 8 and "body" in error["message"]
        error = await refused(YAML.replace("Is there a swimming pool?", "q" * 501))
        assert error["details"]["line"] == 2 and "question" in error["message"]
        error = await refused(YAML + "  - question: Is there a swimming pool?\n    answer: Twice.\n")
        assert error["details"]["line"] == 16 and "line 2" in error["message"]
        error = await refused("- question: Faq without answer\n")
        assert error["details"]["line"] == 1 and "needs an answer" in error["message"]
        error = await refused("- &a {question: x, answer: y}\n- *a\n")
        assert "aliases" in error["message"]
        assert "nests" in (await refused("- " + "[" * 50 + "]" * 50 + "\n"))["message"]
        assert (await refused("just a string"))["details"]["line"] == 1
        assert "no entries" in (await refused(""))["message"]

        error = await refused('question,answer,published\nA?,B,yes\n"C\nstill C?",D,maybe\n', "text/csv")
        assert error["details"]["line"] == 3 and "published" in error["message"]
        error = await refused("question,answer,colour\nA?,B,red\n", "text/csv")
        assert error["details"]["line"] == 1
        error = await refused("question,answer\nA?,B\nC?\n", "text/csv")
        assert error["details"]["line"] == 3

        assert "binary" in (await refused(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))["message"]
        assert "UTF-8" in (await refused("question,answer\nCafé?,Oui\n".encode("latin-1"), "text/csv"))["message"]
        huge = await refused(b"a" * (MAX_IMPORT_BYTES + 1), status=413)
        assert huge["code"] == "payload_too_large"
        assert (await refused(b'{"entries": []}', "application/json", status=415))["code"] == "unsupported_media_type"

        assert await _count(api) == before


async def test_entry_fields_are_capped_with_clear_errors(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        base = {"question": "Is there a gym?", "answer": "Yes."}
        cases = [
            {"question": "q" * 501}, {"answer": "a" * 4001}, {"keywords": ["k" * 101]},
            {"keywords": "k " * 300}, {"keywords": ["a,b"]}, {"url": "javascript:alert(1)"},
            {"url": "https://x/" + "p" * 1000},
            {"language": "english please"}, {"question": "   "}, {"question": "a\x00b"}, {"colour": "blue"},
            {"kind": "video"}, {"body": "An FAQ has no body."}, {"kind": "article", "answer": None},
            {"kind": "article", "body": "b" * 100_001}, {"published": "maybe"},
        ]
        for case in cases:
            response = await api.post("/knowledge", {**base, **case})
            assert response.status_code == 422, (case, response.text)
            assert response.json()["error"]["code"] == "validation_error"
        assert (await api.post("/knowledge", {**base, "answer": "x" * 300_000})).status_code == 413
        for path in ["/knowledge/0", "/knowledge/99999999999999999999", "/knowledge/abc"]:
            assert (await api.get(path)).status_code == 422, path
        unauthenticated = await h.client.get(f"{h.base_url}/api/v1/knowledge")
        assert unauthenticated.status_code == 401
        no_key = await h.client.put(f"{h.base_url}/api/v1/knowledge/import", content=YAML,
                                    headers={"content-type": "application/yaml"})
        assert no_key.status_code == 401
