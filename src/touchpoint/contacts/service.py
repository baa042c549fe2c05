"""Contact mutations: identity resolution and consent. Services flush, never commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.contacts import repository
from touchpoint.contacts.schemas import check_json_object
from touchpoint.kit.clock import utcnow
from touchpoint.kit.errors import AppError, Conflict, NotFound
from touchpoint.models import ConsentRecord, Contact, ContactIdentity
from touchpoint.workspaces.audit import Actor, record_audit

PROFILE_FIELDS = ("name", "email", "phone", "locale", "timezone")


async def resolve_identity(session: AsyncSession, *, workspace_id: int, channel_account_id: int,
                           external_id: str, profile: dict[str, Any]) -> tuple[Contact, ContactIdentity]:
    """The contact behind (channel account, external id), created on first contact.

    Another worker may create the same identity, or a contact with the same external_ref, between our
    read and our insert: the unique constraints catch that, the savepoint undoes our half, and the
    second pass finds theirs. No orphan contact is left behind either way.
    """
    for _ in range(3):
        found = await _identity_with_contact(session, channel_account_id, external_id)
        if found is not None:
            identity, contact = found
            _fill_missing(contact, profile)
            return contact, identity
        external_ref = profile.get("external_ref")
        existing = await repository.find_by_external_ref(session, workspace_id, external_ref) if external_ref else None
        try:
            async with session.begin_nested():
                contact = existing or Contact(workspace_id=workspace_id, attributes={}, external_ref=external_ref)
                _fill_missing(contact, profile)
                session.add(contact)
                await session.flush()
                identity = ContactIdentity(workspace_id=workspace_id, contact_id=contact.id,
                                           channel_account_id=channel_account_id, external_id=external_id)
                session.add(identity)
                await session.flush()
            return contact, identity
        except IntegrityError:
            continue
    raise Conflict("contact identity is being created concurrently; try again", code="identity_race")


async def _identity_with_contact(session: AsyncSession, channel_account_id: int,
                                 external_id: str) -> tuple[ContactIdentity, Contact] | None:
    """The identity and its contact in one statement (this runs for every inbound message)."""
    row = (await session.execute(
        select(ContactIdentity, Contact).join(Contact, Contact.id == ContactIdentity.contact_id)
        .where(ContactIdentity.channel_account_id == channel_account_id, ContactIdentity.external_id == external_id)
    )).first()
    return (row[0], row[1]) if row is not None else None


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


# Fields the brand may set through the API; the rest (ids, timestamps) are ours.
EDITABLE_FIELDS = ("name", "email", "phone", "external_ref", "timezone", "locale", "attributes")


async def require_contact(session: AsyncSession, workspace_id: int, contact_id: int) -> Contact:
    contact = await repository.access_contact(session, workspace_id, contact_id)
    if contact is None:
        raise NotFound(f"no contact {contact_id} in this workspace")
    return contact


async def _claim_external_ref(session: AsyncSession, workspace_id: int, external_ref: str,
                              contact_id: int | None) -> None:
    await repository.lock_contact_refs(session, workspace_id)
    existing = await repository.external_ref_taken(session, workspace_id, external_ref, contact_id)
    if existing is not None:
        raise Conflict(f"contact {existing} already has external_ref {external_ref!r}", code="contact_exists",
                       details={"contact_id": existing})


async def create_contact(session: AsyncSession, *, workspace_id: int, fields: dict[str, Any],
                         actor: Actor) -> Contact:
    """A contact created by the brand (API, import). external_ref is unique per workspace."""
    values = {name: fields[name] for name in EDITABLE_FIELDS if name in fields}
    values["attributes"] = dict(values.get("attributes") or {})
    if values.get("external_ref"):
        await _claim_external_ref(session, workspace_id, values["external_ref"], None)
    now = utcnow()  # one instant, so updated_at is never before created_at
    contact = Contact(workspace_id=workspace_id, created_at=now, updated_at=now, **values)
    session.add(contact)
    await session.flush()
    record_audit(session, workspace_id=workspace_id, actor=actor, action="contact.create", subject_type="contact",
                 subject_id=contact.id, fields=sorted(k for k, v in values.items() if v not in (None, {})))
    return contact


async def update_contact(session: AsyncSession, *, contact: Contact, changes: dict[str, Any], actor: Actor) -> Contact:
    """Partial update: only keys present change; None clears. `attributes` is a JSON merge patch
    (a key set to None is removed), so two systems can each maintain their own keys."""
    changes = {name: changes[name] for name in EDITABLE_FIELDS if name in changes}
    if changes.get("external_ref") and changes["external_ref"] != contact.external_ref:
        await _claim_external_ref(session, contact.workspace_id, changes["external_ref"], contact.id)
    if "attributes" in changes:
        patch = changes.pop("attributes")
        merged = {} if patch is None else dict(contact.attributes or {})
        for key, value in (patch or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        try:
            check_json_object(merged)
        except ValueError as exc:
            raise AppError(f"attributes after the merge: {exc}", code="attributes_invalid",
                           status_code=422) from None
        changes["attributes"] = merged  # a new dict, so the JSON column is seen as changed
    for name, value in changes.items():
        setattr(contact, name, value)
    await session.flush()
    record_audit(session, workspace_id=contact.workspace_id, actor=actor, action="contact.update",
                 subject_type="contact", subject_id=contact.id, fields=sorted(changes))
    return contact
