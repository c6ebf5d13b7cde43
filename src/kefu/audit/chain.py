"""Keyed hash chain over the audit log: every entry commits to its predecessor, so edits, deletions and reordering show.

Each link is an HMAC-SHA256 under a key derived from KEFU_SECRET_KEY (outside the database) and named by `key_id`,
so someone who can write the database but not read the server's secret cannot rewrite an entry and recompute the
chain: the recomputed links fail verification. Entries without a key id (the unkeyed SHA-256 of 0701, which
anyone could recompute) are reported as problems; migration 1600 re-chained the old ones under the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, union_all, update
from sqlalchemy.event import listens_for
from sqlalchemy.orm import Mapper, ORMExecuteState, Session, SessionTransaction, make_transient_to_detached

from kefu.audit.models import AuditChainHead, AuditLog
from kefu.core.config import Settings, get_settings
from kefu.core.db import attach_loaded, database_key, run_prebuilt, utcnow
from kefu.core.textrules import clean_value, installed

GENESIS = "0" * 64
HEAD_ID = 1
HASHED_FIELDS = (
    "at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "brand_id",
    "ip",
    "details",
)


def _normalise(value: Any) -> Any:
    """JSON-stable form: JSONB prints integral floats as integers, so hash them as integers too."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


_SCALARS = frozenset({str, int, bool, type(None)})  # exact types a JSON round trip returns equal and unchanged


def normalise_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """Details as they will read back from the database (JSON round trip, non-JSON values as strings)."""
    if not details:
        return {}
    if all(type(k) is str and type(v) in _SCALARS for k, v in details.items()):
        return dict(details)  # what the round trip would return (the usual {"number": …}), without it
    loaded: dict[str, Any] = json.loads(json.dumps(details, ensure_ascii=False, default=str))
    result: dict[str, Any] = _normalise(loaded)
    return result


def _at(value: datetime) -> str:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(seq: int, prev_hash: str, values: dict[str, Any]) -> bytes:
    """Canonical JSON of one entry (sorted keys, no whitespace, UTF-8)."""
    doc = {name: values.get(name) for name in HASHED_FIELDS}
    doc["at"] = _at(values["at"])
    doc["details"] = normalise_details(values.get("details"))
    doc["seq"] = seq
    doc["prev_hash"] = prev_hash
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(seq: int, prev_hash: str, values: dict[str, Any]) -> str:
    """Unkeyed SHA-256 over the canonical entry (the pre-1600 format; migration 0701 still uses it)."""
    return hashlib.sha256(canonical(seq, prev_hash, values)).hexdigest()


def _derive(secret: str, key_id: str) -> bytes:
    return hmac.new(secret.encode(), f"kefu-audit-chain/{key_id}".encode(), hashlib.sha256).digest()


# The keys derived for the settings object last asked about: every append needs them, and deriving them (two HMACs
# per key) cost more than the hash of the entry itself. A new Settings object (changed environment) derives again.
_derived: dict[str, tuple[Settings, str, str, dict[str, str], tuple[str, dict[str, bytes]]]] = {}


def audit_keys(settings: Settings | None = None) -> tuple[str, dict[str, bytes]]:
    """(current key id, every known key by id): the current one from secret_key, older ones from audit_old_secrets."""
    s = settings or get_settings()
    memo = _derived.get("last")
    if memo is not None and memo[0] is s and memo[1:4] == (s.secret_key, s.audit_key_id, s.audit_old_secrets):
        return memo[4]
    keys = {kid: _derive(secret, kid) for kid, secret in s.audit_old_secrets.items()}
    keys[s.audit_key_id] = _derive(s.secret_key, s.audit_key_id)
    result = s.audit_key_id, keys
    _derived["last"] = (s, s.secret_key, s.audit_key_id, dict(s.audit_old_secrets), result)
    return result


def keyed_hash(key: bytes, key_id: str, seq: int, prev_hash: str, values: dict[str, Any]) -> str:
    """HMAC-SHA256 of the key id and the canonical entry."""
    return hmac.new(key, key_id.encode() + b"\n" + canonical(seq, prev_hash, values), hashlib.sha256).hexdigest()


def _values(entry: AuditLog) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in HASHED_FIELDS}


def _lock_head(connection: Connection) -> tuple[int, str]:
    """Lock the head row for the rest of the transaction (PostgreSQL FOR UPDATE; SQLite already holds the lock)."""
    row = connection.execute(
        select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == HEAD_ID).with_for_update()
    ).first()
    if row is None:  # a database created without 0701's seed row
        connection.execute(insert(AuditChainHead).values(id=HEAD_ID, seq=0, hash=GENESIS, updated_at=utcnow()))
        return 0, GENESIS
    return int(row.seq), str(row.hash)


