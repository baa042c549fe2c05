"""The knowledge base on a real database (SQLite and PostgreSQL): what is searched (published, this workspace, the
right language), and the in-process index following changes."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from tests.assistant.knowledge.eval_set import KB, Entry
from tests.assistant.knowledge.support import FakeEncoder, add_entries, database
from touchpoint.assistant.knowledge import index as kb_index
from touchpoint.assistant.knowledge import service
from touchpoint.assistant.knowledge.schemas import EntryIn
from touchpoint.kit.clock import utcnow
from touchpoint.models import KnowledgeEntry
from touchpoint.workspaces import service as workspaces
from touchpoint.workspaces.audit import Actor

DEMO = KB[:7]  # the demo workspace's FAQ
ACTOR = Actor.system()


async def _best(runtime, workspace_id, text, **kwargs):
    async with runtime.sessionmaker() as session:
        return await service.best_answer(session, workspace_id, text, **kwargs)


async def test_best_answer_from_the_demo_faq_by_words_and_by_meaning(settings, encoder):
    async with database(settings) as (runtime, workspace_id):
        ids = await add_entries(runtime, workspace_id, DEMO)
        by_words = await _best(runtime, workspace_id, "Is breakfast included in the price?")
        assert by_words is not None and by_words.entry_id == ids[2] and by_words.semantic is None
        assert "7 to 10:30" in by_words.answer
        by_meaning = await _best(runtime, workspace_id, "can my puppy come along?", encoder=encoder)
        assert by_meaning is not None and by_meaning.entry_id == ids[1] and by_meaning.lexical == 0.0
        assert await _best(runtime, workspace_id, "who won the football match last night", encoder=encoder) is None
        assert await _best(runtime, workspace_id, "what's the weather tomorrow") is None
        async with runtime.sessionmaker() as session:
            hits = await service.search(session, workspace_id, "parking for my car", limit=3, encoder=encoder)
        assert hits[0].entry_id == ids[5] and len(hits) <= 3


async def test_only_published_entries_of_this_workspace_are_searched(settings):
    async with database(settings) as (runtime, workspace_id):
        async with runtime.transaction() as session:
            other = await workspaces.create_workspace(session, runtime.box, slug="other", name="Other")
            other_id = other.id
        await add_entries(runtime, other_id, [Entry("Is there a sauna?", "Yes, on the roof.", "sauna spa")])
        [draft] = await add_entries(runtime, workspace_id, [Entry("Is there a gym?", "Open 24/7.", "gym fitness")],
                                    published=False)
        assert await _best(runtime, workspace_id, "is there a sauna") is None
        assert await _best(runtime, workspace_id, "is there a gym") is None
        async with runtime.transaction() as session:
            entry = await service.require_entry(session, workspace_id, draft)
            await service.set_published(session, entry=entry, published=True, actor=ACTOR)
        hit = await _best(runtime, workspace_id, "is there a gym")
        assert hit is not None and hit.entry_id == draft
        assert (await _best(runtime, other_id, "is there a sauna")) is not None


async def test_language_filter_keeps_entries_in_other_languages_out(settings):
    async with database(settings) as (runtime, workspace_id):
        pt, en, anyone = await add_entries(runtime, workspace_id, [
            Entry("Tem estacionamento?", "Sim, garagem com 40 lugares.", "estacionamento garagem carro",
                  language="pt-PT"),
            Entry("Is there parking?", "Yes, a garage with 40 spaces.", "parking garage car", language="en"),
            Entry("Do you have wifi?", "Free wifi everywhere.", "wifi internet")])
        for language, expected in [("pt", pt), ("pt-BR", pt), ("PT", pt), (None, pt), ("und", pt)]:
            hit = await _best(runtime, workspace_id, "estacionamento garagem", language=language)
            assert hit is not None and hit.entry_id == expected, language
        assert await _best(runtime, workspace_id, "estacionamento garagem", language="en") is None
        assert (await _best(runtime, workspace_id, "parking garage", language="en")).entry_id == en
        assert await _best(runtime, workspace_id, "parking garage", language="pt") is None
        # An entry without a language serves every language.
        assert (await _best(runtime, workspace_id, "wifi internet", language="fr")).entry_id == anyone


async def test_an_update_committed_here_is_searched_at_once(settings, monkeypatch):
    monkeypatch.setattr(kb_index, "CHECK_SECONDS", 3600.0)  # only the commit hook can make it fresh
    async with database(settings) as (runtime, workspace_id):
        [parking] = await add_entries(runtime, workspace_id, [DEMO[5]])
        assert "12 EUR" in (await _best(runtime, workspace_id, "is there parking?")).answer
        async with runtime.transaction() as session:
            entry = await service.require_entry(session, workspace_id, parking)
            await service.update_entry(session, entry=entry, actor=ACTOR,
                                       changes={"answer": "Yes, 40 spaces at 15 EUR per day."})
        assert "15 EUR" in (await _best(runtime, workspace_id, "is there parking?")).answer
        # A rolled-back change leaves nothing behind, and the index still serves the committed text.
        try:
            async with runtime.transaction() as session:
                entry = await service.require_entry(session, workspace_id, parking)
                await service.update_entry(session, entry=entry, actor=ACTOR, changes={"answer": "Rolled back."})
                raise RuntimeError("abort")
        except RuntimeError:
            pass
        assert "15 EUR" in (await _best(runtime, workspace_id, "is there parking?")).answer
        async with runtime.transaction() as session:
            entry = await service.require_entry(session, workspace_id, parking)
            await service.delete_entry(session, entry=entry, actor=ACTOR)
        assert await _best(runtime, workspace_id, "is there parking?") is None


async def test_a_change_made_elsewhere_is_seen_at_the_next_check(settings, monkeypatch):
    async with database(settings) as (runtime, workspace_id):
        [parking] = await add_entries(runtime, workspace_id, [DEMO[5]])
        monkeypatch.setattr(kb_index, "CHECK_SECONDS", 3600.0)
        assert "12 EUR" in (await _best(runtime, workspace_id, "is there parking?")).answer
        # Another process edits the row: this one's index does not know until it checks.
        async with runtime.transaction() as session:
            await session.execute(update(KnowledgeEntry).where(KnowledgeEntry.id == parking)
                                  .values(answer="Yes, 40 spaces at 18 EUR per day.", updated_at=utcnow()))
        assert "12 EUR" in (await _best(runtime, workspace_id, "is there parking?")).answer  # cached
        monkeypatch.setattr(kb_index, "CHECK_SECONDS", 0.0)
        assert "18 EUR" in (await _best(runtime, workspace_id, "is there parking?")).answer


async def test_a_large_kb_embeds_in_the_background_and_answers_by_words_meanwhile(settings, monkeypatch):
    monkeypatch.setattr(kb_index, "SYNC_ENCODE_MAX", 4)
    monkeypatch.setattr(kb_index, "CHECK_SECONDS", 0.0)
    fake = FakeEncoder()
    async with database(settings) as (runtime, workspace_id):
        ids = await add_entries(runtime, workspace_id, DEMO)
        fake.gate.clear()  # the embedding thread blocks until released
        async with runtime.sessionmaker() as session:
            hits = await service.search(session, workspace_id, "is there parking for my car", encoder=fake)
        assert hits[0].entry_id == ids[5] and hits[0].semantic is None  # words only, not blocked
        fake.gate.set()
        async with runtime.sessionmaker() as session:
            await asyncio.wait_for(kb_index.wait_for_embeddings(session, workspace_id, fake), 30)
            hits = await service.search(session, workspace_id, "is there parking for my car", encoder=fake)
        assert hits[0].entry_id == ids[5] and hits[0].semantic is not None
        # A later edit re-embeds only what changed (one answer), now small enough to do at once.
        embedded = fake.texts
        async with runtime.transaction() as session:
            entry = await service.require_entry(session, workspace_id, ids[5])
            await service.update_entry(session, entry=entry, actor=ACTOR, changes={"answer": "Garage: 15 EUR/day."})
        async with runtime.sessionmaker() as session:
            hits = await service.search(session, workspace_id, "is there parking for my car", encoder=fake)
        assert fake.texts == embedded + 1 and hits[0].semantic is not None and "15 EUR" in hits[0].answer


async def test_a_broken_encoder_degrades_to_words(settings):
    fake = FakeEncoder()
    fake.fail = True
    async with database(settings) as (runtime, workspace_id):
        ids = await add_entries(runtime, workspace_id, DEMO)
        hit = await _best(runtime, workspace_id, "Is breakfast included in the price?", encoder=fake)
        assert hit is not None and hit.entry_id == ids[2] and hit.semantic is None


async def test_import_is_all_or_nothing_and_updates_by_question(settings):
    async with database(settings) as (runtime, workspace_id):
        [old] = await add_entries(runtime, workspace_id, [DEMO[5]])
        entries = [EntryIn(question="Is there parking?", answer="Yes, 15 EUR per day.", keywords="parking car"),
                   EntryIn(question="House rules", kind="article", body="Quiet hours are from 10 pm to 7 am.")]
        async with runtime.transaction() as session:
            result = await service.import_entries(session, workspace_id=workspace_id, entries=entries, replace=False,
                                                  actor=ACTOR)
        assert (result.created, result.updated, result.unchanged, result.deleted) == (1, 1, 0, 0)
        async with runtime.transaction() as session:
            again = await service.import_entries(session, workspace_id=workspace_id, entries=entries[:1],
                                                 replace=True, actor=ACTOR)
        assert (again.created, again.updated, again.unchanged, again.deleted) == (0, 0, 1, 1)
        hit = await _best(runtime, workspace_id, "is there parking")
        assert hit is not None and hit.entry_id == old and "15 EUR" in hit.answer
        assert await _best(runtime, workspace_id, "what are the quiet hours") is None
