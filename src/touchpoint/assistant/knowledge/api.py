"""/api/v1/knowledge: the knowledge base the bot answers from — entries, publishing, bulk import, and a search to
try retrieval the way the bot does it."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.routing import APIRoute

from touchpoint.api.deps import ApiRoute, ApiWorkspace, RuntimeDep
from touchpoint.api.schemas import ErrorResponse, error_responses
from touchpoint.assistant.knowledge import import_io, repository, service
from touchpoint.assistant.knowledge.retrieval import threshold
from touchpoint.assistant.knowledge.schemas import (
    MAX_QUERY_CHARS,
    EntryIn,
    EntryOut,
    EntryPage,
    EntryUpdate,
    HitOut,
    ImportOut,
    Kind,
    Language,
    SearchOut,
)
from touchpoint.contacts.schemas import MAX_ID, StorableStr
from touchpoint.kit.body import read_capped

log = logging.getLogger(__name__)
router = APIRouter(prefix="/knowledge", tags=["knowledge"], route_class=ApiRoute)
EntryId = Annotated[int, Path(ge=1, le=MAX_ID, description="Knowledge entry id.", examples=[3])]


async def _encoder() -> Any:
    """The bundled sentence encoder (loaded once per process, off the event loop), or None: search by words."""
    try:
        from touchpoint.assistant.nlu.engine import shared_encoder
    except ImportError:
        return None
    try:
        return await asyncio.to_thread(shared_encoder)
    except Exception:  # ModelLoadError: a broken install answers by words, and says so in `mode`
        log.exception("the sentence encoder cannot be loaded; knowledge search runs on words only")
        return None


@router.get("/search", response_model=SearchOut, summary="Try retrieval",
            description="What the bot would answer `q` with (`answer`, or null when it would not guess) and the best "
                        "matches with their scores. Only published entries are searched.")
async def search_knowledge(
    caller: ApiWorkspace, runtime: RuntimeDep,
    q: Annotated[StorableStr, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="A customer message.",
                                    examples=["can I bring my dog?"])],
    limit: Annotated[int, Query(ge=1, le=20, description="How many matches to show.")] = 3,
    language: Annotated[Language | None, Query(description="The message's language.")] = None,
) -> SearchOut:
    encoder = await _encoder()
    async with runtime.sessionmaker() as session:
        hits = await service.search(session, caller.workspace_id, q, limit=limit, encoder=encoder, language=language)
    semantic = bool(hits) and hits[0].semantic is not None
    best = hits[0] if hits and hits[0].score >= threshold(semantic) else None
    as_out = [HitOut.model_validate(hit, from_attributes=True) for hit in hits]
    return SearchOut(query=q, mode="hybrid" if semantic or (encoder is not None and not hits) else "words",
                     threshold=threshold(semantic), answer=as_out[0] if best else None, hits=as_out)


@router.get("", response_model=EntryPage, summary="List entries",
            description="Entries in id order, published or not. Page with `after` = the previous page's "
                        "`next_after`.")
async def list_entries(
    caller: ApiWorkspace, runtime: RuntimeDep,
    kind: Annotated[Kind | None, Query(description="faq or article.")] = None,
    published: Annotated[bool | None, Query(description="Only published (true) or drafts (false).")] = None,
    query: Annotated[StorableStr | None, Query(max_length=200, description="Substring of the question/title or "
                                                                          "keywords.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size, at most 200.")] = 50,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Cursor: `next_after` of the previous page.")]
    = None,
) -> EntryPage:
    async with runtime.sessionmaker() as session:
        rows = await repository.list_entries(session, caller.workspace_id, limit=limit + 1, after_id=after,
                                             kind=kind, published=published, query=query or None)
    page = [EntryOut.of(row) for row in rows[:limit]]
    return EntryPage(data=page, next_after=page[-1].id if len(rows) > limit else None)


@router.post("", status_code=201, response_model=EntryOut, summary="Create an entry",
             description="An FAQ entry needs `question` and `answer`; an article needs `question` (its title) and "
                         "`body`, and may have a short `answer`. Published unless `published` is false.")
async def create_entry(body: EntryIn, caller: ApiWorkspace, runtime: RuntimeDep) -> EntryOut:
    async with runtime.transaction() as session:
        entry = await service.create_entry(session, workspace_id=caller.workspace_id, fields=body, actor=caller.actor)
        return EntryOut.of(entry)


async def _import(request: Request, caller: ApiWorkspace, runtime: RuntimeDep,
                  replace: Annotated[bool, Query(description="Delete the entries the file does not have.")] = False,
                  ) -> ImportOut:
    body = await read_capped(request, import_io.MAX_IMPORT_BYTES)
    entries = import_io.parse_import(body, request.headers.get("content-type", ""))
    async with runtime.transaction() as session:
        result = await service.import_entries(session, workspace_id=caller.workspace_id, entries=entries,
                                              replace=replace, actor=caller.actor)
    return ImportOut(created=result.created, updated=result.updated, unchanged=result.unchanged,
                     deleted=result.deleted)


# Its own route class: the file may be larger than the JSON body cap of the other routes.
router.add_api_route(
    "/import", _import, methods=["PUT"], response_model=ImportOut, route_class_override=APIRoute,
    summary="Import entries from YAML or CSV",
    responses={**error_responses(413, 422), 415: {"model": ErrorResponse, "description": "Neither YAML nor CSV "
                                                  "(`unsupported_media_type`)."}},
    description="`Content-Type: application/yaml` or `text/csv` (see docs/knowledge.md for the format). An entry "
                "with the same kind, question and language as an existing one updates it; others are created. "
                "Any error is a 422 naming the line and the reason, and nothing is imported.",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/yaml": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}}}}})


@router.get("/{entry_id}", response_model=EntryOut, summary="Get an entry", responses=error_responses(404))
async def get_entry(entry_id: EntryId, caller: ApiWorkspace, runtime: RuntimeDep) -> EntryOut:
    async with runtime.sessionmaker() as session:
        return EntryOut.of(await service.require_entry(session, caller.workspace_id, entry_id))


@router.patch("/{entry_id}", response_model=EntryOut, summary="Update an entry", responses=error_responses(404),
              description="Only the fields you send change; null clears an optional one. The result must still be "
                          "a valid FAQ entry or article (422 `invalid_entry`).")
async def update_entry(entry_id: EntryId, body: EntryUpdate, caller: ApiWorkspace, runtime: RuntimeDep) -> EntryOut:
    async with runtime.transaction() as session:
        entry = await service.require_entry(session, caller.workspace_id, entry_id)
        await service.update_entry(session, entry=entry, changes=body.model_dump(exclude_unset=True),
                                   actor=caller.actor)
        return EntryOut.of(entry)


@router.post("/{entry_id}/publish", response_model=EntryOut, summary="Publish an entry",
             responses=error_responses(404), description="The bot may answer from it.")
async def publish_entry(entry_id: EntryId, caller: ApiWorkspace, runtime: RuntimeDep) -> EntryOut:
    return await _set_published(entry_id, True, caller, runtime)


@router.post("/{entry_id}/unpublish", response_model=EntryOut, summary="Unpublish an entry",
             responses=error_responses(404), description="Kept as a draft; the bot no longer answers from it.")
async def unpublish_entry(entry_id: EntryId, caller: ApiWorkspace, runtime: RuntimeDep) -> EntryOut:
    return await _set_published(entry_id, False, caller, runtime)


async def _set_published(entry_id: int, published: bool, caller: ApiWorkspace, runtime: RuntimeDep) -> EntryOut:
    async with runtime.transaction() as session:
        entry = await service.require_entry(session, caller.workspace_id, entry_id)
        await service.set_published(session, entry=entry, published=published, actor=caller.actor)
        return EntryOut.of(entry)


@router.delete("/{entry_id}", status_code=204, response_class=Response, summary="Delete an entry",
               responses=error_responses(404))
async def delete_entry(entry_id: EntryId, caller: ApiWorkspace, runtime: RuntimeDep) -> Response:
    async with runtime.transaction() as session:
        entry = await service.require_entry(session, caller.workspace_id, entry_id)
        await service.delete_entry(session, entry=entry, actor=caller.actor)
    return Response(status_code=204)
