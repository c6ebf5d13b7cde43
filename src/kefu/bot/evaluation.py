"""End-to-end bot evaluation: a KB in a temporary brand, every test question sent through the API channel.

Each question is a webhook on an API-channel inbox of a fresh brand in a temporary SQLite database, from its own
customer: the same code a live message runs (inbound event → message → ``bot.handle_message`` job → reply).
The reply's ``meta`` says what the bot did; comparing it with the label gives the outcome counts.

KB files: CSV with ``id,question,answer`` (optional ``locale``; one row per phrasing, rows sharing an id are one
FAQ) or JSON ``[{"id", "questions": [...], "answer", "locale"?}]``. Test CSV: ``text,label`` where the label is
a KB id, or ``oos`` / ``chitchat`` / ``smalltalk`` for messages no FAQ should answer.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import resource
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kefu.core.commands import build
from kefu.knowledge.commands import CreateFaq

NO_ANSWER_LABELS = frozenset({"oos", "chitchat", "smalltalk", "chit-chat", "none", ""})
OUTCOMES = (
    "answered_right",
    "answered_wrong",
    "clarify_reachable",
    "clarify_unreachable",
    "fallback",
    "handoff",
    "smalltalk",
)


@dataclass
class KbFaq:
    """One FAQ of an evaluation KB."""

    id: str
    questions: list[str]
    answer: str
    locale: str = "zh-TW"


@dataclass
class EvalResult:
    """Outcome counts and rates, latency, build time and memory."""

    counts: dict[str, int] = field(default_factory=dict)
    n: int = 0
    n_answerable: int = 0
    n_no_answer: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    build_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Counts plus rates: answerable outcomes over answerable rows; chit-chat answered over no-answer rows."""
        out: dict[str, Any] = {"n": self.n, "n_answerable": self.n_answerable, "n_no_answer": self.n_no_answer}
        out.update({k: self.counts.get(k, 0) for k in OUTCOMES})
        out["chitchat_answered"] = self.counts.get("chitchat_answered", 0)
        if self.n_answerable:
            for k in OUTCOMES:
                out[f"{k}_rate"] = round(self.counts.get(f"a:{k}", 0) / self.n_answerable, 4)
            out["reachable_rate"] = round(
                (self.counts.get("a:answered_right", 0) + self.counts.get("a:clarify_reachable", 0))
                / self.n_answerable,
                4,
            )
        if self.n_no_answer:
            out["chitchat_answered_rate"] = round(self.counts.get("chitchat_answered", 0) / self.n_no_answer, 4)
        out.update(
            p50_ms=round(self.p50_ms, 2),
            p95_ms=round(self.p95_ms, 2),
            build_seconds=round(self.build_seconds, 2),
            peak_rss_mb=round(self.peak_rss_mb, 1),
        )
        return out


def read_kb(path: Path) -> list[KbFaq]:
    """A KB file: the bulk-import format (``kefu kb export``: CSV ``id,locale,category,question,alternatives,answer,
    format,published`` or JSON ``{"faqs": [...]}``), or the short one (CSV ``id,question,answer[,locale]`` with one
    row per phrasing, JSON ``[{id, questions, answer, locale?}]``). Rows sharing id and locale are one FAQ; every
    phrasing counts (question plus alternatives); unpublished rows are left out, as the live bot leaves them out."""
    from kefu.core.errors import ProblemError
    from kefu.knowledge.bulk import _as_list, _published, detect_format, read_records

    data = path.read_bytes()
    try:
        records = read_records(data, detect_format(path.name, data))
    except ProblemError as exc:
        raise ValueError(exc.detail) from exc
    faqs: dict[str, KbFaq] = {}
    for row in records:
        key = str(row.get("id") if row.get("id") is not None else row.get("external_id") or "").strip()
        if not key or row.get("__invalid__") or _published(row.get("published", row.get("is_published"))) is False:
            continue
        locale = str(row.get("locale") or "zh-TW").strip() or "zh-TW"
        faq = faqs.setdefault(f"{key}\0{locale}", KbFaq(key, [], "", locale))
        question = str(row.get("question") or "").strip()
        for q in ([question] if question else []) + _as_list(row.get("alternatives", row.get("questions")), path=False):
            if q not in faq.questions:
                faq.questions.append(q)
        if not faq.answer and row.get("answer"):
            faq.answer = str(row["answer"])
    return [f for f in faqs.values() if f.questions]


