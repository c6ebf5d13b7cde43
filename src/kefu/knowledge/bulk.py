"""Bulk FAQ import/export (CSV and JSON), idempotent by external id; the API, the CLI and the admin page call this.

A file row is one FAQ in one locale: ``id`` (external id, shared by the locale copies of one FAQ), ``locale``,
``category`` (a path: "Cards > Lost card" in CSV, a list or that string in JSON), ``question``, ``alternatives``
(any number of phrasings: one per line in a CSV cell, a list in JSON), ``answer``, ``format``
(text | html | markdown), ``published`` and an optional ``intent``. Re-importing updates rows in place; unchanged
rows are not touched, so the bot's index fingerprint only moves when something really changed. One import writes
one audit entry and publishes one ``kb.changed`` event, so the bot rebuilds once.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.core import configcache
from kefu.core.catalog import gettext
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput
from kefu.core.events import publish
from kefu.knowledge.models import LOCALES, FaqEntry
from kefu.knowledge.render import FORMATS, clean_answer
from kefu.knowledge.service import clean_category, clean_questions, refit_bot
from kefu.security import csvsafe

COLUMNS = ("id", "locale", "category", "question", "alternatives", "answer", "format", "published", "intent")
PATH_SEPARATOR = " > "
# One import file (CSV or JSON): the admin page and the API say so, and the request body limit is derived from it.
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ANSWER = 20_000
MAX_PHRASING = 1000
MAX_ERRORS = 500
CHUNK = 500
TRUE = frozenset({"1", "true", "yes", "y", "t", "是", "✓", "published"})
FALSE = frozenset({"0", "false", "no", "n", "f", "否", "", "draft"})
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem with one row of the file (row numbers count data rows from 1; CSV line = row + 1).

    `code` is stable for programs (`id_required`, `duplicate` …); people read `message_in(locale)`, the catalog's
    `err_knowledge_row_<code>` with `params`.
    """

    row: int
    field: str | None
    code: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)  # `field` is a member's name here
    external_id: str | None = None

    @property
    def message(self) -> str:
        """The English text (the CLI, logs)."""
        return self.message_in("en")

    def message_in(self, locale: str | None) -> str:
        """The text in `locale` (English when None)."""
        return gettext(f"err_knowledge_row_{self.code}", locale or "en").format(**self.params)


@dataclass(slots=True)
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    phrasings: int = 0
    applied: bool = False
    errors: list[RowError] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, locale: str | None = None) -> dict[str, Any]:
        """JSON form, each row error's message in `locale` (English when None) beside its stable code."""
        return {
            "dry_run": self.dry_run,
            "applied": self.applied,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "phrasings": self.phrasings,
            "errors": [
                {
                    "row": e.row,
                    "field": e.field,
                    "code": e.code,
                    "message": e.message_in(locale),
                    "external_id": e.external_id,
                }
                for e in self.errors
            ],
            "preview": self.preview,
        }


# ---------------------------------------------------------------- reading files


def detect_format(filename: str | None, data: bytes) -> str:
    """ "csv" or "json" from the file name, else from the content."""
    name = (filename or "").lower()
    if name.endswith(".json"):
        return "json"
    if name.endswith((".csv", ".txt")):
        return "csv"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if head in (b"[", b"{") else "csv"


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput.said("err_knowledge_not_utf8")


def read_records(data: bytes, fmt: str) -> list[dict[str, Any]]:
    """File bytes → row dicts (raises InvalidInput for an unreadable file, never for a bad row)."""
    text = _decode(data)
    if fmt == "json":
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise InvalidInput.said("err_knowledge_invalid_json", error=str(exc)) from exc
        except RecursionError as exc:  # nesting deeper than the parser's stack
            raise InvalidInput.said("err_knowledge_json_too_deep") from exc
        items = parsed.get("faqs") if isinstance(parsed, dict) else parsed
        if not isinstance(items, list):
            raise InvalidInput.said("err_knowledge_json_shape")
        return [i if isinstance(i, dict) else {"__invalid__": True} for i in items]
    if fmt != "csv":
        raise InvalidInput.said("err_knowledge_unknown_import_format", fmt=fmt)
    reader = csvsafe.dict_reader(text)
    if not reader.fieldnames:
        raise InvalidInput.said("err_knowledge_csv_empty")
    headers = [h.strip().lower() for h in reader.fieldnames if h]
    missing = [c for c in ("id", "question", "answer") if c not in headers]
    if missing:
        raise InvalidInput.said(
            "err_knowledge_csv_missing_columns", missing=", ".join(missing), expected=", ".join(COLUMNS)
        )
    reader.fieldnames = [h.strip().lower() for h in reader.fieldnames]
    return [{k: csvsafe.restore_cell(v) if isinstance(v, str) else v for k, v in r.items()} for r in reader]


# ---------------------------------------------------------------- validating rows


