"""The touchpoint command: serve | worker | migrate | demo | channels | apikey."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from touchpoint.cli_assistant import assistant_app
from touchpoint.config import Settings

app = typer.Typer(help="Touchpoint: customer messaging on every channel, with a bot that knows when to "
                  "hand over.", no_args_is_help=True, add_completion=False)
channels_app = typer.Typer(help="Connect and list channel accounts.", no_args_is_help=True)
app.add_typer(channels_app, name="channels")
app.add_typer(assistant_app, name="assistant")
console = Console()
T = TypeVar("T")

HostOpt = Annotated[str | None, typer.Option("--host", help="Interface to listen on (default 127.0.0.1).")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Port to listen on (default 8000).")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Where the SQLite file lives.")]


def _settings(host: str | None = None, port: int | None = None, data_dir: Path | None = None) -> Settings:
    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if data_dir:
        overrides["data_dir"] = data_dir
    try:
        return Settings(**overrides)
    except ValueError as exc:
        console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _serve(settings: Settings, *, dispatch: bool, banner: list[str] | None = None, demo: bool = False) -> None:
    import uvicorn

    from touchpoint.app import create_app

    if dispatch and not settings.is_sqlite:
        console.print("[dim]PostgreSQL: this process dispatches too; add `touchpoint worker` processes to scale.[/dim]")
    application = create_app(settings, run_background=dispatch, demo=demo)
    for line in banner or []:
        console.print(line)
    uvicorn.run(application, host=settings.host, port=settings.port, log_level="info", proxy_headers=True,
                ws_max_size=64 * 1024)


@app.command()
def serve(host: HostOpt = None, port: PortOpt = None, data_dir: DataDirOpt = None,
          no_dispatch: Annotated[bool, typer.Option("--no-dispatch", help="Serve HTTP only; `touchpoint worker` "
                                                   "processes dispatch (PostgreSQL).")] = False) -> None:
    """Run the API, the pages and (unless --no-dispatch) the dispatcher in one process. Applies migrations."""
    _logging()
    settings = _settings(host, port, data_dir)
    if no_dispatch and settings.is_sqlite:
        console.print("[yellow]SQLite has exactly one dispatcher, inside `serve`: --no-dispatch means nothing "
                      "gets sent unless a worker runs against the same file.[/yellow]")
    _serve(settings, dispatch=not no_dispatch)


@app.command()
def worker(data_dir: DataDirOpt = None) -> None:
    """Run the dispatcher, inbound processor and timers only (PostgreSQL deployments; run several)."""
    _logging()
    settings = _settings(data_dir=data_dir)
    asyncio.run(_worker(settings))


async def _worker(settings: Settings) -> None:
    from touchpoint.assistant.engines import EngineRegistry
    from touchpoint.assistant.orchestrator import WorkspaceAssistant
    from touchpoint.background import BackgroundLoops
    from touchpoint.db.migrate import is_current
    from touchpoint.runtime import build_runtime

    runtime = build_runtime(settings)
    if not await is_current(runtime.engine):
        console.print("[red]The database is not migrated: run `touchpoint migrate` first.[/red]")
        await runtime.close()
        raise typer.Exit(1)
    loops = BackgroundLoops(runtime, WorkspaceAssistant(EngineRegistry(settings)))
    loops.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    console.print(f"worker {loops.owner} running; Ctrl-C to stop")
    await stop.wait()
    await loops.stop()
    await runtime.close()


@app.command()
def migrate(data_dir: DataDirOpt = None) -> None:
    """Apply database migrations (serve does this on start)."""
    settings = _settings(data_dir=data_dir)

    async def run() -> None:
        from touchpoint.db.engine import make_engine
        from touchpoint.db.migrate import upgrade

        engine = make_engine(settings)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(run())
    console.print("database is at the latest migration")


@app.command()
def demo(host: HostOpt = None, port: PortOpt = None, data_dir: DataDirOpt = None,
         no_serve: Annotated[bool, typer.Option("--no-serve", help="Create the demo workspace and exit.")] = False
         ) -> None:
    """Create (once) the Harbour Stays demo workspace and serve it."""
    _logging()
    settings = _settings(host, port, data_dir)
    info = asyncio.run(_ensure_demo(settings))
    base = f"http://{settings.host}:{settings.port}"
    banner = [
        "",
        f"[bold]Touchpoint demo: Harbour Stays[/bold] ({'created' if info.created else 'already there'})",
        f"  Chat as a customer:  {base}/demo",
        f"  Agent inbox:         {base}/inbox",
        f"  Log in as:           {info.login_email} / {info.password}",
        f"  API docs:            {base}/docs",
        "",
    ]
    if no_serve:
        for line in banner:
            console.print(line)
        return
    _serve(settings, dispatch=True, banner=banner, demo=True)


def _local_base(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


async def _ensure_demo(settings: Settings) -> Any:
    """Create the demo. Its assistant model trains in the background once a server runs (the chat answers by
    words until it is ready), or at once with `touchpoint assistant train`."""
    from touchpoint.db.migrate import upgrade
    from touchpoint.demo import ensure_demo
    from touchpoint.runtime import build_runtime

    runtime = build_runtime(settings)
    try:
        await upgrade(runtime.engine)
        async with runtime.transaction() as session:
            info = await ensure_demo(session, runtime.box, brand_url=f"{_local_base(settings)}/demo-brand")
        return info
    finally:
        await runtime.close()


WorkspaceOpt = Annotated[str, typer.Option(help="Workspace slug.")]


def _in_workspace(settings: Settings, slug: str, work: Callable[[Any, Any, Any], Awaitable[T]]) -> T:
    """Run `work(runtime, session, workspace)` in one transaction; a missing workspace or an AppError
    ends the command with a message and a non-zero exit code instead of a traceback."""
    from touchpoint.kit.errors import AppError
    from touchpoint.runtime import build_runtime
    from touchpoint.workspaces import repository

    async def run() -> T:
        runtime = build_runtime(settings)
        try:
            async with runtime.transaction() as session:
                workspace = await repository.workspace_by_slug(session, slug)
                if workspace is None:
                    console.print(f"[red]no workspace {slug!r}[/red] (create the demo with `touchpoint demo`)")
                    raise typer.Exit(1)
                try:
                    return await work(runtime, session, workspace)
                except AppError as exc:
                    console.print(f"[red]{exc.message}[/red]")
                    raise typer.Exit(2) from exc
        finally:
            await runtime.close()

    return asyncio.run(run())


def _pairs(items: list[str] | None) -> dict[str, str]:
    result = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            console.print(f"[red]expected KEY=VALUE, got {item!r}[/red]")
            raise typer.Exit(2)
        result[key] = value
    return result


@channels_app.command("list")
def channels_list(workspace: WorkspaceOpt = "harbour-stays") -> None:
    """List a workspace's channel accounts with their webhook paths."""
    from touchpoint.workspaces import repository

    async def work(_runtime: Any, session: Any, ws: Any) -> list[dict[str, Any]]:
        return [{"id": a.id, "channel": a.channel, "name": a.name, "webhook": f"/webhooks/{a.channel}/{a.key}"}
                for a in await repository.accounts_of(session, ws.id)]

    console.print_json(json.dumps(_in_workspace(_settings(), workspace, work)))


