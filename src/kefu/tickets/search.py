"""Ticket search: one script-folded token document per ticket, GIN-indexed on PostgreSQL.

A ticket's document (``tickets.search_vector``) holds the tokens of its subject, its description and every message
(notes included) of the conversations linked to it. Tokens are computed here, in Python, so neither backend needs an
extension or a custom text-search parser:

* text is PII-masked first (:func:`kefu.privacy.pii.mask_text`): raw phone numbers, IDs, emails… never enter the
  index, so they cannot be found by searching for them (the masked remainder, e.g. ``0912***678``, is what agents
  without ``pii:reveal`` see anyway);
* then normalized (:func:`kefu.bot.nlu.text.normalize`: NFKC, Traditional → Simplified, casefold), so a
  Traditional query finds Simplified text and vice versa, and English is case-insensitive;
* runs of Chinese characters become overlapping character bigrams (a lone character stays a unigram), other words
  (latin, digits, kana…) become whole lowercase words.

Storage: PostgreSQL keeps a ``tsvector`` built from the token list as-is (no dictionary, no stemming) with a GIN index
and answers ``search_vector @@ '<tok> & <tok>'::tsquery``; SQLite keeps the tokens as `` tok tok `` text and answers
with ``LIKE '% tok %'`` per token. A query matches a ticket when every one of its tokens occurs somewhere in the
ticket. Words match whole (no prefixes: PostgreSQL cannot estimate prefix selectivity, and a mis-estimated rare prefix
turns into a scan of every ticket); a one-character Chinese query only finds that character standing alone.

Maintenance happens in the ORM flush (`before_flush` / `after_flush`, registered in :mod:`kefu.tickets.models`), so
every writer is covered without calling anything: a new message appends its tokens to its conversation's ticket, and
a ticket is rebuilt from scratch when its subject/description changes, a message body is edited (privacy scrubs and
erasure) or deleted, a conversation moves between tickets (create from conversation, split) or the ticket is merged.
Core bulk statements bypass this: after one, call :func:`rebuild` for the affected tickets (or :func:`backfill`).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    cast,
    column,
    func,
    literal,
    select,
    table,
    text,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.orm import Session, UOWTransaction, attributes
from sqlalchemy.orm.util import identity_key

from kefu.core import like
from kefu.core.db import database_key

__all__ = [
    "MAX_TOKENS",
    "PREFETCH_CAP",
    "backfill",
    "common_lexemes",
    "document",
    "match",
    "prefetch_rare",
    "query_tokens",
    "rebuild",
    "tokens",
]

MAX_TEXT = 20_000  # characters of one text that are indexed
MAX_TOKEN = 64  # longer words are cut (both when indexing and when querying)
MAX_TOKENS = 20_000  # distinct tokens per ticket document (a tsvector must stay far below 1 MB)
MAX_QUERY_TOKENS = 32

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
_WORD_RE = re.compile(r"[^\W_]+")
_PART_RE = re.compile(f"([{_HAN}]+)|([^{_HAN}]+)")

_tickets = table(
    "tickets",
    column("id"),
    column("subject"),
    column("description"),
    column("search_vector"),
)
_conversations = table("conversations", column("id"), column("ticket_id"))
_messages = table("messages", column("id"), column("conversation_id"), column("body"))


def _normalize(text: str) -> str:
    from kefu.bot.nlu.text import normalize
    from kefu.privacy.pii import mask_text

    return normalize(mask_text(text[:MAX_TEXT]), regional=False)


def _split(text: str) -> Iterable[tuple[str, bool]]:
    """(part, is_han) for every word of normalized text, Chinese runs split from the rest."""
    for word in _WORD_RE.findall(text):
        for han, other in _PART_RE.findall(word):
            yield (han, True) if han else (other, False)


def tokens(text: str) -> list[str]:
    """Distinct index tokens of a text (PII-masked, script-folded, CJK bigrams, lowercase words)."""
    return list(dict.fromkeys(_tokens(_normalize(text))))


def _tokens(normalized: str) -> Iterable[str]:
    for part, is_han in _split(normalized):
        if not is_han:
            yield part[:MAX_TOKEN]
        elif len(part) == 1:
            yield part
        else:
            for i in range(len(part) - 1):
                yield part[i : i + 2]


def query_tokens(q: str) -> list[str]:
    """Tokens that must all occur in a ticket's document. The query itself is not PII-masked."""
    from kefu.bot.nlu.text import normalize

    return list(dict.fromkeys(_tokens(normalize(q[:MAX_TEXT], regional=False))))[:MAX_QUERY_TOKENS]


