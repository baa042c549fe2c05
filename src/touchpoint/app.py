"""create_app(): settings, runtime (engine, hub, HTTP client), routers, and in embedded mode the
background loops (inbound processing, dispatcher, timers) inside the web process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from touchpoint import __version__
from touchpoint.assistant.base import Assistant
from touchpoint.background import BackgroundLoops
from touchpoint.config import Settings
from touchpoint.db.migrate import upgrade
from touchpoint.kit.errors import AppError
from touchpoint.kit.log_thread import LogWriter
from touchpoint.kit.memory import settle_heap
from touchpoint.metrics import Metrics
from touchpoint.runtime import build_runtime

log = logging.getLogger(__name__)
WEB = Path(__file__).parent / "web"


def create_app(settings: Settings | None = None, *, run_background: bool = True, migrate: bool = True,
               assistant: Assistant | None = None, demo: bool = False) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(settings)
        app.state.runtime = runtime
        if migrate:
            await upgrade(runtime.engine)
        loops = None
        if run_background:
            loops = BackgroundLoops(runtime, app.state.assistant)
            loops.start()
        settle_heap()
        log_writer = LogWriter.start()
        try:
            yield
        finally:
            if loops is not None:
                await loops.stop()
            await runtime.close()
            log_writer.stop()

    # /docs is served from vendored Swagger UI files: nothing is fetched from a CDN at run time.
    app = FastAPI(title="Touchpoint", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json")
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.assistant = assistant or _default_assistant(settings)
    app.state.run_background = run_background
    _install_error_handlers(app)
    _include_routers(app, demo=demo)
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Touchpoint API",
                                   swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png")

    return app


def _default_assistant(settings: Settings) -> Assistant:
    from touchpoint.assistant.engines import EngineRegistry
    from touchpoint.assistant.orchestrator import WorkspaceAssistant

    return WorkspaceAssistant(EngineRegistry(settings))


def _include_routers(app: FastAPI, *, demo: bool = False) -> None:
    from touchpoint import health
    from touchpoint.api import router as api_router
    from touchpoint.assistant.flows import api as flows_api
    from touchpoint.inbox import pages as inbox_pages
    from touchpoint.webhooks import api as webhooks
    from touchpoint.widget import api as widget_api

    app.include_router(health.router)
    app.include_router(webhooks.router)
    app.include_router(widget_api.router)
    app.include_router(api_router.router)
    app.include_router(flows_api.router)
    if demo:
        # Harbour Stays' own booking and billing system, which the demo workspace's flows call.
        from touchpoint import demo_brand

        app.include_router(demo_brand.router)
    app.include_router(inbox_pages.router)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"error": {"code": "validation_error", "message": "request is not valid",
                                       "details": details}}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}.get(
            exc.status_code, "http_error")
        return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse({"error": {"code": "internal_error", "message": "something went wrong; it was logged"}},
                            status_code=500)
