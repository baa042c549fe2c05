"""The demo workspace: Harbour Stays, a brand whose customers book stays and pay bills.

Idempotent: running it again finds the workspace and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.contacts.service import record_consent, resolve_identity
from touchpoint.conversations import service as conversations
from touchpoint.kit.clock import utcnow
from touchpoint.kit.secrets import SecretBox
from touchpoint.models import ConversationStatus, KnowledgeEntry, Message, MessageStatus, Role, SenderKind
from touchpoint.workspaces import repository
from touchpoint.workspaces import service as workspaces

DEMO_SLUG = "harbour-stays"
DEMO_PASSWORD = "harbour-demo-2026"
WIDGET_KEY = "demo-widget"

FAQ = [
    ("What time is check-in and check-out?", "Check-in is from 3 pm and check-out is by 11 am. Early check-in "
     "is free when the room is ready; late check-out until 1 pm costs 20 EUR.", "checkin checkout arrival time"),
    ("Can I bring my dog?", "Yes, dogs are welcome in our garden rooms for 15 EUR per night. Please tell us when "
     "you book.", "dog pet pets animal"),
    ("Is breakfast included?", "Breakfast is included in every flexible rate and served from 7 to 10:30 am.",
     "breakfast food morning included"),
    ("How do I pay my bill?", "You can pay your bill by card at reception, or online with the payment link in "
     "your confirmation email. Type 'agent' if the link does not work.", "pay bill invoice payment card"),
    ("How do I cancel my booking?", "Flexible bookings can be cancelled free of charge until 48 hours before "
     "arrival from the link in your confirmation email. Non-refundable rates cannot be cancelled.",
     "cancel cancellation refund booking reservation"),
    ("Is there parking?", "Yes, we have a garage with 40 spaces at 12 EUR per day; no booking needed.",
     "parking car garage park"),
    ("Do you have wifi?", "Free fast wifi everywhere in the building; the password is on your key card.",
     "wifi internet wireless password"),
]

AGENTS = [
    ("maria@harbour.example", "Maria Lopez", Role.admin, ["service"], True),
    ("sam@harbour.example", "Sam Carter", Role.sales, ["sales"], True),
    ("li@harbour.example", "Li Wei", Role.agent, ["service", "sales"], False),
]

CONTACTS: list[tuple[str, str, str | None, str, str, list[str], ConversationStatus]] = [
    ("visitor-ana", "Ana Silva", "ana@example.com", "Europe/Lisbon", "pt",
     ["Hi, is breakfast included?"], ConversationStatus.bot),
    ("visitor-tom", "Tom Baker", "tom@example.com", "Europe/London", "en",
     ["My room was not cleaned yesterday and nobody answered the phone."], ConversationStatus.queued),
    ("visitor-yuki", "Yuki Tanaka", "yuki@example.com", "Asia/Tokyo", "ja",
     ["Do you offer group rates for 12 people in May?"], ConversationStatus.assigned),
    ("visitor-omar", "Omar Haddad", None, "Europe/Paris", "fr",
     ["Thanks, all sorted!"], ConversationStatus.resolved),
]


@dataclass(frozen=True)
class DemoInfo:
    workspace_id: int
    widget_key: str
    login_email: str
    password: str
    created: bool


async def ensure_demo(session: AsyncSession, box: SecretBox) -> DemoInfo:
    existing = await repository.workspace_by_slug(session, DEMO_SLUG)
    if existing is not None:
        return DemoInfo(existing.id, WIDGET_KEY, AGENTS[0][0], DEMO_PASSWORD, created=False)
    workspace = await workspaces.create_workspace(session, box, slug=DEMO_SLUG, name="Harbour Stays",
                                                  timezone="Europe/Lisbon",
                                                  settings={"widget": {
                                                      "title": "Harbour Stays",
                                                      "greeting": "Hi! How can we help with your stay?"}})
    teams = {slug: await workspaces.add_team(session, workspace=workspace, slug=slug, name=name)
             for slug, name in (("service", "Service"), ("sales", "Sales"))}
    agents = []
    for email, name, role, team_slugs, lead in AGENTS:
        agent = await workspaces.add_agent(session, workspace=workspace, email=email, name=name,
                                           password=DEMO_PASSWORD, role=role)
        agents.append(agent)
        for slug in team_slugs:
            await workspaces.add_member(session, team=teams[slug], agent=agent, lead=lead)
    for question, answer, keywords in FAQ:
        session.add(KnowledgeEntry(workspace_id=workspace.id, question=question, answer=answer, keywords=keywords))
    account = await workspaces.add_channel_account(session, box, workspace=workspace, channel="webchat",
                                                   name="Website chat", key=WIDGET_KEY)
    now = utcnow()
    for index, (external, person, person_email, tz, locale, texts, status) in enumerate(CONTACTS):
        when = now - timedelta(hours=6 - index)
        contact, _ = await resolve_identity(session, workspace_id=workspace.id, channel_account_id=account.id,
                                            external_id=external,
                                            profile={"name": person, "email": person_email, "timezone": tz,
                                                     "locale": locale})
        await record_consent(session, contact=contact, topic="promotions", channel="*", granted=index % 2 == 0,
                             source="booking_form")
        conversation, _ = await conversations.get_or_open(session, contact=contact, channel_account_id=account.id,
                                                         now=when)
        for text in texts:
            await conversations.store_inbound(session, conversation=conversation, text=text, content={},
                                              external_id=f"demo-{external}-{index}", now=when)
        conversation.status = status.value
        conversation.team_id = teams["sales" if "group" in texts[0] else "service"].id
        if status == ConversationStatus.assigned:
            conversation.agent_id = agents[1].id
            session.add(Message(workspace_id=workspace.id, conversation_id=conversation.id,
                                channel_account_id=account.id, direction="out", sender_kind=SenderKind.agent.value,
                                agent_id=agents[1].id, text="Happy to help! For 12 people we offer 15% off. "
                                "Which dates are you looking at?", status=MessageStatus.read.value,
                                purpose="service", status_at=when))
        if status == ConversationStatus.resolved:
            conversation.resolved_at = when
    await session.flush()
    return DemoInfo(workspace.id, WIDGET_KEY, AGENTS[0][0], DEMO_PASSWORD, created=True)
