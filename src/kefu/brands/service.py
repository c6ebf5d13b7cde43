"""Brands and inboxes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.commands import UpdateBrand, changes_of, ensure
from kefu.brands.models import CHANNEL_KINDS, DEFAULT_PREFIX, DEFAULT_TIERS, Brand, Inbox
from kefu.core.access import find_in_brand, scope_to_brands
from kefu.core.errors import Conflict, InvalidInput, NotFound
from kefu.core.seedtext import seed_text
from kefu.tickets.intake import check_policy
from kefu.tickets.models import TicketCounter


def _check_tz(tz: str) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput.said("err_brands_unknown_timezone", tz=tz) from exc


def _check_currency(code: str) -> None:
    from kefu.core.l10n import known_currency

    if not known_currency(code):
        raise InvalidInput.said("err_brands_unknown_currency", code=code)


def _normalize_tiers(tiers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = sorted(tiers, key=lambda t: float(t["min_spend"]))
    levels = [int(t["level"]) for t in out]
    if len(set(levels)) != len(levels) or levels != sorted(levels):
        raise InvalidInput.said("err_brands_tier_order")
    if not out or float(out[0]["min_spend"]) != 0:
        raise InvalidInput.said("err_brands_tier_lowest")
    return [{"level": int(t["level"]), "name": str(t["name"]), "min_spend": float(t["min_spend"])} for t in out]


def tier_label(level: int, name: str, locale: str) -> str:
    """A membership tier's name for a reader: the seed tier's (catalog mtier_<level>) in their locale while kept."""
    seed = [str(t["name"]) for t in DEFAULT_TIERS if int(t["level"]) == level]
    return seed_text(f"mtier_{level}", name, locale, seed)


def tier_for(brand: Brand, spend: Decimal) -> int:
    """Membership tier level for a cumulative spend under the brand's tier table."""
    level = 1
    for t in sorted(brand.tiers or DEFAULT_TIERS, key=lambda t: float(t["min_spend"])):
        if spend >= Decimal(str(t["min_spend"])):
            level = int(t["level"])
    return level


def create_brand(
    session: Session,
    *,
    slug: str,
    name: str,
    default_locale: str = "zh-TW",
    timezone: str = "Asia/Taipei",
    ticket_prefix: str | None = None,
    currency: str = "TWD",
    tiers: list[dict[str, Any]] | None = None,
    actor: Principal | None = None,
) -> Brand:
    """Create a brand and its ticket counter; without a ticket prefix it gets a free one (`free_prefix`)."""
    _check_tz(timezone)
    _check_currency(currency)
    if session.scalar(select(Brand.id).where(Brand.slug == slug)) is not None:
        raise Conflict.said("err_brands_slug_taken", slug=slug)
    if ticket_prefix is None:
        ticket_prefix = free_prefix(session, slug)
    elif prefix_taken(session, ticket_prefix):
        raise Conflict.said("err_brands_prefix_taken", prefix=ticket_prefix)
    brand = Brand(
        slug=slug,
        name=name,
        default_locale=default_locale,
        timezone=timezone,
        currency=currency,
        ticket_prefix=ticket_prefix,
        tiers=_normalize_tiers(tiers) if tiers else list(DEFAULT_TIERS),
    )
    session.add(brand)
    session.flush()
    session.add(TicketCounter(brand_id=brand.id, value=0))
    session.flush()
    record(session, actor, "brand.create", target_type="brand", target_id=brand.id, brand_id=brand.id)
    return brand


def prefix_taken(session: Session, prefix: str) -> bool:
    """Whether another brand numbers its tickets with `prefix` (ticket numbers are unique across the install)."""
    return session.scalar(select(Brand.id).where(Brand.ticket_prefix == prefix).limit(1)) is not None