def read_tests(path: Path) -> list[tuple[str, str]]:
    """(text, label) rows of a test CSV."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"text", "label"} <= set(reader.fieldnames or []):
            raise ValueError("test CSV needs columns text,label")
        return [(r["text"], (r["label"] or "").strip()) for r in reader if (r["text"] or "").strip()]


@contextlib.contextmanager
def _temporary_runtime(data_dir: Path, url: str) -> Iterator[Any]:
    """A runtime wired to a temporary SQLite database and data dir (the caller's is reinstalled afterwards)."""
    from kefu.bootstrap import wire
    from kefu.bot.engine import IndexRegistry, dense_stage
    from kefu.core import runtime
    from kefu.core.config import get_settings
    from kefu.core.db import DATABASE
    from kefu.core.events import MemoryBus
    from kefu.core.jobs import MemoryJobQueue
    from kefu.core.migrate import upgrade

    settings = get_settings().model_copy(update={"data_dir": data_dir, "database_url": url})
    upgrade(url)
    queue = MemoryJobQueue(max_attempts=1)  # a worker thread, as in `kefu serve`
    previous = runtime.current()
    wired = wire(
        settings,
        bus=MemoryBus(),
        queue=queue,
        index_registry=IndexRegistry(
            background=False, check_interval=3600.0, store_dir=data_dir / "bot-index", dense=dense_stage(settings)
        ),
    )
    try:
        yield wired
    finally:
        queue.stop()
        runtime.install(previous)
        wired.get(DATABASE).dispose()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_eval(
    kb: Sequence[KbFaq], tests: Sequence[tuple[str, str]], *, brand_locale: str = "zh-TW", keep_rows: bool = False
) -> EvalResult:
    """Load ``kb`` into a temporary brand and send every test question through the API channel."""
    kefu_log = logging.getLogger("kefu")
    saved_level = kefu_log.level
    kefu_log.setLevel(logging.CRITICAL)  # dead-lettered replies (no callback URL) are expected
    try:
        return _run_eval(kb, tests, brand_locale=brand_locale, keep_rows=keep_rows)
    finally:
        kefu_log.setLevel(saved_level)  # the caller's logging (and a test run's) is left as it was


def _run_eval(
    kb: Sequence[KbFaq], tests: Sequence[tuple[str, str]], *, brand_locale: str, keep_rows: bool
) -> EvalResult:
    from kefu.bot.engine import INDEX_REGISTRY
    from kefu.brands.service import create_brand, create_inbox
    from kefu.channels.service import receive_webhook
    from kefu.conversations.models import Conversation, Message
    from kefu.core.db import DATABASE
    from kefu.core.jobs import QUEUE, MemoryJobQueue
    from kefu.customers.models import CustomerIdentity
    from kefu.knowledge.service import create_faq

    result = EvalResult()
    with (
        tempfile.TemporaryDirectory(prefix="kefu-bot-eval-") as tmp,
        _temporary_runtime(Path(tmp), f"sqlite:///{Path(tmp) / 'eval.db'}") as wired,
    ):
        database = wired.get(DATABASE)
        queue = wired.get(QUEUE)
        assert isinstance(queue, MemoryJobQueue)
        secret = "bot-eval-secret"  # noqa: S105 - a throwaway inbox in a temporary database
        with database.session() as s:
            brand = create_brand(s, slug="bot-eval", name="Bot eval", default_locale=brand_locale)
            inbox = create_inbox(
                s, brand, kind="api", name="eval", config={"secret": secret, "initial_status": "bot"}, actor=None
            )
            brand_id, inbox_id = brand.id, inbox.id
            faq_ext: dict[int, str] = {}
            for faq in kb:
                row = create_faq(
                    s,
                    None,
                    build(
                        CreateFaq,
                        {
                            "brand_id": brand_id,
                            "locale": faq.locale,
                            "external_id": faq.id,
                            "questions": faq.questions,
                            "answer": faq.answer or faq.id,
                            "is_published": True,
                        },
                    ),
                )
                faq_ext[row.id] = faq.id
        started = time.perf_counter()
        wired.get(INDEX_REGISTRY).build(brand_id, database.sessionmaker)
        result.build_seconds = time.perf_counter() - started
        latencies: list[float] = []
        headers = {"authorization": f"Bearer {secret}"}
        for i, (text, label) in enumerate(tests):
            body = json.dumps({"id": f"q{i}", "user": {"id": f"u{i}"}, "text": text}, ensure_ascii=False).encode()
            t0 = time.perf_counter()
            with database.session() as s:
                receive_webhook(s, inbox_id, "api", body, headers)
            queue.drain(timeout=60.0)  # inbound processing, the bot job and the reply ran on the worker thread
            latencies.append((time.perf_counter() - t0) * 1000.0)
            with database.session() as s:
                conv_id = s.scalar(
                    select(Conversation.id)
                    .join(CustomerIdentity, CustomerIdentity.customer_id == Conversation.customer_id)
                    .where(Conversation.brand_id == brand_id, CustomerIdentity.external_id == f"u{i}")
                    .limit(1)
                )
                reply = s.scalar(
                    select(Message)
                    .where(Message.conversation_id == conv_id, Message.sender_type == "bot")
                    .order_by(Message.id)
                    .limit(1)
                )
                meta = dict(reply.meta or {}) if reply is not None else {}
            outcome, detail = _outcome(meta, label, faq_ext)
            result.n += 1
            no_answer = label.lower() in NO_ANSWER_LABELS
            if no_answer:
                result.n_no_answer += 1
                if outcome in ("answered_right", "answered_wrong"):
                    result.counts["chitchat_answered"] = result.counts.get("chitchat_answered", 0) + 1
            else:
                result.n_answerable += 1
                result.counts[f"a:{outcome}"] = result.counts.get(f"a:{outcome}", 0) + 1
            result.counts[outcome] = result.counts.get(outcome, 0) + 1
            if keep_rows:
                result.rows.append({"text": text, "label": label, "outcome": outcome, **detail})
        latencies.sort()
        if latencies:
            result.p50_ms = latencies[len(latencies) // 2]
            result.p95_ms = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    result.peak_rss_mb = _peak_rss_mb()
    return result


def _outcome(meta: dict[str, Any], label: str, faq_ext: dict[int, str]) -> tuple[str, dict[str, Any]]:
    if meta.get("faq_id") is not None:
        got = faq_ext.get(int(meta["faq_id"]), "")
        return ("answered_right" if got == label else "answered_wrong"), {"answer": got}
    if meta.get("clarify"):
        options = [faq_ext.get(int(i), "") for i in meta["clarify"]]
        return ("clarify_reachable" if label in options else "clarify_unreachable"), {"options": options}
    if meta.get("smalltalk"):
        return "smalltalk", {"kind": meta["smalltalk"]}
    if meta.get("handoff"):
        return "handoff", {}
    return "fallback", {}
