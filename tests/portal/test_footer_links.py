"""The help centre's "still need help?" footer offers the other ways in, never the page the visitor is on."""

from __future__ import annotations

import re
from typing import Any


def _footer_links(html: str) -> list[str]:
    footer = html.split('<footer class="hc-foot">', 1)[1].split("</footer>", 1)[0]
    return re.findall(r'href="([^"]+)"', footer)


def test_each_page_leaves_itself_out_of_the_footer(client: Any, make: Any, db: Any) -> None:
    from kefu.brands.service import create_inbox

    brand = make.brand()
    board = create_inbox(db, brand, kind="board", name="留言板", config={}, actor=None)
    db.commit()
    base = f"/portal/{brand.slug}"
    every = {f"{base}/new", f"{base}/track", f"{base}/callback"}
    pages = {
        base: every,
        f"{base}/new": every - {f"{base}/new"},
        f"/api/v1/channels/board/{board.id}": every - {f"{base}/new"},  # the board is a message form too
        f"{base}/track": every - {f"{base}/track"},
        f"{base}/callback": every - {f"{base}/callback"},
    }
    for url, expected in pages.items():
        r = client.get(url, params={"lang": "zh-TW"})
        assert r.status_code == 200, (url, r.status_code)
        assert set(_footer_links(r.text)) == expected, url