def free_prefix(session: Session, slug: str) -> str:
    """A ticket prefix no brand uses: KF for the first brand, else one made from the slug's letters and digits.

    Numbers are drawn per brand but unique across the install (an e-mail subject's [KF-000123] names one case), so
    two brands on one prefix would both draw KF-000001 and the second brand could open no ticket at all.
    """
    taken = set(session.scalars(select(Brand.ticket_prefix)))
    if DEFAULT_PREFIX not in taken:
        return DEFAULT_PREFIX
    stem = re.sub(r"[^A-Z0-9]", "", slug.upper()).lstrip("0123456789")[:6] or "B"
    for n in range(len(taken) + 2):
        candidate = stem if n == 0 else f"{stem[: 8 - len(str(n + 1))]}{n + 1}"
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable: len(taken) + 2 candidates cannot all be taken")


def get_brand(session: Session, brand_id: int, principal: Principal | None = None) -> Brand:
    """Brand by id (404 if missing or not visible)."""
    brand = session.get(Brand, brand_id)
    # One answer alike for a missing brand and one the caller may not see, so brand ids tell nothing.
    if brand is None or (principal is not None and not principal.can_access_brand(brand.id)):
        raise NotFound.said("err_brands_not_found", brand_id=brand_id)
    return brand


def visible_brands(session: Session, principal: Principal | None) -> list[Brand]:
    """The brands `principal` may see, by id (every brand for admins and internal callers)."""
    stmt = select(Brand).order_by(Brand.id)
    stmt = scope_to_brands(stmt, Brand.id, principal)
    return list(session.scalars(stmt))


def visible_brand_ids(session: Session, principal: Principal) -> list[int]:
    """Ids of the brands `principal` may see, ascending (no query for a brand-scoped principal)."""
    if principal.brand_ids is not None:
        return sorted(principal.brand_ids)
    return list(session.scalars(select(Brand.id).order_by(Brand.id)))


def public_web_chat(session: Session, slug: str) -> tuple[Brand, Inbox] | None:
    """A brand by slug with its active web-chat inbox (None when either is missing), for public demo pages."""
    brand = session.scalar(select(Brand).where(Brand.slug == slug))
    if brand is None:
        return None
    inbox = session.scalar(
        select(Inbox).where(Inbox.brand_id == brand.id, Inbox.kind == "web_chat", Inbox.is_active.is_(True))
    )
    return None if inbox is None else (brand, inbox)