def document(toks: Iterable[str], dialect: str) -> str:
    """The stored form of a token set: a tsvector literal on PostgreSQL, `` a b c `` text elsewhere."""
    ordered = sorted(set(toks))[:MAX_TOKENS]
    if dialect == "postgresql":
        return " ".join(f"'{t}'" for t in ordered)  # tokens are word characters only: no quote/backslash
    return f" {' '.join(ordered)} " if ordered else ""


def ticket_document(subject: str | None, description: str | None, dialect: str) -> str:
    """The search document of a new ticket: its subject and description (messages are appended as they come)."""
    return document(tokens(f"{subject or ''}\n{description or ''}"), dialect)


def match(col: Any, q_tokens: Sequence[str], dialect: str) -> ColumnElement[bool]:
    """SQL condition: the document column contains every query token."""
    if not q_tokens:
        return true()
    if dialect == "postgresql":
        query = " & ".join(f"'{t}'" for t in q_tokens)
        return type_coerce(col, TSVECTOR).bool_op("@@")(cast(literal(query), TSQUERY))
    return and_(*(like.pattern(col, "% ", t, " %") for t in q_tokens))  # "_" is a word character


# --------------------------------------------------------------------------- reading (PostgreSQL planning)

PREFETCH_CAP = 1000  # matching tickets fetched unordered before falling back to the planner's ordered plan
STATS_TTL = 600.0  # seconds the common-lexeme list of pg_stats is reused per database
_common_cache: dict[str, tuple[float, frozenset[str]]] = {}


def common_lexemes(conn: Connection) -> frozenset[str]:
    """Lexemes PostgreSQL keeps frequency statistics for (pg_stats.most_common_elems of tickets.search_vector)."""
    key = database_key(conn.engine)
    now = time.monotonic()
    hit = _common_cache.get(key)
    if hit is not None and now - hit[0] < STATS_TTL:
        return hit[1]
    elems = conn.execute(
        text(
            "SELECT most_common_elems::text::text[] FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = 'tickets' AND attname = 'search_vector'"
        )
    ).scalar()
    common = frozenset(elems or ())
    _common_cache[key] = (now, common)
    return common


def prefetch_rare(conn: Connection, q_tokens: Sequence[str]) -> list[int] | None:
    """Ids of the tickets matching a query with a rare token (at most PREFETCH_CAP), or None to use the ordered plan.

    Why: PostgreSQL estimates a lexeme it has no statistics for (an order number, a name) at a fixed 0.5 % of the
    rows, so for `ORDER BY updated_at LIMIT 50` it walks the sort index and filters every ticket (seconds at 1M
    tickets) instead of asking the GIN index for the handful that match. A token outside pg_stats' common elements is
    rarer than every tracked one, so the unordered GIN lookup is cheap and the page is then sorted from these ids.
    """
    if not q_tokens or set(q_tokens) <= common_lexemes(conn):
        return None
    # A seq scan "stopping early" at the cap is what the 0.5 % guess makes look cheap; the index is right here.
    previous = conn.execute(
        text("SELECT current_setting('enable_seqscan'), set_config('enable_seqscan', 'off', true)")
    ).scalar()
    try:
        ids = list(
            conn.execute(
                select(_tickets.c.id)
                .where(match(_tickets.c.search_vector, q_tokens, "postgresql"))
                .limit(PREFETCH_CAP + 1)
            ).scalars()
        )
    finally:
        conn.execute(text("SELECT set_config('enable_seqscan', :v, true)"), {"v": previous})
    return ids if len(ids) <= PREFETCH_CAP else None


# --------------------------------------------------------------------------- writing


