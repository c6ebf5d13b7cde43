"""What a routing rule is called on a page, in the reader's locale."""

from __future__ import annotations

from collections.abc import Mapping

from kefu.core.catalog import table


def rule_title(name: str, categories: Mapping[str, str], locale: str) -> str:
    """A rule's heading: the seed rules (``category:<key>``, ``vip``) named in `locale`, an admin's own as typed."""
    strings = table(locale)
    kind, _, key = name.partition(":")
    if kind == "category" and key:
        return strings["rr_category"].format(category=categories.get(key, key))
    if name == "vip":
        return strings["rr_vip"]
    return name
