"""The conversation list: tabs by status, team filter, ordering, and no per-row queries."""

from __future__ import annotations

import re

from sqlalchemy import event

from tests.inbox.helpers import SAM, conversation_of, sign_in
from tests.support.harness import running
from touchpoint.contacts.service import resolve_identity
from touchpoint.conversations import service as conversations
from touchpoint.kit.clock import utcnow
from touchpoint.models import ChannelAccount, Team
from touchpoint.workspaces import repository as workspaces_repo

ROW = re.compile(r'class="conv-row[^"]*"[^>]*href="/inbox/conversations/(\d+)"'
                 r'[\s\S]*?<span class="name">([^<]*)</span>')


def names(html: str) -> list[str]:
    return [name for _id, name in ROW.findall(html)]


def count(html: str, tab: str) -> int:
    match = re.search(rf'data-tab="{tab}">\s*\w+ <span class="count">(\d+)</span>', html)
    assert match, tab
    return int(match.group(1))


async def test_tabs_show_the_demo_conversations_by_status(settings):
    async with running(settings, run_background=False) as h:
        maria = await sign_in(h)
        default = await maria.get("/inbox")
        assert names(default.text) == ["Tom Baker"]  # the default tab is the waiting queue
        expected = {"queued": ["Tom Baker"], "assigned": ["Yuki Tanaka"], "bot": ["Ana Silva"],
                    "resolved": ["Omar Haddad"], "snoozed": [], "mine": []}
        for view, who in expected.items():
            page = await maria.get(f"/inbox?view={view}")
            assert page.status_code == 200
            assert names(page.text) == who, view
            assert count(page.text, view) == len(who)
        row = (await maria.get("/inbox?view=queued")).text
        assert "My room was not cleaned yesterday" in row and "Web chat" in row and "Service" in row
        assert 'class="waiting"' in row  # Tom has been waiting for an answer
        assigned = (await maria.get("/inbox?view=assigned")).text
        assert "Sam Carter" in assigned and "Sales" in assigned
        # Sam has answered Yuki, and nobody owes the bot's or resolved customers a reply: no waiting time.
        for view in ("assigned", "bot", "resolved"):
            assert 'class="waiting"' not in (await maria.get(f"/inbox?view={view}")).text, view
        # Sam holds Yuki's conversation: it is in his "Mine" tab, not Maria's.
        sam = await sign_in(h, SAM)
        assert names((await sam.get("/inbox?view=mine")).text) == ["Yuki Tanaka"]
        fragment = await sam.get("/inbox/list?view=mine")
        assert fragment.text.lstrip().startswith("<section") and "<html" not in fragment.text
        assert names(fragment.text) == ["Yuki Tanaka"]
        # An unknown view falls back to the queue rather than failing.
        assert names((await maria.get("/inbox?view=everything")).text) == ["Tom Baker"]
        await maria.aclose()
        await sam.aclose()


async def test_team_filter(settings):
    async with running(settings, run_background=False) as h:
        maria = await sign_in(h)
        async with h.runtime.sessionmaker() as session:
            teams = {t.slug: t.id for t in await workspaces_repo.teams_of(session, h.workspace_id)}
        sales = await maria.get(f"/inbox?view=assigned&team={teams['sales']}")
        assert names(sales.text) == ["Yuki Tanaka"]
        assert count(sales.text, "queued") == 0 and count(sales.text, "assigned") == 1
        service = await maria.get(f"/inbox?view=assigned&team={teams['service']}")
        assert names(service.text) == []
        assert names((await maria.get(f"/inbox?view=queued&team={teams['service']}")).text) == ["Tom Baker"]
        assert f'<option value="{teams["service"]}" selected>' in service.text
        # A team that is not ours (or not a number) shows every team instead of an error.
        assert names((await maria.get("/inbox?view=queued&team=99999")).text) == ["Tom Baker"]
        assert names((await maria.get("/inbox?view=queued&team=abc")).text) == ["Tom Baker"]
        await maria.aclose()


async def test_newest_activity_first(settings):
    async with running(settings, run_background=False) as h:
        maria = await sign_in(h)
        tom = await conversation_of(h, "Tom Baker")
        await _waiting_conversations(h, 2)
        order = names((await maria.get("/inbox?view=queued")).text)
        assert order == ["Guest 1", "Guest 0", "Tom Baker"]
        async with h.runtime.transaction() as session:
            row = await session.get(type(tom), tom.id)
            await conversations.store_inbound(session, conversation=row, text="Hello again?", content={},
                                              external_id="again-1", now=utcnow())
        order = names((await maria.get("/inbox?view=queued")).text)
        assert order == ["Tom Baker", "Guest 1", "Guest 0"]
        await maria.aclose()


async def test_list_queries_do_not_grow_with_the_number_of_rows(settings):
    async with running(settings, run_background=False) as h:
        maria = await sign_in(h)
        statements: list[str] = []

        def count_statement(_conn, _cursor, statement, *_args):
            statements.append(statement)

        engine = h.runtime.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count_statement)
        try:
            assert len(names((await maria.get("/inbox?view=queued")).text)) == 1
            few = len(statements)
            await _waiting_conversations(h, 12)
            statements.clear()
            assert len(names((await maria.get("/inbox?view=queued")).text)) == 13
            many = len(statements)
        finally:
            event.remove(engine, "before_cursor_execute", count_statement)
        assert many == few, f"{few} statements for 1 row but {many} for 13"
        await maria.aclose()


async def _waiting_conversations(h, n: int) -> None:
    """n queued conversations from new contacts on the API channel, each with a different team/agent mix."""
    for index in range(n):
        async with h.runtime.transaction() as session:
            account = await workspaces_repo.account_by_key(session, h.account_key)
            assert isinstance(account, ChannelAccount)
            team = (await session.execute(Team.__table__.select().where(Team.workspace_id == h.workspace_id)
                                          .order_by(Team.id).limit(1))).first()
            contact, _ = await resolve_identity(session, workspace_id=h.workspace_id, channel_account_id=account.id,
                                                external_id=f"guest-{index}", profile={"name": f"Guest {index}"})
            conversation, _ = await conversations.get_or_open(session, contact=contact,
                                                              channel_account_id=account.id, now=utcnow())
            await conversations.store_inbound(session, conversation=conversation, text=f"question {index}",
                                              content={}, external_id=f"g-{index}", now=utcnow())
            conversation.status = "queued"
            conversation.team_id = team.id if team and index % 2 else None