def _dialect(conn: Connection) -> str:
    return conn.dialect.name


def _write(conn: Connection, ticket_id: int, toks: Iterable[str]) -> None:
    dialect = _dialect(conn)
    value: Any = document(toks, dialect)
    if dialect == "postgresql":
        value = cast(literal(value), TSVECTOR)
    conn.execute(_tickets.update().where(_tickets.c.id == ticket_id).values(search_vector=value))


def _append(conn: Connection, ticket_id: int, toks: set[str]) -> None:
    """Add tokens to a ticket's document. A ticket without one (NULL: not backfilled yet) is left to the backfill."""
    if not toks:
        return
    dialect = _dialect(conn)
    if dialect == "postgresql":
        # `||` merges and de-duplicates lexemes under the row lock: concurrent appends to one ticket both land.
        sv = type_coerce(_tickets.c.search_vector, TSVECTOR)
        merged = sv.op("||")(cast(literal(document(toks, dialect)), TSVECTOR))
        conn.execute(
            _tickets.update()
            .where(_tickets.c.id == ticket_id, sv.is_not(None), func.length(sv) < MAX_TOKENS)
            .values(search_vector=merged)
        )
        return
    current = conn.execute(select(_tickets.c.search_vector).where(_tickets.c.id == ticket_id)).scalar()
    if current is None:
        return
    have = set(current.split())
    if toks - have and len(have) < MAX_TOKENS:
        _write(conn, ticket_id, have | toks)


def rebuild(conn: Connection, ticket_ids: Iterable[int]) -> None:
    """Recompute the documents of these tickets from their subject, description and linked messages."""
    for tid in sorted(set(ticket_ids)):
        row = conn.execute(select(_tickets.c.subject, _tickets.c.description).where(_tickets.c.id == tid)).one_or_none()
        if row is None:
            continue
        toks: dict[str, None] = dict.fromkeys(tokens(f"{row.subject or ''}\n{row.description or ''}"))
        bodies = conn.execute(
            select(_messages.c.body)
            .join(_conversations, _conversations.c.id == _messages.c.conversation_id)
            .where(_conversations.c.ticket_id == tid)
            .order_by(_messages.c.id)
        ).scalars()
        for body in bodies:
            toks.update(dict.fromkeys(tokens(body or "")))
        _write(conn, tid, toks)


def backfill(
    conn: Connection,
    *,
    batch: int = 500,
    only_missing: bool = True,
    after_batch: Callable[[int, int], None] | None = None,
) -> int:
    """Build documents for every ticket (or only those without one) in id batches; returns the tickets done.

    `after_batch(done, last_id)` runs after each batch (e.g. to commit and report progress).
    """
    done, last = 0, 0
    while True:
        stmt = select(_tickets.c.id).where(_tickets.c.id > last).order_by(_tickets.c.id).limit(batch)
        if only_missing:
            stmt = stmt.where(_tickets.c.search_vector.is_(None))
        ids = list(conn.execute(stmt).scalars())
        if not ids:
            return done
        rebuild(conn, ids)
        done, last = done + len(ids), ids[-1]
        if after_batch is not None:
            after_batch(done, last)


# --------------------------------------------------------------------------- flush hooks

_KEY = "kefu.tickets.search"


def _changed(obj: object, *keys: str) -> bool:
    state = attributes.instance_state(obj)
    return any(state.attrs[k].history.has_changes() for k in keys)


def _old_and_new(obj: object, key: str) -> set[int]:
    hist = attributes.instance_state(obj).attrs[key].history
    return {v for v in (*hist.deleted, *hist.added) if isinstance(v, int)}