def update_brand(session: Session, brand: Brand, actor: Principal, command: UpdateBrand | Mapping[str, Any]) -> Brand:
    """Apply a partial change to a brand: the fields the command sets (None leaves a field as it is)."""
    changes = changes_of(ensure(UpdateBrand, command))
    if changes.get("timezone"):
        _check_tz(changes["timezone"])
    if changes.get("currency"):
        _check_currency(changes["currency"])
    if changes.get("tiers") is not None:
        changes["tiers"] = _normalize_tiers(changes["tiers"])
    if changes.get("settings") is not None and changes["settings"].get("sla_tier") is not None:
        from kefu.sla.service import check_tier  # sla builds on brands

        check_tier(session, brand.id, changes["settings"]["sla_tier"])
    if (changes.get("settings") or {}).get("deadline_warnings") is not None:
        from kefu.complaints.due_soon import check_lead_times  # complaints build on brands

        changes["settings"]["deadline_warnings"] = check_lead_times(changes["settings"]["deadline_warnings"])
    if (changes.get("settings") or {}).get("progress_updates") is not None:
        from kefu.sla.updates import check_settings

        changes["settings"]["progress_updates"] = check_settings(changes["settings"]["progress_updates"])
    if (changes.get("settings") or {}).get("notices") is not None:
        from kefu.notices.service import check_policy  # notices build on brands

        notices = changes["settings"]["notices"]
        allowed = {"resolved", "pending", "open"}
        statuses = notices.get("status", ["resolved", "pending"]) if isinstance(notices, dict) else None
        if not isinstance(statuses, list) or not set(statuses) <= allowed or set(notices) - {"status", "also"}:
            raise InvalidInput.said("err_brands_notices_shape", allowed=sorted(allowed))
        if "also" in notices:
            notices["also"] = check_policy(notices["also"])
    if (changes.get("settings") or {}).get("shifts") is not None:
        from kefu.shifts.service import check_settings as check_shifts  # shifts build on brands

        changes["settings"]["shifts"] = check_shifts(changes["settings"]["shifts"])
    if (changes.get("settings") or {}).get("compensation") is not None:
        from kefu.compensation.service import check_settings as check_compensation  # compensation builds on brands

        changes["settings"]["compensation"] = check_compensation(changes["settings"]["compensation"])
    if (changes.get("settings") or {}).get("callbacks") is not None:
        from kefu.callbacks.service import check_settings as check_callbacks

        changes["settings"]["callbacks"] = check_callbacks(changes["settings"]["callbacks"])
    if (changes.get("settings") or {}).get("video") is not None:
        from kefu.callbacks.service import check_video  # video sessions are call-backs

        changes["settings"]["video"] = check_video(changes["settings"]["video"])
    if (changes.get("settings") or {}).get("portal_video_mb") is not None:
        from kefu.portal.service import check_video_mb  # the portal builds on brands

        changes["settings"]["portal_video_mb"] = check_video_mb(changes["settings"]["portal_video_mb"])
    for key in ("complaint_reply_days", "regulator_deadline_days"):
        if (changes.get("settings") or {}).get(key) is not None:
            from kefu.complaints.service import check_days  # complaints build on brands

            changes["settings"][key] = check_days(key, changes["settings"][key])
    if (changes.get("settings") or {}).get("qa_sample_rate") is not None:
        from kefu.qa.service import check_rate  # QA builds on brands

        changes["settings"]["qa_sample_rate"] = check_rate(changes["settings"]["qa_sample_rate"])
    if (changes.get("settings") or {}).get("bot") is not None:
        bot = changes["settings"]["bot"]
        anger = bot.get("anger_threshold") if isinstance(bot, dict) else None
        # Anger levels run 0-5 (kefu.bot.emotion); 0 would alert on every message, above 5 never.
        if not isinstance(bot, dict) or (
            anger is not None and (isinstance(anger, bool) or not isinstance(anger, int) or not 1 <= anger <= 5)
        ):
            raise InvalidInput.said("err_brands_anger_threshold")
    published = (changes.get("settings") or {}).get("public_metrics")
    if published is not None and not isinstance(published, bool):
        raise InvalidInput.said("err_brands_public_metrics_bool")
    if changes.get("settings") is not None:
        # PATCH semantics for settings too: given keys change (None removes one), the others stay.
        merged = {**(brand.settings or {}), **changes["settings"]}
        changes["settings"] = {k: v for k, v in merged.items() if v is not None}
    for key, value in changes.items():
        if value is not None:
            setattr(brand, key, value)
    session.flush()
    record(
        session,
        actor,
        "brand.update",
        target_type="brand",
        target_id=brand.id,
        brand_id=brand.id,
        details={"fields": sorted(k for k, v in changes.items() if v is not None)},
    )
    return brand


