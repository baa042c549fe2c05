"""The widget's routes are called from brands' sites (cross-origin), so every answer, errors included,
carries CORS headers, and every outcome is counted in app.state.metrics.widget.

CORS allows any origin here on purpose: the widget authenticates with a Bearer token, never a cookie, so
a browser on another site gains nothing; the workspace's Origin allow-list is enforced by the endpoints
(guards.check_origin), which answer 403 with a readable reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.requests import Request
from starlette.responses import Response

from touchpoint.kit.errors import AppError

log = logging.getLogger(__name__)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Expose-Headers": "Retry-After",
    "Access-Control-Max-Age": "600",
}
RESULT_KEY = "widget_result"


def count(request: Request, kind: str, result: str) -> None:
    request.app.state.metrics.widget.labels(kind, result).inc()


def set_result(request: Request, result: str) -> None:
    """An endpoint names its success ("ok", "duplicate"...); refusals are named by their error code."""
    setattr(request.state, RESULT_KEY, result)


def error_response(exc: AppError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=getattr(exc, "headers", None))


class WidgetRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        kind = self.name

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
                result = getattr(request.state, RESULT_KEY, "ok")
            except AppError as exc:
                response, result = error_response(exc), exc.code
            except RequestValidationError as exc:
                details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
                response = JSONResponse({"error": {"code": "validation_error", "message": "request is not valid",
                                                   "details": details}}, status_code=422)
                result = "validation_error"
            except (OperationalError, DBAPIError) as exc:
                # Nothing was stored: the widget keeps the message as "not sent" and retries.
                log.warning("widget %s: database unavailable (%s)", kind, exc.__class__.__name__)
                response = JSONResponse({"error": {"code": "unavailable", "message": "storage is busy, retry "
                                                   "shortly"}}, status_code=503, headers={"Retry-After": "2"})
                result = "unavailable"
            response.headers.update(CORS_HEADERS)
            count(request, kind, result)
            return response

        return handle
