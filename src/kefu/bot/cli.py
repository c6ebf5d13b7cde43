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
    from kefu.bot.engine import encoder_from_settings
    from kefu.bot.nlu.model import IntentModel

    encoder = encoder_from_settings()  # KEFU_NLU_ENCODER, as for the live bot
    try:
        result = evaluate(train, test, model=IntentModel(encoder=encoder) if encoder is not None else None)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
        return
    width = max(len(label) for _, label, _ in _ROWS)
    for key, label, kind in _ROWS:
        typer.echo(f"{label:<{width}}  {_fmt(result.get(key), kind)}")


bot_app = typer.Typer(help="Bot evaluation through the live dialogue engine.", no_args_is_help=True)

_BOT_ROWS = (
    ("answered_right", "Answered right"),
    ("answered_wrong", "Answered wrong"),
    ("clarify_reachable", "Options incl. right FAQ"),
    ("clarify_unreachable", "Options without it"),
    ("fallback", "Fallback"),
    ("handoff", "Handoff"),
    ("smalltalk", "Small-talk reply"),
)


@bot_app.callback()
def _bot() -> None:
    """Bot evaluation through the live dialogue engine."""


@bot_app.command("eval")
def bot_eval_command(
    kb: Annotated[Path, typer.Option("--kb", help="KB: kb export CSV/JSON, or CSV id,question,answer[,locale].")],
    test: Annotated[Path, typer.Option("--test", help="Test CSV text,label (label = KB id, or oos/chitchat).")],
    locale: Annotated[str, typer.Option("--locale", help="The temporary brand's default locale.")] = "zh-TW",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
) -> None:
    """Load a KB into a temporary brand and send every test question through the API channel to the live bot."""
    from kefu.bot.evaluation import read_kb, read_tests, run_eval

    for path in (kb, test):
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {path}")
    try:
        result = run_eval(read_kb(kb), read_tests(test), brand_locale=locale).as_dict()
    except (ValueError, KeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
        return
    typer.echo(f"{'Questions':<26}{result['n']} ({result['n_answerable']} answerable, {result['n_no_answer']} oos)")
    for key, label in _BOT_ROWS:
        rate = result.get(f"{key}_rate")
        typer.echo(f"{label:<26}{result[key]:>6}" + (f"  {100 * rate:6.2f}%" if rate is not None else ""))
    if "reachable_rate" in result:
        typer.echo(f"{'Right FAQ reachable':<26}{'':>6}  {100 * result['reachable_rate']:6.2f}%")
    if "chitchat_answered_rate" in result:
        typer.echo(
            f"{'Chit-chat answered w/ FAQ':<26}{result['chitchat_answered']:>6}"
            f"  {100 * result['chitchat_answered_rate']:6.2f}%"
        )
    typer.echo(f"{'Latency p50 / p95 (ms)':<26}{result['p50_ms']:.1f} / {result['p95_ms']:.1f}")
    typer.echo(f"{'Index build (s)':<26}{result['build_seconds']:.2f}")
    typer.echo(f"{'Peak RSS (MB)':<26}{result['peak_rss_mb']:.0f}")
