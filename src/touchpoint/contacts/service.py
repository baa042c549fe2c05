"""Contact mutations: identity resolution and consent. Services flush, never commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.contacts import repository
from touchpoint.models import ConsentRecord, Contact, ContactIdentity

PROFILE_FIELDS = ("name", "email", "phone", "locale", "timezone")


async def resolve_identity(session: AsyncSession, *, workspace_id: int, channel_account_id: int,
                           external_id: str, profile: dict[str, Any]) -> tuple[Contact, ContactIdentity]:
    """The contact behind (channel account, external id), created on first contact."""
    identity = await repository.find_identity(session, channel_account_id, external_id)
    if identity is not None:
        contact = await session.get(Contact, identity.contact_id)
        assert contact is not None
        _fill_missing(contact, profile)
        return contact, identity
    contact = None
    if profile.get("external_ref"):
        contact = await repository.find_by_external_ref(session, workspace_id, profile["external_ref"])
    if contact is None:
        contact = Contact(workspace_id=workspace_id, attributes={})
        _fill_missing(contact, profile)
        contact.external_ref = profile.get("external_ref")
        session.add(contact)
        await session.flush()
    identity = ContactIdentity(workspace_id=workspace_id, contact_id=contact.id,
                               channel_account_id=channel_account_id, external_id=external_id)
    try:
        async with session.begin_nested():
            session.add(identity)
    except IntegrityError:
        # Another worker created it between our read and our insert: use theirs.
        existing = await repository.find_identity(session, channel_account_id, external_id)
        assert existing is not None
        identity = existing
        found = await session.get(Contact, identity.contact_id)
        assert found is not None
        contact = found
    return contact, identity


def _fill_missing(contact: Contact, profile: dict[str, Any]) -> None:
    """Providers tell us names and locales; never overwrite what an agent or the API has set."""
    for name in PROFILE_FIELDS:
        value = profile.get(name)
        if value and not getattr(contact, name):
            setattr(contact, name, str(value)[:200])


async def record_consent(session: AsyncSession, *, contact: Contact, topic: str, channel: str, granted: bool,
                         source: str, evidence: str | None = None) -> ConsentRecord:
    record = ConsentRecord(workspace_id=contact.workspace_id, contact_id=contact.id, topic=topic,
                           channel=channel, granted=granted, source=source,
                           evidence=(evidence or "")[:500] or None)
    session.add(record)
    await session.flush()
    return record
