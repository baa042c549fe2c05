"""The demo workspace: Harbour Stays, a brand whose customers book stays and pay bills.

Idempotent: running it again finds the workspace and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.intents.service import import_intents
from touchpoint.assistant.intents.yaml_io import parse_intents_yaml
from touchpoint.assistant.training import request_training
from touchpoint.contacts.service import record_consent, resolve_identity
from touchpoint.conversations import service as conversations
from touchpoint.demo_data import INTENTS_FILE, install_demo_flows
from touchpoint.kit.clock import utcnow
from touchpoint.kit.secrets import SecretBox
from touchpoint.models import (
    CannedResponse,
    ConversationStatus,
    KnowledgeEntry,
    Message,
    MessageStatus,
    Role,
    SenderKind,
)
from touchpoint.workspaces import repository
from touchpoint.workspaces import service as workspaces
from touchpoint.workspaces.audit import Actor

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

# Reception answers chat around the clock; the SLA clock and the team lead's escalation are demo-sized.
WORKSPACE_SETTINGS = {
    "widget": {"title": "Harbour Stays", "greeting": "Hi! How can we help with your stay?"},
    "assistant": {"languages": ["en"]},
    "business_hours": {"weekly": {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}},
    "sla": {"first_response_minutes": 5, "lead_after_minutes": 15},
}
TEAM_LANGUAGES = {"service": "en,pt,fr", "sales": "en,es,de"}
VIPS = {"visitor-yuki"}

ARTICLES = [
    ("House rules", "Quiet hours are from 10 pm to 7 am in every room and the garden.\n\n"
     "Smoking is not allowed anywhere inside the building; the terrace on the first floor has a smoking corner.\n\n"
     "Visitors are welcome in the lounge until 10 pm. Guests are responsible for damage to their room.",
     "https://harbour-stays.example/house-rules"),
    ("Getting here", "From the airport take the metro red line to Alameda, then the green line to Cais do Sodre; "
     "we are a five-minute walk from the station.\n\nA taxi from the airport takes about 25 minutes and costs "
     "around 20 EUR. We can book an airport transfer for 35 EUR per car; ask us at least a day before.",
     "https://harbour-stays.example/getting-here"),
]

CANNED = [
    ("sorry", "Apology", "I'm really sorry about this. Let me look into it right away and get back to you.", None),
    ("refund", "Refund timing", "Refunds go back to the card you paid with and usually show within 5 to 10 "
     "working days.", "service"),
    ("groups", "Group rates", "For groups of 8 or more we offer 15% off flexible rates. Which dates and how many "
     "rooms are you looking for?", "sales"),
    ("thanks", "Closing", "Thanks for staying with Harbour Stays! Is there anything else I can help with?", None),
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


async def ensure_demo(session: AsyncSession, box: SecretBox, *, brand_url: str | None = None) -> DemoInfo:
    """`brand_url`: where Harbour Stays' own booking system (touchpoint.demo_brand) is served; the demo flows
    call it. Given on every start, because the port may change between runs."""
    existing = await repository.workspace_by_slug(session, DEMO_SLUG)
    if existing is not None:
        if brand_url:
            await install_demo_flows(session, existing, brand_url=brand_url)
        return DemoInfo(existing.id, WIDGET_KEY, AGENTS[0][0], DEMO_PASSWORD, created=False)
    workspace = await workspaces.create_workspace(session, box, slug=DEMO_SLUG, name="Harbour Stays",
                                                  timezone="Europe/Lisbon", settings=WORKSPACE_SETTINGS)
    teams = {slug: await workspaces.add_team(session, workspace=workspace, slug=slug, name=name)
             for slug, name in (("service", "Service"), ("sales", "Sales"))}
    for slug, languages in TEAM_LANGUAGES.items():
        teams[slug].languages = languages
    agents = []
    for email, name, role, team_slugs, lead in AGENTS:
        agent = await workspaces.add_agent(session, workspace=workspace, email=email, name=name,
                                           password=DEMO_PASSWORD, role=role)
        agents.append(agent)
        for slug in team_slugs:
            await workspaces.add_member(session, team=teams[slug], agent=agent, lead=lead)
    for question, answer, keywords in FAQ:
        session.add(KnowledgeEntry(workspace_id=workspace.id, question=question, answer=answer, keywords=keywords))
    for title, body, url in ARTICLES:
        session.add(KnowledgeEntry(workspace_id=workspace.id, kind="article", question=title, answer="", body=body,
                                   url=url))
    for shortcut, title, text, team_slug in CANNED:
        session.add(CannedResponse(workspace_id=workspace.id, shortcut=shortcut, title=title, text=text,
                                   team_id=teams[team_slug].id if team_slug else None))
    await import_intents(session, workspace_id=workspace.id, specs=parse_intents_yaml(INTENTS_FILE.read_text()),
                         mode="merge", actor=Actor("system", None, "demo"))
    if brand_url:
        await install_demo_flows(session, workspace, brand_url=brand_url)
    await request_training(session, workspace.id, "demo workspace created")
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
        if external in VIPS:
            contact.attributes = {**(contact.attributes or {}), "vip": True}
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