INBOX_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    # kind -> (config key, field type: text | secret | int | bool | status)
    "line": (
        ("case_policy", "case_policy"),
        ("channel_secret", "secret"),
        ("channel_access_token", "secret"),
        ("api_base", "text"),
        ("data_api_base", "text"),
        ("initial_status", "status"),
    ),
    "messenger": (
        ("case_policy", "case_policy"),
        ("verify_token", "secret"),
        ("app_secret", "secret"),
        ("page_access_token", "secret"),
        ("api_base", "text"),
        ("api_version", "text"),
        ("initial_status", "status"),
    ),
    "email": (
        ("case_policy", "case_policy"),
        ("address", "text"),
        ("from_name", "text"),
        ("message_id_domain", "text"),
        ("smtp_host", "text"),
        ("smtp_port", "int"),
        ("smtp_user", "text"),
        ("smtp_password", "secret"),
        ("smtp_starttls", "bool"),
        ("smtp_ssl", "bool"),
        ("imap_host", "text"),
        ("imap_port", "int"),
        ("imap_user", "text"),
        ("imap_password", "secret"),
        ("imap_folder", "text"),
        ("imap_ssl", "bool"),
        ("imap_poll_seconds", "int"),
        ("auto_ack", "bool"),
    ),
    "web_chat": (
        ("greeting", "greeting"),
        ("prechat", "bool"),
        ("offline", "bool"),
        ("initial_status", "status"),
        ("case_policy", "case_policy"),
    ),
    "api": (
        ("secret", "secret"),
        ("callback_url", "text"),
        ("initial_status", "status"),
        ("case_policy", "case_policy"),
    ),
    "board": (("initial_status", "status"), ("case_policy", "case_policy")),
    # An SMS gateway (HTTP API) for proactive notices to callers (kefu.channels.sms).
    "phone": (
        ("case_policy", "case_policy"),
        ("sms_url", "text"),
        ("sms_token", "secret"),
        ("sms_sender", "text"),
        ("sms_idempotent", "bool"),
        # PBX / CTI call events (kefu.channels.phone.telephony): signing secret, "201=12, 202=15" extension → agent id.
        ("secret", "secret"),
        ("extensions", "text"),
        ("replay_window_seconds", "int"),
    ),
}


# Chat-like channels start every new conversation with the bot unless the inbox says otherwise.
BOT_KINDS = frozenset({"web_chat", "line", "messenger", "api"})
_URL_KEYS = frozenset({"api_base", "data_api_base", "callback_url"})


def _setting_error(kind: str, key: str, expected: str) -> InvalidInput:
    """Setting `key` of a `kind` inbox is not what its type (`expected`: text, url, int, …) takes."""
    return InvalidInput.said(f"err_brands_setting_{expected}", key=key, kind=kind)


def validate_settings(kind: str, settings: dict[str, Any], *, strict: bool = True) -> dict[str, Any]:
    """Type-check inbox settings against INBOX_FIELDS (None removes a key); strict refuses unknown keys."""
    known = dict(INBOX_FIELDS.get(kind, ()))
    out: dict[str, Any] = {}
    for key, value in settings.items():
        ftype = known.get(key)
        if ftype is None:
            if strict:
                names = ", ".join(sorted(known)) or "none"
                raise InvalidInput.said("err_brands_unknown_setting", key=key, kind=kind, names=names)
            out[key] = value
            continue
        if value is None:
            out[key] = None
        elif ftype in ("text", "secret"):
            if not isinstance(value, str) or not value.strip() or len(value) > 4000:
                raise _setting_error(kind, key, "text")
            if key in _URL_KEYS and not value.startswith(("https://", "http://")):
                raise _setting_error(kind, key, "url")
            out[key] = value.strip() if ftype == "text" else value
        elif ftype == "int":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
                raise _setting_error(kind, key, "int")
            out[key] = value
        elif ftype == "bool":
            if not isinstance(value, bool):
                raise _setting_error(kind, key, "bool")
            out[key] = value
        elif ftype == "status":
            if value not in ("bot", "open"):
                raise _setting_error(kind, key, "status")
            out[key] = value
        elif ftype == "case_policy":
            if not isinstance(value, str):
                raise _setting_error(kind, key, "case_policy")
            check_policy(value)
            out[key] = value
        elif ftype == "greeting":
            if isinstance(value, str):
                value = {"zh-TW": value, "zh-CN": value, "en": value}
            ok = isinstance(value, dict) and all(
                k in ("zh-TW", "zh-CN", "en") and isinstance(v, str) and len(v) <= 1000 for k, v in value.items()
            )
            if not ok:
                raise _setting_error(kind, key, "greeting")
            out[key] = {k: v for k, v in value.items() if v.strip()} or None
    return out


def bot_enabled(inbox: Inbox) -> bool:
    """True when new conversations of this inbox start with the bot."""
    return bool((inbox.config or {}).get("initial_status", "open") == "bot")


