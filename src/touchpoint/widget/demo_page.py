"""GET /demo: a page of the demo brand (Harbour Stays) with the chat embedded the way a brand does it,
with one script tag. The page itself is static; the chat works once `touchpoint demo` (or the test
harness) has created the demo workspace and its "demo-widget" account."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from touchpoint.demo import WIDGET_KEY

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "web" / "templates"))
router = APIRouter(include_in_schema=False)


@router.get("/demo", response_class=HTMLResponse)
async def demo(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    return TEMPLATES.TemplateResponse(request, "demo.html", {
        "widget_src": f"{root}/static/widget.js", "account_key": WIDGET_KEY,
    })
