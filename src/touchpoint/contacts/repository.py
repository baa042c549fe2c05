"""Every contact query. Functions named access_* filter on the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.models import ChannelAccount, ConsentRecord, Contact, ContactIdentity, Workspace


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


async def lock_contact_refs(session: AsyncSession, workspace_id: int) -> None:
    """Serialise writers that check external_ref uniqueness in one workspace (there is no unique index on
    it): FOR NO KEY UPDATE on the workspace row, which does not block the key-share locks that foreign
    keys to the workspace take. SQLite drops the clause; its BEGIN IMMEDIATE already serialises writers."""
    await session.execute(
        select(Workspace.id).where(Workspace.id == workspace_id).with_for_update(key_share=True))


async def external_ref_taken(session: AsyncSession, workspace_id: int, external_ref: str,
                             except_contact_id: int | None = None) -> int | None:
    """The id of another contact of the workspace that already has this external_ref."""
    stmt = select(Contact.id).where(Contact.workspace_id == workspace_id, Contact.external_ref == external_ref)
    if except_contact_id is not None:
        stmt = stmt.where(Contact.id != except_contact_id)
    return (await session.execute(stmt.order_by(Contact.id).limit(1))).scalar()


def _like_pattern(text: str) -> str:
    """A substring pattern in which the searcher's own % and _ match literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_contacts(session: AsyncSession, workspace_id: int, *, query: str | None, limit: int,
                          after_id: int | None) -> Sequence[Contact]:
    """A keyset page in id order; `query` matches name, email, phone or external_ref as a substring."""
    stmt = select(Contact).where(Contact.workspace_id == workspace_id)
    if query:
        like = _like_pattern(query)
        stmt = stmt.where(or_(Contact.name.ilike(like, escape="\\"), Contact.email.ilike(like, escape="\\"),
                              Contact.phone.ilike(like, escape="\\"), Contact.external_ref.ilike(like, escape="\\")))
    if after_id is not None:
        stmt = stmt.where(Contact.id > after_id)
    return (await session.execute(stmt.order_by(Contact.id).limit(limit))).scalars().all()


async def identities_with_channels(session: AsyncSession, contact_id: int) -> Sequence[tuple[ContactIdentity, str]]:
    rows = await session.execute(
        select(ContactIdentity, ChannelAccount.channel)
        .join(ChannelAccount, ChannelAccount.id == ContactIdentity.channel_account_id)
        .where(ContactIdentity.contact_id == contact_id).order_by(ContactIdentity.id))
    return [(identity, channel) for identity, channel in rows.all()]


async def consents_in_force(session: AsyncSession, contact_id: int) -> Sequence[ConsentRecord]:
    """For every (topic, channel) pair the contact has records for, the latest one (the one in force)."""
    latest = (select(func.max(ConsentRecord.id)).where(ConsentRecord.contact_id == contact_id)
              .group_by(ConsentRecord.topic, ConsentRecord.channel))
    return (await session.execute(
        select(ConsentRecord).where(ConsentRecord.id.in_(latest))
        .order_by(ConsentRecord.topic, ConsentRecord.channel))).scalars().all()