@channels_app.command("add")
def channels_add(
    channel: Annotated[str, typer.Argument(help="Channel kind, e.g. api or webchat.")],
    name: Annotated[str, typer.Option(help="A name agents will recognise.")],
    workspace: WorkspaceOpt = "harbour-stays",
    credential: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, stored encrypted. Repeatable.")] = None,
    setting: Annotated[list[str] | None, typer.Option(help="KEY=VALUE, plain settings. Repeatable.")] = None,
) -> None:
    """Connect a channel account; prints its webhook path."""
    from touchpoint.workspaces import service

    credentials, plain = _pairs(credential), _pairs(setting)

    async def work(runtime: Any, session: Any, ws: Any) -> str:
        account = await service.add_channel_account(session, runtime.box, workspace=ws, channel=channel, name=name,
                                                    credentials=credentials, settings=plain)
        return f"/webhooks/{account.channel}/{account.key}"

    console.print(_in_workspace(_settings(), workspace, work))


@app.command("apikey")
def apikey(name: Annotated[str, typer.Option(help="What the key is for.")],
           workspace: WorkspaceOpt = "harbour-stays") -> None:
    """Create an API key for /api/v1. It is shown once; only its hash is stored."""
    from touchpoint.workspaces import service

    async def work(_runtime: Any, session: Any, ws: Any) -> str:
        _, plaintext = await service.create_api_key(session, workspace=ws, name=name)
        return plaintext

    console.print(_in_workspace(_settings(), workspace, work))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
