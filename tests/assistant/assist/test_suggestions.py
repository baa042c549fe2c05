"""Suggested replies: canned responses by word similarity, knowledge-base answers, merged without
duplicates, each with its source; team-only canned responses stay in their team."""

from __future__ import annotations

from sqlalchemy import select

from tests.assistant.assist.scenarios import CANNED, add_canned
from touchpoint.assistant.assist.suggestions import Suggestion, merge, rank_canned, suggest_replies
from touchpoint.assistant.knowledge import service as knowledge
from touchpoint.assistant.knowledge.retrieval import KnowledgeHit
from touchpoint.models import CannedResponse, Team


def canned_rows() -> list[CannedResponse]:
    return [CannedResponse(id=i + 1, workspace_id=1, shortcut=s, title=t, text=x) for i, (s, t, x) in enumerate(CANNED)]


def hit(entry_id: int, title: str, answer: str, score: float, url: str | None = None) -> KnowledgeHit:
    return KnowledgeHit(entry_id=entry_id, kind="faq", title=title, answer=answer, url=url, score=score,
                        lexical=score, semantic=None)


def test_canned_ranked_by_the_customers_words_newest_request_first():
    rows = canned_rows()
    ranked = rank_canned(["Could I have a late check-out on Sunday?", "what is the wifi password"], rows)
    assert [s.shortcut for s in ranked] == ["late-checkout", "wifi"]
    assert ranked[0].score > ranked[1].score and ranked[0].source == "canned" and ranked[0].ref == "canned:3"
    # Inflections meet ("cancelled" / "cancel" would too); unrelated text suggests nothing rather than noise.
    assert [s.shortcut for s in rank_canned(["The payment links are not working"], rows)] == ["payment-link"]
    assert rank_canned(["my room was dirty and cold"], rows) == []
    assert rank_canned([], rows) == [] and rank_canned(["wifi"], []) == []
    assert rank_canned(["🙂🙂", "   ", "!!!"], rows) == []


def test_merge_drops_duplicates_and_keeps_the_better_scored():
    same = "The wifi password is printed on your key card; the network is HarbourGuest."
    merged = merge([Suggestion(same, "knowledge", "Do you have wifi?", 0.7, "knowledge:7")],
                   [Suggestion(same.upper() + "!", "canned", "Wifi password", 0.5, "canned:4", shortcut="wifi"),
                    Suggestion("Late check-out until 1 pm is possible.", "canned", "Late", 0.4, "canned:3")],
                   limit=5)
    assert [s.ref for s in merged] == ["knowledge:7", "canned:3"]
    near = merge([Suggestion("Breakfast is served from 7 to 10:30 am in the garden room.", "canned", "a", 0.3,
                             "canned:1"),
                  Suggestion("Breakfast is served from 7 to 10:30 am in the garden room daily.", "knowledge", "b",
                             0.6, "knowledge:2")], limit=5)
    assert [s.ref for s in near] == ["knowledge:2"]
    assert len(merge([Suggestion(f"answer number {i} about topic{i}", "canned", "t", 0.5, f"canned:{i}")
                      for i in range(9)], limit=4)) == 4


async def test_knowledge_and_canned_together_with_sources(db, monkeypatch):
    queries: list[tuple[str, dict]] = []

    async def fake_search(session, workspace_id, query, *, limit=3, encoder=None, language=None):
        queries.append((query, {"workspace_id": workspace_id, "limit": limit, "encoder": encoder,
                                "language": language}))
        if "wifi" in query:
            return [hit(7, "Do you have wifi?", CANNED[3][2], 0.9),  # same words as the canned one
                    hit(8, "Is there parking?", "Yes, a garage.", 0.2),  # too weak to suggest
                    hit(9, "Evil", "Click me", 0.8, url="javascript:alert(1)")]
        return []

    monkeypatch.setattr(knowledge, "search", fake_search)
    async with db.sessions() as session, session.begin():
        await add_canned(session, db.workspace_id)
    async with db.sessions() as session:
        found = await suggest_replies(session, db.workspace_id, ["what's the wifi password?", "hello there I am"],
                                      encoder="ENC", language="en")
    assert [(q, a["limit"], a["encoder"], a["language"]) for q, a in queries] == [
        ("what's the wifi password?", 3, "ENC", "en"), ("hello there I am", 3, "ENC", "en")]
    assert [(s.source, s.title) for s in found] == [("knowledge", "Do you have wifi?"), ("knowledge", "Evil")]
    assert found[1].url is None  # a javascript: URL is never offered as a link


async def test_a_broken_knowledge_base_still_leaves_canned_suggestions(db, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("index corrupt")

    monkeypatch.setattr(knowledge, "search", broken)
    async with db.sessions() as session, session.begin():
        await add_canned(session, db.workspace_id)
    async with db.sessions() as session:
        found = await suggest_replies(session, db.workspace_id, ["Can I get late checkout?"])
    assert [s.shortcut for s in found] == ["late-checkout"]
    async with db.sessions() as session:
        assert await suggest_replies(session, db.workspace_id, ["", "   "]) == []


async def test_team_only_canned_responses_stay_in_their_team(db):
    async with db.sessions() as session, session.begin():
        teams = {t.slug: t.id for t in (await session.execute(
            select(Team).where(Team.workspace_id == db.workspace_id))).scalars()}
        session.add_all([
            CannedResponse(workspace_id=db.workspace_id, shortcut="group-rates", title="Group rates",
                           text="For groups of 10 or more we offer 15% off the flexible rate.", team_id=teams["sales"]),
            CannedResponse(workspace_id=db.workspace_id, shortcut="groups-general", title="Groups",
                           text="Groups are welcome; a colleague from sales will send an offer.")])
    question = ["Do you offer group rates for 12 people?"]
    async with db.sessions() as session:
        sales = await suggest_replies(session, db.workspace_id, question, team_id=teams["sales"])
        service = await suggest_replies(session, db.workspace_id, question, team_id=teams["service"])
        nobody = await suggest_replies(session, db.workspace_id, question, team_id=None)
    assert [s.shortcut for s in sales if s.source == "canned"] == ["group-rates", "groups-general"]
    assert [s.shortcut for s in service if s.source == "canned"] == ["groups-general"]
    assert [s.shortcut for s in nobody if s.source == "canned"] == ["groups-general"]
