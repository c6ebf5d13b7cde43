"""Command-line tools for the bot's offline NLU (mounted by the main CLI as ``kefu nlu``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

nlu_app = typer.Typer(help="NLU training and evaluation.", no_args_is_help=True)

_ROWS = (
    ("accuracy", "Accuracy", "pct"),
    ("macro_f1", "Macro F1", "pct"),
    ("in_scope_accuracy", "In-scope accuracy", "pct"),
    ("oos_recall", "OOS recall", "pct"),
    ("oos_precision", "OOS precision", "pct"),
    ("p50_ms", "Latency p50 (ms)", "ms"),
    ("p95_ms", "Latency p95 (ms)", "ms"),
    ("n_train", "Training examples", "int"),
    ("n_test", "Test examples", "int"),
    ("fit_seconds", "Fit time (s)", "ms"),
    ("threshold", "OOS threshold", "ms"),
)


@nlu_app.callback()
def _nlu() -> None:
    """NLU training and evaluation."""


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "pct":
        return f"{100.0 * float(value):.2f}%"
    if kind == "int":
        return str(int(value))
    return f"{float(value):.3f}"


@nlu_app.command("eval")
def eval_command(
    train: Annotated[list[Path], typer.Option("--train", help="Training CSV (text,label); repeatable.")],
    test: Annotated[list[Path], typer.Option("--test", help="Test CSV (text,label); repeatable.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
) -> None:
    """Train the default intent model on --train and report accuracy, OOS and latency metrics on --test."""
    from kefu.bot.nlu.evaluate import evaluate

    for path in [*train, *test]:
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {path}")
    try:
        result = evaluate(train, test)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
        return
    width = max(len(label) for _, label, _ in _ROWS)
    for key, label, kind in _ROWS:
        typer.echo(f"{label:<{width}}  {_fmt(result.get(key), kind)}")
