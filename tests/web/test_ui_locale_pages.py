"""Pages as each locale's users read them: error pages inside the console, the message board's errors, case history
labels and notification titles in the reader's language (docs/DEVELOPING.md "Names that used to leak")."""

from __future__ import annotations

import ast
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_admin_pages import _login

SRC = Path(__file__).resolve().parents[2] / "src" / "kefu"
# A Chinese sentence (4+ characters in a row) and an English one (3+ words) in the same literal.
CJK_SENTENCE = re.compile(r"[\u3400-\u9fff][\u3400-\u9fff，、：；]{3,}")
LATIN_SENTENCE = re.compile(r"[A-Za-z]+(?:[ ,'-]+[A-Za-z]+){2,}")


def _console_chrome(html: str, name: str) -> None:
    assert 'id="console-nav"' in html  # the navigation
    assert 'action="/logout"' in html and name in html  # who is signed in and the way out
    assert 'class="langs"' in html


# ---------------------------------------------------------------- 1. error pages inside the console


@pytest.mark.parametrize(("lang", "text"), [("en", "You don't have permission"), ("zh-CN", "权限")])
def test_403_page_keeps_the_console_layout(client: Any, make: Any, lang: str, text: str) -> None:
    brand = make.brand()
    agent = make.agent("agent", [brand])
    _login(client, agent)
    r = client.get("/admin", params={"lang": lang}, headers={"Referer": "http://testserver/console/tickets?view=mine"})
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    _console_chrome(r.text, agent.name)
    assert f'<html lang="{lang}">' in r.text and text in unescape(r.text)
    assert 'href="/console/tickets?view=mine"' in r.text  # back where they came from
    assert 'href="/console"' in r.text