@listens_for(AuditLog, "before_insert")
def _link(mapper: Mapper[AuditLog], connection: Connection, target: AuditLog) -> None:
    """Give a new entry the next sequence number and its chained hash, inside the inserting transaction."""
    if target.at is None:
        target.at = utcnow()
    if target.actor_label is None:
        target.actor_label = ""
    target.details = normalise_details(target.details)
    seq, prev = _lock_head(connection)
    seq += 1
    key_id, keys = audit_keys()
    digest = keyed_hash(keys[key_id], key_id, seq, prev, _values(target))
    target.seq, target.prev_hash, target.hash, target.key_id = seq, prev, digest, key_id
    connection.execute(
        update(AuditChainHead).where(AuditChainHead.id == HEAD_ID).values(seq=seq, hash=digest, updated_at=utcnow())
    )


# --------------------------------------------------------------------------- deferred append
# Entries recorded in a transaction wait in session.info and are inserted by the flush that commit runs, so the
# chain-head row lock is held only for the commit itself instead of for the rest of the writer's transaction.

_PENDING = "kefu.audit.pending"


def defer_append(session: Session, entry: AuditLog) -> None:
    """Queue an entry for insertion at commit (or at the next read of the audit log in this session)."""
    if not session.in_transaction():
        session.begin()  # an entry recorded after the caller's commit belongs to the next one, not to no transaction
    pending: list[tuple[SessionTransaction | None, AuditLog]] = session.info.setdefault(_PENDING, [])
    pending.append((session.get_nested_transaction() or session.get_transaction(), entry))


def flush_pending(session: Session) -> None:
    """Insert the queued entries now (chain order = recording order)."""
    pending = session.info.pop(_PENDING, None)
    if pending:
        entries = [entry for _, entry in pending]
        append_entries(session.connection(), entries)
        for entry in entries:  # persistent in this session, as if flushed: a read of the log returns these objects
            make_transient_to_detached(entry)
            attach_loaded(session, entry)


# The chain head this process last wrote or read, per database: the next append guesses it is still current and
# advances it with one guarded UPDATE (… WHERE seq = guess AND hash = guess); when another writer (process) moved
# it, the guard matches no row and the append locks and reads the head as before. A wrong guess costs one
# statement, never a wrong link: the row the UPDATE changes is exactly the head the new entries were chained to.
_heads: dict[str, tuple[int, str]] = {}
_hit_rate: dict[str, float] = {}  # moving share of appends whose guess held (or would have), per database

# Built once: constructing statements per append cost more CPU than running them.
_HEAD = cast(Table, AuditChainHead.__table__)
_LOG = cast(Table, AuditLog.__table__)
_ADVANCE = (
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ID)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"), updated_at=bindparam("at"))
)
_ADVANCE_GUESSED = _ADVANCE.where(_HEAD.c.seq == bindparam("old_seq"), _HEAD.c.hash == bindparam("old_hash"))
_INSERTED = (*HASHED_FIELDS, "seq", "prev_hash", "hash", "key_id")
_INSERT = insert(_LOG).returning(_LOG.c.seq, _LOG.c.id)
_GUESSED_HEAD = _ADVANCE_GUESSED.returning(_HEAD.c.seq).cte("head")
_ADVANCE_AND_INSERT: dict[int, Any] = {}  # PostgreSQL, by entry count: the guarded head advance + the INSERT in one
_ONE_STATEMENT_MAX = 8  # entries per transaction the one-statement append is built for (more: two statements)


def _advance_and_insert(count: int) -> Any:
    """`WITH head AS (guarded UPDATE … RETURNING) INSERT INTO audit_log … SELECT … FROM head` for `count` entries.

    PostgreSQL runs a data-modifying WITH once and the INSERT reads its rows: when the guard matches no row (another
    writer moved the head) nothing is inserted, exactly as if the UPDATE had missed and no INSERT had been sent.
    Entry i's values are bound as `e{i}_{column}`; UNION ALL keeps their order, so ids follow seq.
    """
    stmt = _ADVANCE_AND_INSERT.get(count)
    if stmt is None:
        rows = [
            select(*[bindparam(f"e{i}_{name}", type_=_LOG.c[name].type) for name in _INSERTED]).select_from(
                _GUESSED_HEAD
            )
            for i in range(count)
        ]
        source = rows[0] if count == 1 else union_all(*rows)
        stmt = _ADVANCE_AND_INSERT[count] = (
            insert(_LOG).from_select(list(_INSERTED), source).returning(_LOG.c.seq, _LOG.c.id)
        )
    return stmt


_INSERT_ROWS: dict[int, Any] = {}  # by entry count: one multi-row INSERT (SQLite: no data-modifying WITH)


