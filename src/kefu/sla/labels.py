"""What an SLA target is called on a page or in a notification, in the reader's locale, from its structured values.

A target is its kind (first response, resolution…) or, for a milestone, its key (``task_force``), with an amount
and a unit. Stored free-text labels ("reply within 1 business day") are never shown: they were written in one
language. Known milestone keys have names in the catalogs (``sla_ms_<key>``); an admin's own key is shown as typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kefu.core.catalog import table
from kefu.core.seedtext import seed_text
from kefu.sla.policy import DEFAULT_POLICIES


def target_name(kind: str, key: str | None, locale: str) -> str:
    """The target's name: its kind's (首次回覆 · First response), or for a milestone the milestone's own."""
    strings = table(locale)
    if kind == "milestone":
        key = key or ""
        return strings.get(f"sla_ms_{key}") or key.replace("_", " ")
    return strings.get(f"tk_{kind}", kind)


def duration_text(amount: int, unit: str, locale: str) -> str:
    """ "8 business hours", "上班時間 8 小時", "1 个工作日" (English singular for one)."""
    strings = table(locale)
    if amount == 1 and f"sla_dur_one_{unit}" in strings:
        return strings[f"sla_dur_one_{unit}"]
    return strings.get(f"sla_dur_{unit}", "{n} " + unit).format(n=amount)


def target_text(target: Mapping[str, Any], locale: str) -> str:
    """Name and time allowed: "首次回覆：1 個工作天內", "First response: within 8 business hours"."""
    name = target_name(str(target.get("kind", "")), target.get("key") or target.get("label"), locale)
    amount, unit = target.get("amount"), target.get("unit")
    if not isinstance(amount, int) or not isinstance(unit, str):
        return name
    return table(locale)["sla_target_within"].format(name=name, time=duration_text(amount, unit, locale))


def snapshot_targets(policy: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """A ticket's policy snapshot's targets by key (the kind, or the milestone's label), as target_text reads them."""
    out: dict[str, dict[str, Any]] = {}
    for t in (policy or {}).get("targets") or []:
        if isinstance(t, dict) and t.get("kind"):
            key = t.get("label") if t["kind"] == "milestone" else t["kind"]
            out[str(key)] = {"kind": t["kind"], "key": key, "amount": t.get("amount"), "unit": t.get("unit")}
    return out


def seed_description(name: str, locale: str) -> str | None:
    """A seed policy's description in `locale` (catalog ``slap_<name>``), None for a policy that is not a seed."""
    return table(locale).get("slap_" + _seed_key(name))


def _seed_key(name: str) -> str:
    return name.replace(".", "_")


def policy_title(name: str, locale: str) -> str:
    """A policy's heading: a seed policy's name in `locale` (catalog ``slapn_<name>``), an admin's own as typed."""
    return table(locale).get("slapn_" + _seed_key(name)) or name


def policy_description(name: str, description: str | None, locale: str) -> str:
    """A policy's stored description for a reader: the seed's in `locale` while unchanged, else as typed."""
    originals = [p.description or "" for p in DEFAULT_POLICIES if p.name == name]
    return seed_text("slap_" + _seed_key(name), description, locale, originals)


def calendar_name(name: str, locale: str) -> str:
    """A business calendar's name: the seed calendars' (catalog ``slacal_<name>``) in `locale`, an admin's as typed."""
    return table(locale).get("slacal_" + name) or name


def holiday_set_name(name: str, locale: str) -> str:
    """A holiday set's name: a region's (``hs_tw``) or a bundled year's ("Taiwan (2026, bundled)")."""
    strings = table(locale)
    if f"hs_{name}" in strings:
        return strings[f"hs_{name}"]
    region, _, year = name.rpartition("_")
    if year.isdigit() and f"hs_region_{region}" in strings:
        return strings["hs_year"].format(region=strings[f"hs_region_{region}"], year=year)
    return name