def public_settings(inbox: Inbox) -> tuple[dict[str, Any], list[str]]:
    """Settings safe to show (secrets left out) and the names of the secrets that are set."""
    kinds = dict(INBOX_FIELDS.get(inbox.kind, ()))
    cfg = inbox.config or {}
    shown = {k: v for k, v in cfg.items() if k in kinds and kinds[k] != "secret"}
    return shown, sorted(k for k, v in cfg.items() if kinds.get(k) == "secret" and v)


def update_inbox(
    session: Session,
    inbox: Inbox,
    actor: Principal,
    *,
    name: str | None = None,
    is_active: bool | None = None,
    config: dict[str, Any] | None = None,
    bot: bool | None = None,
) -> Inbox:
    """Change an inbox; config keys set to None are removed, secrets are never written to the audit log."""
    config = validate_settings(inbox.kind, dict(config or {}))
    if bot is not None:
        if inbox.kind not in dict(INBOX_FIELDS) or "initial_status" not in dict(INBOX_FIELDS[inbox.kind]):
            raise InvalidInput.said("err_brands_inbox_no_bot", kind=inbox.kind)
        config["initial_status"] = "bot" if bot else "open"
    if name is not None and name != inbox.name:
        if session.scalar(select(Inbox.id).where(Inbox.brand_id == inbox.brand_id, Inbox.name == name)) is not None:
            raise Conflict.said("err_brands_inbox_exists", name=name)
        inbox.name = name
    if is_active is not None:
        inbox.is_active = is_active
    changed: list[str] = []
    if config:
        merged = dict(inbox.config or {})
        for key, value in config.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
            changed.append(key)
        inbox.config = merged
    session.flush()
    record(
        session,
        actor,
        "inbox.update",
        target_type="inbox",
        target_id=inbox.id,
        brand_id=inbox.brand_id,
        details={"config_keys": sorted(changed), "name": name, "is_active": is_active, "bot": bot},
    )
    return inbox


def create_inbox(
    session: Session,
    brand: Brand,
    *,
    kind: str,
    name: str,
    config: dict[str, Any],
    actor: Principal | None,
    bot: bool | None = None,
    strict: bool = False,
) -> Inbox:
    """Add a channel endpoint to a brand (chat-like channels start with the bot on unless `bot=False`)."""
    if kind not in CHANNEL_KINDS:
        raise InvalidInput.said("err_brands_unknown_channel_kind", kind=kind)
    config = {k: v for k, v in validate_settings(kind, dict(config), strict=strict).items() if v is not None}
    if bot is not None:
        config["initial_status"] = "bot" if bot else "open"
    elif kind in BOT_KINDS:
        config.setdefault("initial_status", "bot")
    if session.scalar(select(Inbox.id).where(Inbox.brand_id == brand.id, Inbox.name == name)) is not None:
        raise Conflict.said("err_brands_inbox_exists", name=name)
    inbox = Inbox(brand_id=brand.id, kind=kind, name=name, config=config)
    session.add(inbox)
    session.flush()
    record(
        session,
        actor,
        "inbox.create",
        target_type="inbox",
        target_id=inbox.id,
        brand_id=brand.id,
        details={"kind": kind},
    )
    return inbox


def brand_inboxes(session: Session, brand_id: int) -> list[Inbox]:
    """A brand's inboxes, by id."""
    return list(session.scalars(select(Inbox).where(Inbox.brand_id == brand_id).order_by(Inbox.id)))


def inbox_in_brands(session: Session, inbox_id: int, principal: Principal) -> Inbox | None:
    """The inbox when it exists in one of the principal's brands, else None."""
    return find_in_brand(session, Inbox, inbox_id, principal)


def board_inbox(session: Session, brand_id: int) -> Inbox | None:
    """The brand's first active board (help-centre form) inbox, if it accepts tickets online."""
    stmt = (
        select(Inbox)
        .where(Inbox.brand_id == brand_id, Inbox.kind == "board", Inbox.is_active.is_(True))
        .order_by(Inbox.id)
        .limit(1)
    )
    return session.scalar(stmt)
