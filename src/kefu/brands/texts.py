"""Text kefu writes into a record when it creates it (an automatic ticket subject, a call's summary line).

Such text is stored, searched, edited by agents and mailed to customers, so like a helpdesk's automatic subjects
it is written once, in the brand's default language (zh-TW, zh-CN or en), never as a bilingual fixed string.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kefu.brands.models import Brand
from kefu.core.catalog import DEFAULT_LOCALE, gettext


def brand_locale(session: Session, brand_id: int) -> str:
    """The brand's default language (the site default for an unknown brand)."""
    brand = session.get(Brand, brand_id)
    return brand.default_locale if brand is not None and brand.default_locale else DEFAULT_LOCALE


def brand_text(session: Session, brand_id: int, key: str, **fields: object) -> str:
    """The catalog text `key` in the brand's default language, with `fields` filled in."""
    return gettext(key, brand_locale(session, brand_id)).format(**fields)