def test_403_page_in_the_agents_own_locale(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    agent = make.agent("agent", [brand])
    agent.locale = "en"
    db.commit()
    _login(client, agent)
    r = client.get("/admin")
    assert r.status_code == 403 and '<html lang="en">' in r.text and "You don't have permission" in unescape(r.text)
    _console_chrome(r.text, agent.name)
    assert 'href="/console"' in r.text  # no (or a foreign) Referer: back to the inbox


@pytest.mark.parametrize("path", ["/console/tickets/987654321", "/console/no-such-page", "/admin/nope", "/ops/nope"])
def test_404_inside_the_console_keeps_the_layout(client: Any, make: Any, path: str) -> None:
    brand = make.brand()
    agent = make.agent("admin", [brand])
    _login(client, agent)
    r = client.get(path, params={"lang": "en"}, headers={"Referer": "https://evil.example/console"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    _console_chrome(r.text, agent.name)
    assert "We couldn't find that page." in unescape(r.text)
    assert "evil.example" not in r.text


def test_404_signed_out_has_no_console_chrome(client: Any) -> None:
    r = client.get("/console/no-such-page", params={"lang": "en"}, follow_redirects=False)
    assert r.status_code in (303, 404)
    if r.status_code == 404:
        assert 'id="console-nav"' not in r.text


# ---------------------------------------------------------------- 2. public forms in the customer's language


def _board(make: Any, db: Any, locale: str = "zh-TW") -> Any:
    from kefu.brands.service import create_inbox

    brand = make.brand(default_locale=locale)
    inbox = create_inbox(db, brand, kind="board", name="留言板", config={}, actor=None)
    db.commit()
    return inbox


@pytest.mark.parametrize(
    ("params", "headers", "want", "not_want"),
    [
        ({"lang": "en"}, {}, "Please fill in", "請填寫"),
        ({"lang": "zh-CN"}, {}, "请填写", "Please"),
        ({}, {"Accept-Language": "en-US,en;q=0.9"}, "Please fill in", "請填寫"),
        ({}, {"Accept-Language": "zh-CN,zh;q=0.9"}, "请填写", "Please"),
        ({}, {}, "請填寫", "Please"),  # the brand's language
    ],
)
def test_board_json_error_in_the_customers_language(
    client: Any, make: Any, db: Any, params: dict[str, str], headers: dict[str, str], want: str, not_want: str
) -> None:
    inbox = _board(make, db)
    r = client.post(f"/api/v1/channels/board/{inbox.id}", params=params, headers=headers, json={"name": "A"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    detail = r.json()["detail"]
    assert want in detail and not_want not in detail


@pytest.mark.parametrize(("lang", "want"), [("en", "Please fill in"), ("zh-CN", "请填写"), ("zh-TW", "請填寫")])
def test_board_form_error_reshows_the_form(client: Any, make: Any, db: Any, lang: str, want: str) -> None:
    inbox = _board(make, db)
    r = client.post(
        f"/api/v1/channels/board/{inbox.id}",
        params={"lang": lang},
        data={"name": "Alice <b>", "contact": "alice@example.com", "message": "", "submission_id": "abcdefgh1234"},
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert f'<html lang="{lang}">' in r.text and want in r.text and 'role="alert"' in r.text
    assert 'value="Alice &lt;b&gt;"' in r.text and 'value="alice@example.com"' in r.text  # input kept, escaped
    assert 'name="message"' in r.text and "<form" in r.text


def _mixed(text: str) -> bool:
    return bool(CJK_SENTENCE.search(text)) and bool(LATIN_SENTENCE.search(text))


def _raised_literals(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for arg in [*node.exc.args, *(k.value for k in node.exc.keywords)]:
                for sub in ast.walk(arg):
                    if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                        out.append((node.lineno, sub.value))
    return out


def test_no_bilingual_literals_in_raised_errors() -> None:
    """A raised error is written in one language (the reader's, from the catalogs), never "English. 中文。"."""
    assert _mixed("Please fill in name. 請填寫姓名。") and not _mixed("請填寫姓名、聯絡方式與留言。")
    assert not _mixed("Unknown category 投訴.")  # a value quoted in an English sentence is not a second language
    found = [
        f"{path.relative_to(SRC)}:{line}: {text}"
        for path in sorted(SRC.rglob("*.py"))
        for line, text in _raised_literals(ast.parse(path.read_text(encoding="utf-8")))
        if _mixed(text)
    ]
    assert not found, "\n".join(found)


# ---------------------------------------------------------------- 3. case history labelled


def _history(html: str) -> str:
    start = html.index('id="hist-h"')
    return html[start : html.index("</section>", start)]


RAW_KEYS = (
    "status",
    "priority",
    "assignee_id",
    "team_id",
    "tags",
    "category",
    "subject",
    "custom_fields",
    "language",
    "public",
    "activity_id",
    "number",
    "target",
    "kind",
    "from",
    "reason",
    "None",
)


@pytest.mark.parametrize("lang", ["zh-TW", "zh-CN", "en"])
def test_case_history_has_no_raw_keys(client: Any, make: Any, db: Any, lang: str) -> None:
    from kefu.auth.service import create_team, principal_for
    from kefu.routing.service import assign
    from kefu.tickets.links import link_tickets
    from kefu.tickets.service import add_comment, create_ticket, update_ticket

    brand = make.brand(timezone="Asia/Taipei")
    admin = make.agent("admin", [brand])
    agent = make.agent("agent", [brand])
    team = create_team(db, brand_id=brand.id, slug="billing-x", name="帳務組", description="", actor=None)
    actor = principal_for(db, admin, "session", 0, None)
    ticket = create_ticket(db, actor=actor, brand_id=brand.id, subject="查詢", description="d")
    other = create_ticket(db, actor=actor, brand_id=brand.id, subject="另一件", description="d")
    update_ticket(
        db,
        ticket,
        actor,
        {"status": "open", "priority": "high", "tags": ["vip"], "subject": "查詢帳單", "language": "zh-TW"},
    )
    update_ticket(db, ticket, actor, {"team_id": team.id})
    assign(db, ticket, agent, actor, reason="round_robin")
    add_comment(db, ticket, actor, body="內部備註", public=False)
    link_tickets(db, ticket, other, "related", actor)
    update_ticket(db, ticket, actor, {"status": "pending"})
    db.commit()
    _login(client, admin)
    html = client.get(f"/console/tickets/{ticket.id}", params={"lang": lang}).text
    hist = _history(html)
    for key in RAW_KEYS:
        assert not re.search(rf"(?<![\w/-]){key}(?![\w-])", re.sub(r"<[^>]+>", " ", hist)), (key, hist)
    if lang != "en":
        for raw in ("open", "high", "pending", "round_robin", "related"):
            assert not re.search(rf"\b{raw}\b", re.sub(r"<[^>]+>", " ", hist)), raw
    assert agent.name in hist and other.number in hist
    assert {"zh-TW": "帳務組", "zh-CN": "帐务组", "en": "帳務組"}[lang] in hist  # zh-CN: Simplified script


def test_every_audit_detail_key_has_a_label_in_three_locales() -> None:
    """Every detail key a ticket's audit entries carry (every record(target_type="ticket") call) is labelled."""
    from kefu.tickets.history import KNOWN_ACTIONS, Names, describe

    names = Names(
        agents={7: "林小美"},
        teams={3: "財務組"},
        tickets={9: "KF-9"},
        categories={"refund": ("退款", "Refund")},
        fields={"order_no": ("訂單編號", "Order no.")},
        tz="Asia/Taipei",
    )
    samples: dict[str, dict[str, Any]] = {
        "ticket.update": {
            "status": ["new", "open"],
            "priority": ["normal", "urgent"],
            "assignee_id": ["None", "7"],
            "team_id": ["3", "None"],
            "tags": ["[]", "['vip', 'refund']"],
            "category": ["None", "refund"],
            "subject": ["a", "b"],
            "custom_fields": ["{}", "{'order_no': 'A1'}"],
            "language": ["zh-TW", "en"],
        },
        "ticket.assign": {"from": None, "to": 7, "reason": "least_loaded"},
        "macro.apply": {"macro_id": 1, "macro": "退款", "changed": ["status", "tags"], "reply": True},
        "survey.csat_sent": {"survey_id": 2, "channel": "line"},
        "survey.csat_answered": {"survey_id": 2, "rating": 4},
        "ticket.create": {"number": "KF-9"},
        "ticket.comment": {"public": False, "activity_id": 5},
        "ticket.link": {"target": 9, "kind": "parent_child"},
        "ticket.unlink": {"link": 4, "kind": "duplicate"},
        "ticket.merge": {"sources": [9]},
        "security_step.record": {"step": "identity_verified", "at": "2026-12-06T06:51:00+00:00", "source": "webhook"},
        "security_freeze.request": {"request_id": 3},
    }
    assert set(samples) == set(KNOWN_ACTIONS)
    for locale in ("zh-TW", "zh-CN", "en"):
        for action, details in samples.items():
            lines = describe(action, details, locale, names)
            text = " ".join(f"{label} {value}" for label, value in lines)
            assert len(lines) >= 1, action
            for key in details:
                assert not re.search(rf"(?<![\w:]){key}(?![\w])", text), (locale, action, key, text)
            assert "None" not in text and "True" not in text and "False" not in text
            if locale != "en":
                for raw in ("urgent", "least_loaded", "parent_child", "identity_verified", "webhook", "line"):
                    assert raw not in text, (locale, raw, text)
        # The reserved fields a complaint sets (kefu.complaints) are named too, not shown as complaint_level: normal.
        reserved = describe(
            "ticket.update",
            {"custom_fields": ["{}", "{'complaint_level': 'major', 'regulator_case': True}"]},
            locale,
            names,
        )
        text = " ".join(value for _, value in reserved)
        assert "complaint_level" not in text and "major" not in text and "regulator_case" not in text, text
        assert {"zh-TW": "客訴等級", "zh-CN": "投诉等级", "en": "Complaint level"}[locale] in text, text
        stamp = dict(describe("security_step.record", samples["security_step.record"], locale, names))
        assert "14:51" in " ".join(stamp.values()) or "2:51" in " ".join(stamp.values())  # UTC+8, not UTC


# ---------------------------------------------------------------- 4. notification titles follow the page locale


def test_notification_titles_follow_the_page_locale(client: Any, make: Any, db: Any) -> None:
    from kefu.sla.notifications import localized, notify

    brand = make.brand()
    agent = make.agent("agent", [brand])  # zh-TW by default
    notify(db, [agent.id], "ticket.assigned", localized("notif_ticket_assigned", number="KF-77"), brand_id=brand.id)
    notify(db, [agent.id], "custom", "一則舊通知", brand_id=brand.id)  # stored text only: shown as stored
    db.commit()
    _login(client, agent)
    from kefu.core.catalog import gettext

    for lang in ("en", "zh-CN", "zh-TW"):
        page = client.get("/console/notifications", params={"lang": lang}).text
        assert gettext("notif_ticket_assigned", lang).format(number="KF-77") in page
        for other in {"en", "zh-CN", "zh-TW"} - {lang}:
            assert gettext("notif_ticket_assigned", other).format(number="KF-77") not in page
        assert "一則舊通知" in page


def test_live_notification_carries_a_title_per_locale(db: Any, make: Any) -> None:
    from kefu.core.catalog import gettext
    from kefu.sla.notifications import localized, notification_event, notify

    brand = make.brand()
    agent = make.agent("agent", [brand])
    (n,) = notify(
        db, [agent.id], "ticket.assigned", localized("notif_ticket_assigned", number="KF-5"), brand_id=brand.id
    )
    event = notification_event(n)
    assert event["title"] == gettext("notif_ticket_assigned", "zh-TW").format(number="KF-5")  # the agent's own
    assert event["titles"]["en"] == gettext("notif_ticket_assigned", "en").format(number="KF-5")
    (plain,) = notify(db, [agent.id], "custom", "純文字", brand_id=brand.id)
    assert notification_event(plain)["titles"] == {}
