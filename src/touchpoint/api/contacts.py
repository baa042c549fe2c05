"""/api/v1/contacts: create, update, read and search contacts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from touchpoint.api.deps import ApiRoute, ApiWorkspace, ContactId, RuntimeDep
from touchpoint.api.schemas import error_responses
from touchpoint.contacts import repository
from touchpoint.contacts import service as contacts
from touchpoint.contacts.schemas import (
    MAX_ID,
    ConsentOut,
    ContactCreate,
    ContactDetail,
    ContactOut,
    ContactPage,
    ContactUpdate,
    IdentityOut,
    StorableStr,
)

router = APIRouter(prefix="/contacts", tags=["contacts"], route_class=ApiRoute)


@router.post("", status_code=201, response_model=ContactOut, summary="Create a contact",
             responses=error_responses(409),
             description="`external_ref` is your own id for the person and is unique in the workspace: "
                         "creating a second contact with it answers 409 `contact_exists` with the existing "
                         "contact's id in `details.contact_id`.")
async def create_contact(body: ContactCreate, caller: ApiWorkspace, runtime: RuntimeDep) -> ContactOut:
    async with runtime.transaction() as session:
        contact = await contacts.create_contact(session, workspace_id=caller.workspace_id,
                                                fields=body.model_dump(exclude_unset=True), actor=caller.actor)
    return ContactOut.model_validate(contact)


@router.patch("/{contact_id}", response_model=ContactOut, summary="Update a contact",
              responses=error_responses(404, 409),
              description="Only the fields you send change; null clears one. `attributes` is merged key by "
                          "key (a key set to null is removed).")
async def update_contact(contact_id: ContactId, body: ContactUpdate, caller: ApiWorkspace,
                         runtime: RuntimeDep) -> ContactOut:
    async with runtime.transaction() as session:
        contact = await contacts.require_contact(session, caller.workspace_id, contact_id)
        await contacts.update_contact(session, contact=contact, changes=body.model_dump(exclude_unset=True),
                                      actor=caller.actor)
    return ContactOut.model_validate(contact)


@router.get("/{contact_id}", response_model=ContactDetail, summary="Get a contact",
            responses=error_responses(404),
            description="With the contact's channel identities and, for each (topic, channel), the consent "
                        "record in force (the most recent one).")
async def get_contact(contact_id: ContactId, caller: ApiWorkspace, runtime: RuntimeDep) -> ContactDetail:
    async with runtime.transaction() as session:
        contact = await contacts.require_contact(session, caller.workspace_id, contact_id)
        identities = await repository.identities_with_channels(session, contact.id)
        consents = await repository.consents_in_force(session, contact.id)
    return ContactDetail(
        **ContactOut.model_validate(contact).model_dump(),
        identities=[IdentityOut(id=i.id, channel_account_id=i.channel_account_id, channel=channel,
                                external_id=i.external_id, reachable=i.reachable, created_at=i.created_at)
                    for i, channel in identities],
        consents=[ConsentOut(topic=c.topic, channel=c.channel, granted=c.granted, source=c.source,
                             evidence=c.evidence, recorded_at=c.created_at) for c in consents])


@router.get("", response_model=ContactPage, summary="List and search contacts",
            description="Contacts in id order. `query` matches name, email, phone or external_ref "
                        "(case-insensitive substring). Page with `after` = the previous page's `next_after`.")
async def list_contacts(
    caller: ApiWorkspace, runtime: RuntimeDep,
    query: Annotated[StorableStr | None, Query(max_length=200, description="Text to search for.",
                                               examples=["silva"])] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size, at most 200.")] = 50,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Cursor: `next_after` of the previous page.")]
    = None,
) -> ContactPage:
    async with runtime.transaction() as session:
        rows = await repository.search_contacts(session, caller.workspace_id, query=query or None,
                                                limit=limit + 1, after_id=after)
    page = [ContactOut.model_validate(row) for row in rows[:limit]]
    return ContactPage(data=page, next_after=page[-1].id if len(rows) > limit else None)
