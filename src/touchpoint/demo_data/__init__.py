"""The demo workspace's assistant content: flows (flows/*.yaml), their intents (intents.yaml), and the
installer that points the flows at the demo brand's own system (touchpoint.demo_brand)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.assistant.flows.service import import_flow
from touchpoint.models import FlowDefinition, Workspace

DATA = Path(__file__).parent
FLOWS_DIR = DATA / "flows"
INTENTS_FILE = DATA / "intents.yaml"
DEMO_FLOWS = ("change_reservation", "pay_bill", "booking_status")


def flow_sources() -> dict[str, str]:
    """name → YAML source of each demo flow."""
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(FLOWS_DIR.glob("*.yaml"))}


async def install_demo_flows(session: AsyncSession, workspace: Workspace, *, brand_url: str) -> list[FlowDefinition]:
    """Import the demo flows into `workspace` and point their actions at `brand_url` (the demo brand's base,
    e.g. http://127.0.0.1:8000/demo-brand). The brand runs on loopback next to us, so the workspace is
    allowed private addresses for its actions. Idempotent: an unchanged flow is not imported twice."""
    settings = dict(workspace.settings or {})
    settings["flows"] = {**(settings.get("flows") or {}), "base_url": brand_url.rstrip("/"),
                         "allow_private_urls": True}
    workspace.settings = settings
    rows = []
    for source in flow_sources().values():
        row, _created = await import_flow(session, workspace_id=workspace.id, source=source)
        rows.append(row)
    await session.flush()
    return rows