def _insert_rows(count: int) -> Any:
    """`INSERT INTO audit_log (…) VALUES (…), … RETURNING seq, id` for `count` entries, bound as `e{i}_{column}`."""
    stmt = _INSERT_ROWS.get(count)
    if stmt is None:
        rows = [{name: bindparam(f"e{i}_{name}", type_=_LOG.c[name].type) for name in _INSERTED} for i in range(count)]
        stmt = _INSERT_ROWS[count] = insert(_LOG).values(rows).returning(_LOG.c.seq, _LOG.c.id)
    return stmt


def append_entries(connection: Connection, entries: list[AuditLog]) -> None:
    """Chain and insert entries with Core statements: the guarded head advance + one INSERT (PostgreSQL: together,
    one statement), after a locked read of the head when not guessing or when the guess missed.

    The entries are transient (recorded, not yet in the session): their values are read and written in their state
    dicts directly, without the ORM's per-attribute events; flush_pending then makes them persistent as stored.
    """
    now = utcnow()
    states = [entry.__dict__ for entry in entries]
    for state in states:
        if state.get("at") is None:
            state["at"] = now
        if state.get("actor_label") is None:
            state["actor_label"] = ""
        state["details"] = normalise_details(state.get("details"))
    # The hash covers what is stored: text the database layer cleans of control characters (kefu.core.textrules) is
    # cleaned first, or verify_chain would read other text than was hashed.
    if installed():
        for state in states:
            for name in HASHED_FIELDS:
                value = state.get(name)
                if isinstance(value, str | dict | list):
                    state[name] = clean_value(value)
    key_id, keys = audit_keys()
    key = keys[key_id]
    where = database_key(connection.engine)
    guess = _heads.get(where)
    rate = _hit_rate.get(where, 1.0)
    one = connection.dialect.name == "postgresql" and len(states) <= _ONE_STATEMENT_MAX
    if guess is not None and rate >= 0.5:
        seq, digest = _link_all(key, key_id, guess, states)
        rows = _advance(connection, states, guess, (seq, digest), now, one)
        hit = rows is not None
        if rows is None:  # another writer advanced the head since: chain to the real one, under its lock
            head = _lock_head(connection)
            seq, digest = _link_all(key, key_id, head, states)
            rows = _advance(connection, states, head, (seq, digest), now, one)
    else:
        # Guessing costs a statement when it misses: with several busy writer processes (PostgreSQL workers) it
        # misses more often than not, and reading the head under its lock is cheaper on average.
        head = _lock_head(connection)
        hit = head == guess
        seq, digest = _link_all(key, key_id, head, states)
        rows = _advance(connection, states, head, (seq, digest), now, one)
    if rows is None:  # the head is locked and was just read: its guard cannot miss
        raise RuntimeError("audit chain head moved while locked")
    _hit_rate[where] = rate * 0.9 + (0.1 if hit else 0.0)  # would the guess have held, recently?
    _heads[where] = (seq, digest)  # a rollback leaves the guess one step ahead: the guard then misses once
    # RETURNING rows come in no guaranteed order: match them by seq (unique), which keeps the INSERT one statement.
    ids = {seq: id_ for seq, id_ in rows}
    for state in states:
        state["id"] = ids[state["seq"]]  # record() returns the entry: callers and tests may look it up


def _advance(
    connection: Connection,
    states: list[dict[str, Any]],
    old: tuple[int, str],
    new: tuple[int, str],
    now: datetime,
    one: bool,
) -> Sequence[Any] | None:
    """Move the head from `old` to `new` (guarded: only if it is still `old`) and insert the entries chained to it.

    The INSERT's (seq, id) rows, or None when the guard matched no row (nothing inserted, nothing changed). `one`
    (PostgreSQL): both in one statement (_advance_and_insert), else the guarded UPDATE and then the INSERT.
    """
    params = {"new_seq": new[0], "new_hash": new[1], "at": now, "old_seq": old[0], "old_hash": old[1]}
    if one:
        for i, state in enumerate(states):
            params.update({f"e{i}_{name}": state.get(name) for name in _INSERTED})
        inserted, _count = run_prebuilt(connection, _advance_and_insert(len(states)), params)
        return inserted if len(inserted) == len(states) else None
    _rows, moved = run_prebuilt(connection, _ADVANCE_GUESSED, params)
    if moved != 1:
        return None
    # One entry (nearly every transaction) as a single execution, not SQLAlchemy's "insertmanyvalues" batch mode;
    # a few (a create with its first message records two) as one prebuilt multi-row INSERT on the cursor path.
    if len(states) == 1:
        return run_prebuilt(connection, _INSERT, {name: states[0].get(name) for name in _INSERTED})[0]
    if len(states) <= _ONE_STATEMENT_MAX:
        params = {}
        for i, state in enumerate(states):
            params.update({f"e{i}_{name}": state.get(name) for name in _INSERTED})
        return run_prebuilt(connection, _insert_rows(len(states)), params)[0]
    rows_in = [{name: state.get(name) for name in _INSERTED} for state in states]
    return list(connection.execute(_INSERT, rows_in))  # many: SQLAlchemy's "insertmanyvalues" batch