def before_flush(session: Session, flush_context: UOWTransaction) -> None:
    """Collect what this flush changes for search; set the document of new tickets."""
    from kefu.conversations.models import Conversation, Message
    from kefu.tickets.models import Ticket

    appends: dict[int, set[str]] = {}  # conversation id -> tokens of its new messages
    rebuild_tickets: set[int] = set()
    rebuild_convs: set[int] = set()
    dialect = session.get_bind().dialect.name
    for obj in session.new:
        if isinstance(obj, Message) and obj.conversation_id is not None:
            appends.setdefault(obj.conversation_id, set()).update(tokens(obj.body or ""))
        elif isinstance(obj, Ticket):
            obj.search_vector = ticket_document(obj.subject, obj.description, dialect)
    for obj in session.dirty:
        if isinstance(obj, Message):
            if _changed(obj, "body", "conversation_id"):
                rebuild_convs.update(_old_and_new(obj, "conversation_id") or {obj.conversation_id})
        elif isinstance(obj, Conversation):
            if _changed(obj, "ticket_id"):
                rebuild_tickets.update(_old_and_new(obj, "ticket_id"))
        elif isinstance(obj, Ticket):
            if _changed(obj, "subject", "description"):
                rebuild_tickets.add(obj.id)
            if _changed(obj, "merged_into_id"):  # merge moves conversations with a Core UPDATE
                rebuild_tickets.add(obj.id)
                rebuild_tickets.update(_old_and_new(obj, "merged_into_id"))
    for obj in session.deleted:
        if isinstance(obj, Message):
            rebuild_convs.add(obj.conversation_id)
        elif isinstance(obj, Conversation) and obj.ticket_id is not None:
            rebuild_tickets.add(obj.ticket_id)
    if appends or rebuild_tickets or rebuild_convs:
        flush_context.attributes[_KEY] = (appends, rebuild_tickets, rebuild_convs)


def _loaded_ticket_id(session: Session, conversation_id: int) -> int | Literal[False] | None:
    """The ticket id of a conversation loaded (not expired) in this session; False when the session does not know."""
    from kefu.conversations.models import Conversation

    conv = session.identity_map.get(identity_key(Conversation, conversation_id))
    if conv is None:
        return False
    state = attributes.instance_state(conv)
    if not state.persistent or "ticket_id" in state.unloaded:
        return False
    ticket_id: int | None = conv.ticket_id
    return ticket_id


def after_flush(session: Session, flush_context: UOWTransaction) -> None:
    """Apply the collected changes with Core statements on the flush's connection."""
    pending = flush_context.attributes.pop(_KEY, None)
    if pending is None:
        return
    appends, rebuild_tickets, rebuild_convs = pending
    conn = session.connection()
    conv_ids = set(appends) | rebuild_convs
    ticket_of: dict[int, int] = {}
    # A message is almost always added through its loaded conversation (a chat reply): its ticket id is known, and
    # a conversation without a ticket needs no statement at all. Anything else is read from the database.
    ask = set(rebuild_convs)
    for cid in conv_ids - rebuild_convs:
        known = _loaded_ticket_id(session, cid)
        if known is False:
            ask.add(cid)
        elif known is not None:
            ticket_of[cid] = known
    if ask:
        rows = conn.execute(
            select(_conversations.c.id, _conversations.c.ticket_id).where(
                _conversations.c.id.in_(ask), _conversations.c.ticket_id.is_not(None)
            )
        )
        ticket_of.update({cid: tid for cid, tid in rows})
    rebuild_tickets = set(rebuild_tickets) | {ticket_of[c] for c in rebuild_convs if c in ticket_of}
    added: dict[int, set[str]] = {}
    for cid, toks in appends.items():
        tid = ticket_of.get(cid)
        if tid is not None and tid not in rebuild_tickets:
            added.setdefault(tid, set()).update(toks)
    for tid, toks in sorted(added.items()):
        _append(conn, tid, toks)
    rebuild(conn, rebuild_tickets)


def _main(argv: list[str]) -> int:
    """`python -m kefu.tickets.search backfill [--all]`: build missing (or all) documents, committing per batch."""
    if not argv or argv[0] != "backfill":
        print("usage: python -m kefu.tickets.search backfill [--all]", file=sys.stderr)
        return 2
    from kefu.core.db import get_database

    with get_database().engine.connect() as conn:

        def commit(done: int, last: int) -> None:
            conn.commit()
            print(f"search backfill: {done} tickets (last id {last})", file=sys.stderr)

        total = backfill(conn, only_missing="--all" not in argv, after_batch=commit)
        conn.commit()
    print(f"search backfill: {total} tickets done", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