@dataclass(frozen=True, slots=True)
class FaqRow:
    """A validated row, ready to write."""

    external_id: str
    locale: str
    category_path: list[str]
    category: str | None
    questions: list[str]
    answer: str
    answer_format: str
    is_published: bool
    intent: str | None


def _as_list(value: Any, *, path: bool) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None and str(v).strip()]
    text = str(value)
    if path:
        return [p.strip() for p in text.split(">") if p.strip()]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _published(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return True if value is None else value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return not text  # an empty cell means published
    return None


Problem = tuple[str | None, str, dict[str, Any]]  # field, code (err_knowledge_row_<code>), the text's fields


def validate_row(raw: dict[str, Any], default_locale: str) -> tuple[FaqRow | None, list[Problem]]:
    """One row checked field by field: the cleaned row, or the problems found."""
    if raw.get("__invalid__"):
        return None, [(None, "not_object", {})]
    errs: list[Problem] = []
    ext = str(raw.get("id") if raw.get("id") is not None else raw.get("external_id") or "").strip()
    if not ext:
        errs.append(("id", "id_required", {}))
    elif len(ext) > 200:
        errs.append(("id", "id_too_long", {"max": 200}))
    locale = str(raw.get("locale") or default_locale).strip()
    if locale not in LOCALES:
        errs.append(("locale", "locale_unknown", {"locale": repr(locale)}))
    fmt = str(raw.get("format") or raw.get("answer_format") or "text").strip().lower()
    if fmt not in FORMATS:
        errs.append(("format", "format_unknown", {"fmt": repr(fmt)}))
        fmt = "text"
    question = str(raw.get("question") or "").strip()
    alternatives = _as_list(raw.get("alternatives", raw.get("questions")), path=False)
    phrasings = ([question] if question else []) + alternatives
    if not question and not alternatives:
        errs.append(("question", "question_required", {}))
    too_long = next((p for p in phrasings if len(p) > MAX_PHRASING), None)
    if too_long is not None:
        errs.append(("alternatives", "phrasing_too_long", {"max": MAX_PHRASING, "start": too_long[:40]}))
    answer_raw = str(raw.get("answer") or "")
    answer = ""
    if not answer_raw.strip():
        errs.append(("answer", "answer_required", {}))
    elif len(answer_raw) > MAX_ANSWER:
        errs.append(("answer", "answer_too_long", {"max": MAX_ANSWER}))
    else:
        answer = clean_answer(answer_raw, fmt)
        if not answer:
            errs.append(("answer", "answer_unsafe_only", {}))
    published = _published(raw.get("published", raw.get("is_published")))
    if published is None:
        errs.append(("published", "published_invalid", {"value": repr(raw.get("published"))}))
    path, flat = clean_category(_as_list(raw.get("category", raw.get("category_path")), path=True), None)
    if any(len(p) > 200 for p in path) or len(path) > 10:
        errs.append(("category", "category_too_deep", {"levels": 10, "max": 200}))
    intent = str(raw.get("intent") or "").strip() or None
    if intent and len(intent) > 64:
        errs.append(("intent", "intent_too_long", {"max": 64}))
    if errs:
        return None, errs
    return (
        FaqRow(ext, locale, path, flat, clean_questions(phrasings), answer, fmt, bool(published), intent),
        [],
    )


# ---------------------------------------------------------------- applying


def _key_of(faq: FaqEntry) -> tuple[str, str]:
    # FAQs made by hand have no external id; the export calls them "faq-<id>", so re-importing it adopts them.
    return (faq.external_id or f"faq-{faq.id}", faq.locale)


def _differs(faq: FaqEntry, row: FaqRow) -> bool:
    return (
        faq.external_id != row.external_id
        or list(faq.questions or []) != row.questions
        or faq.answer != row.answer
        or faq.answer_format != row.answer_format
        or list(faq.category_path or []) != row.category_path
        or faq.category != row.category
        or faq.is_published != row.is_published
        or (row.intent is not None and faq.intent != row.intent)
    )


def import_faqs(
    session: Session,
    actor: Principal | None,
    brand: Brand,
    records: list[dict[str, Any]],
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    preview_rows: int = 20,
) -> ImportReport:
    """Validate every row, then (unless a dry run or any row is invalid) create/update in one flush."""
    report = ImportReport(dry_run=dry_run, rows=len(records))
    valid: list[tuple[int, FaqRow]] = []
    seen: dict[tuple[str, str], int] = {}
    for n, raw in enumerate(records, start=1):
        row, problems = validate_row(raw, brand.default_locale)
        ext = str(raw.get("id") or "").strip() or None if isinstance(raw, dict) else None
        for fld, code, params in problems:
            if len(report.errors) < MAX_ERRORS:
                report.errors.append(RowError(n, fld, code, params, ext))
        if row is None:
            continue
        key = (row.external_id, row.locale)
        if key in seen:
            report.errors.append(RowError(n, "id", "duplicate", {"other": seen[key]}, row.external_id))
            continue
        seen[key] = n
        valid.append((n, row))
    existing = {_key_of(f): f for f in session.scalars(select(FaqEntry).where(FaqEntry.brand_id == brand.id))}
    plan: list[tuple[FaqRow, FaqEntry | None]] = []
    for _, row in valid:
        current = existing.get((row.external_id, row.locale))
        if current is None:
            report.created += 1
            plan.append((row, None))
        elif _differs(current, row):
            report.updated += 1
            plan.append((row, current))
        else:
            report.unchanged += 1
        report.phrasings += len(row.questions)
    for n, row in valid[:preview_rows]:
        current = existing.get((row.external_id, row.locale))
        action = "create" if current is None else ("update" if _differs(current, row) else "unchanged")
        report.preview.append(
            {
                "row": n,
                "action": action,
                "id": row.external_id,
                "locale": row.locale,
                "category": PATH_SEPARATOR.join(row.category_path),
                "question": row.questions[0],
                "phrasings": len(row.questions),
                "format": row.answer_format,
                "published": row.is_published,
            }
        )
    if dry_run or report.errors:
        return report
    _apply(session, brand.id, plan, progress)
    report.applied = True
    record(
        session,
        actor,
        "kb.import",
        target_type="brand",
        target_id=brand.id,
        brand_id=brand.id,
        details={"rows": report.rows, "created": report.created, "updated": report.updated},
    )
    if report.created or report.updated:
        data = {"brand_id": brand.id, "kind": "import", "id": None, "created": report.created}
        publish(session, "kb.changed", {**data, "updated": report.updated}, (f"brand:{brand.id}",))
        refit_bot(session, brand.id)  # fitting starts as the import commits, not at the next customer question
    return report


def _apply(
    session: Session, brand_id: int, plan: list[tuple[FaqRow, FaqEntry | None]], progress: Progress | None
) -> None:
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row, current in plan:
        values: dict[str, Any] = {
            "external_id": row.external_id,
            "questions": row.questions,
            "answer": row.answer,
            "answer_format": row.answer_format,
            "category_path": row.category_path,
            "category": row.category,
            "is_published": row.is_published,
            "updated_at": now,
        }
        if current is None:
            inserts.append(
                {**values, "brand_id": brand_id, "locale": row.locale, "intent": row.intent, "created_at": now}
            )
        else:
            if row.intent is not None:
                values["intent"] = row.intent
            updates.append({"id": current.id, **values})
            session.expire(current)
    total, done = len(plan), 0
    # Executemany in chunks: one round trip per chunk (batched INSERT/UPDATE), progress reported between them.
    try:
        for stmt, batch in ((insert(FaqEntry), inserts), (update(FaqEntry), updates)):
            for start in range(0, len(batch), CHUNK):
                chunk = batch[start : start + CHUNK]
                session.execute(stmt, chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        if inserts or updates:  # bulk statements skip the flush hook that invalidates cached models (configcache)
            configcache.touch(session, [brand_id])
    except IntegrityError as exc:  # another import created the same (brand, id, locale) meanwhile
        raise Conflict.said("err_knowledge_import_raced") from exc


# ---------------------------------------------------------------- export


def export_rows(faqs: Iterable[FaqEntry]) -> list[dict[str, Any]]:
    """FAQs as import rows (JSON form)."""
    return [
        {
            "id": f.external_id or f"faq-{f.id}",
            "locale": f.locale,
            "category": list(f.category_path or ([f.category] if f.category else [])),
            "question": (f.questions or [""])[0],
            "alternatives": list((f.questions or [])[1:]),
            "answer": f.answer,
            "format": f.answer_format,
            "published": f.is_published,
            "intent": f.intent,
        }
        for f in faqs
    ]


def export_faqs(session: Session, brand_id: int, fmt: str, locale: str | None = None) -> str:
    """A brand's FAQs as CSV or JSON text, in the import format (export → import changes nothing)."""
    stmt = select(FaqEntry).where(FaqEntry.brand_id == brand_id).order_by(FaqEntry.external_id, FaqEntry.id)
    if locale:
        stmt = stmt.where(FaqEntry.locale == locale)
    rows = export_rows(session.scalars(stmt))
    if fmt == "json":
        return json.dumps({"faqs": rows}, ensure_ascii=False, indent=1)
    if fmt != "csv":
        raise InvalidInput.said("err_knowledge_unknown_export_format", fmt=fmt)
    out = io.StringIO(newline="")
    flat = (
        {
            **r,
            "category": PATH_SEPARATOR.join(r["category"]),
            "alternatives": "\n".join(r["alternatives"]),
            "published": "true" if r["published"] else "false",
            "intent": r["intent"] or "",
        }
        for r in rows
    )
    # Formula-safe like every export (a Markdown answer "- item" gets a leading '); the importer strips it again.
    csvsafe.writer(out, lineterminator="\r\n").writerows(csvsafe.dict_rows(COLUMNS, flat))
    return out.getvalue()