def _link_all(key: bytes, key_id: str, head: tuple[int, str], states: list[dict[str, Any]]) -> tuple[int, str]:
    seq, prev = head
    for state in states:
        seq += 1
        digest = keyed_hash(key, key_id, seq, prev, state)
        state["seq"], state["prev_hash"], state["hash"], state["key_id"] = seq, prev, digest, key_id
        prev = digest
    return seq, prev


@listens_for(Session, "before_commit")
def _append_at_commit(session: Session) -> None:
    if session.info.get(_PENDING) and not session.in_nested_transaction():
        flush_pending(session)


@listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """Forget entries recorded inside the transaction (or savepoint) that was rolled back."""
    pending = session.info.get(_PENDING)
    if not pending:
        return

    def inside(tx: SessionTransaction | None) -> bool:
        while tx is not None:
            if tx is previous_transaction:
                return True
            tx = tx.parent
        return False

    kept = [(tx, entry) for tx, entry in pending if not inside(tx)]
    if kept:
        session.info[_PENDING] = kept
    else:
        session.info.pop(_PENDING, None)


@listens_for(Session, "after_transaction_end")
def _drop_at_end(session: Session, transaction: SessionTransaction) -> None:
    """A finished outermost transaction leaves nothing queued (commit inserted it; rollback or close dropped it)."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


@listens_for(Session, "do_orm_execute")
def _flush_before_audit_reads(state: ORMExecuteState) -> None:
    """A read of the audit log in the recording session sees its own queued entries, like autoflush."""
    if state.session.info.get(_PENDING) and state.is_select and _reads_audit(state):
        flush_pending(state.session)


def _reads_audit(state: ORMExecuteState) -> bool:
    return any(m.class_ is AuditLog for m in state.all_mappers)


@dataclass
class VerifyResult:
    """Outcome of a chain verification."""

    checked: int = 0
    head_seq: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def _rows(session: Session, batch: int) -> Iterator[AuditLog]:
    last = -1
    while True:
        rows = list(
            session.scalars(
                select(AuditLog)
                .where(AuditLog.seq.is_not(None), AuditLog.seq > last)
                .order_by(AuditLog.seq)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = int(rows[-1].seq or 0)
        session.expunge_all()


def verify_chain(
    session: Session, *, batch: int = 2000, max_problems: int = 50, settings: Settings | None = None
) -> VerifyResult:
    """Walk the chain in sequence order and report modified, deleted, inserted, reordered or unkeyed entries."""
    result = VerifyResult()
    _, keys = audit_keys(settings)

    def problem(msg: str) -> None:
        if len(result.problems) < max_problems:
            result.problems.append(msg)

    unchained = session.scalar(select(AuditLog.id).where(AuditLog.seq.is_(None)).limit(1))
    if unchained is not None:
        problem(f"entry id={unchained} has no chain position (inserted around the chain)")
    expected_seq, prev, last_id, mismatched = 1, GENESIS, 0, 0
    for row in _rows(session, batch):
        seq = int(row.seq or 0)
        if seq != expected_seq:
            problem(f"seq {expected_seq}..{seq - 1} missing (deleted entries) before id={row.id}")
        if row.prev_hash != prev:
            problem(f"seq {seq} (id={row.id}) does not link to its predecessor (deleted or reordered)")
        if row.id <= last_id:
            problem(f"seq {seq} (id={row.id}) is out of id order (reordered)")
        key = keys.get(row.key_id) if row.key_id else None
        if row.key_id is None:
            problem(f"seq {seq} (id={row.id}) has no key id (unkeyed hash: rewritten without the audit key)")
        elif key is None:
            problem(f"seq {seq} (id={row.id}) uses unknown key id {row.key_id!r} (configure KEFU_AUDIT_OLD_SECRETS)")
        elif not hmac.compare_digest(
            row.hash or "", keyed_hash(key, row.key_id, seq, row.prev_hash or "", _values(row))
        ):
            problem(f"seq {seq} (id={row.id}) content does not match its keyed hash (modified)")
            mismatched += 1
        prev, expected_seq, last_id = row.hash or "", seq + 1, row.id
        result.checked += 1
    if result.checked and mismatched == result.checked:
        result.problems.insert(
            0, "no entry matches its keyed hash: is KEFU_SECRET_KEY the one the chain was written with?"
        )
    head = session.execute(select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == HEAD_ID)).first()
    head_seq, head_hash = (int(head.seq), str(head.hash)) if head else (0, GENESIS)
    result.head_seq = head_seq
    if head_seq != expected_seq - 1 or head_hash != prev:
        problem(f"chain ends at seq {expected_seq - 1} but the head records seq {head_seq} (truncated)")
    return result
