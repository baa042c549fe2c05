"""/healthz (the process answers), /readyz (database, migrations, background loops), /metrics."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from touchpoint.db.migrate import is_current
from touchpoint.kit.clock import utcnow
from touchpoint.models import InboundEvent, Message, OutboxItem

router = APIRouter(tags=["operations"])


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    return RedirectResponse("/inbox", status_code=303)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    checks: dict[str, str] = {}
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = "ok" if await is_current(runtime.engine) else "pending"
    except Exception as exc:
        checks["database"] = f"unreachable: {exc.__class__.__name__}"
    loops = runtime.state.get("loops")
    if request.app.state.run_background:
        checks["dispatcher"] = "ok" if loops is not None and loops.alive() else "stalled"
    else:
        checks["dispatcher"] = "external"
    ready = all(v in ("ok", "external") for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    runtime = request.app.state.runtime
    m = request.app.state.metrics
    now = utcnow()
    async with runtime.sessionmaker() as session:
        by_status = select(Message.direction, Message.status, func.count()).group_by(Message.direction,
                                                                                     Message.status)
        for direction, status, count in (await session.execute(by_status)).all():
            m.messages.labels(direction, status).set(count)
        for model, gauge, lag in ((OutboxItem, m.outbox_depth, m.dispatch_lag),
                                  (InboundEvent, m.inbound_depth, m.inbound_lag)):
            for status in ("pending", "leased"):
                gauge.labels(status).set(0)
            for status, count in (await session.execute(
                    select(model.status, func.count()).where(model.status.in_(("pending", "leased")))
                    .group_by(model.status))).all():
                gauge.labels(status).set(count)
            oldest = (await session.execute(
                select(func.min(model.available_at)).where(model.status == "pending",
                                                           model.available_at <= now))).scalar()
            lag.set(max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        failed = (await session.execute(
            select(func.count()).select_from(InboundEvent).where(InboundEvent.status == "failed",
                                                                 InboundEvent.created_at > now - timedelta(days=7))
        )).scalar()
        m.failed_events.set(failed or 0)
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
