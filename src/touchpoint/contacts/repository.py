"""Every contact query. Functions named access_* filter on the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.models import ConsentRecord, Contact, ContactIdentity


async def access_contact(session: AsyncSession, workspace_id: int, contact_id: int) -> Contact | None:
    return (await session.execute(
        select(Contact).where(Contact.id == contact_id, Contact.workspace_id == workspace_id)
    )).scalar_one_or_none()


async def find_identity(session: AsyncSession, channel_account_id: int, external_id: str) -> ContactIdentity | None:
    return (await session.execute(
        select(ContactIdentity).where(ContactIdentity.channel_account_id == channel_account_id,
                                      ContactIdentity.external_id == external_id)
    )).scalar_one_or_none()


async def find_by_external_ref(session: AsyncSession, workspace_id: int, external_ref: str) -> Contact | None:
    return (await session.execute(
        select(Contact).where(Contact.workspace_id == workspace_id, Contact.external_ref == external_ref)
        .order_by(Contact.id).limit(1)
    )).scalar_one_or_none()


async def identities_of(session: AsyncSession, contact_id: int) -> Sequence[ContactIdentity]:
    return (await session.execute(
        select(ContactIdentity).where(ContactIdentity.contact_id == contact_id).order_by(ContactIdentity.id)
    )).scalars().all()


async def consent_in_force(session: AsyncSession, contact_id: int, topic: str, channel: str) -> ConsentRecord | None:
    """The most recent record that applies to this topic on this channel (wildcards included)."""
    return (await session.execute(
        select(ConsentRecord)
        .where(ConsentRecord.contact_id == contact_id,
               or_(ConsentRecord.topic == topic, ConsentRecord.topic == "*"),
               or_(ConsentRecord.channel == channel, ConsentRecord.channel == "*"))
        .order_by(ConsentRecord.id.desc()).limit(1)
    )).scalar_one_or_none()


async def list_contacts(session: AsyncSession, workspace_id: int, *, query: str | None, limit: int,
                        after_id: int | None) -> Sequence[Contact]:
    stmt = select(Contact).where(Contact.workspace_id == workspace_id)
    if query:
        like = f"%{query}%"
        stmt = stmt.where(or_(Contact.name.ilike(like), Contact.email.ilike(like), Contact.phone.ilike(like)))
    if after_id:
        stmt = stmt.where(Contact.id > after_id)
    return (await session.execute(stmt.order_by(Contact.id).limit(limit))).scalars().all()
