"""Errors an agent or customer reads are in their language: pages, forms and the API render catalog keys."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import kefu
from kefu.core.errors import Conflict, ProblemError

SRC = Path(kefu.__file__).resolve().parent

# Packages whose errors an agent, admin or customer meets through pages and forms: raised with `.said(key)`.
CONVERTED = [
    "tickets",
    "account_security",
    "admin",
    "auth",
    "brands",
    "callbacks",
    "care",
    "complaints",
    "compensation",
    "conversations",
    "customers",
    "followups",
    "macros",
    "notices",
    "portal",
    "qa",
    "quality",
    "security",
    "shifts",
    "surveys",
    "web",
    "workspace",
    "knowledge",
    "privacy",
    "analytics",
    "sla",
    "routing",
    "channels",
    "bot",
    "llm",
    "idempotency",
    "core",
    "ops",
]
# English-only raises still left in those packages, per file. Lower a count when you convert one; never raise it.
LEFT_ENGLISH_ONLY = {
    "auth/deps.py": 1,  # the route-scope refusal is a message kefu.auth.scopes builds
    "tickets/progress.py": 1,  # the tracking page's bilingual NO_MATCH, matched by its own tests
    "web/pages.py": 1,  # the ticket list query's first pydantic error, as pydantic words it
    "core/commands.py": 1,  # a command's pydantic errors, as pydantic words them (field paths and its English)
    # channels: protocol replies only a provider's server reads, never a customer or an agent, so English like the
    # provider's own API: webhook body too large (http, phone), Meta's verify-token challenge, the PBX's signature,
    # replay window, unknown phone inbox and malformed event (telephony), a provider webhook's signature and body
    # (service.receive_webhook).
    "channels/http.py": 1,
    "channels/messenger/api.py": 1,
    "channels/phone/api.py": 1,
    "channels/phone/telephony.py": 5,
    "channels/service.py": 2,
}


def _ticket(db: Any, brand: Any, status: str) -> Any:
    from kefu.tickets.service import create_ticket

    ticket = create_ticket(db, brand_id=brand.id, subject="退款", actor=None)
    ticket.status = status
    db.commit()
    return ticket


def test_case_page_shows_an_invalid_update_in_the_agents_language(client: Any, make: Any, db: Any) -> None:
    """The case page's refused status change reads in zh-TW, statuses by their names on the page (was English)."""
    brand = make.brand()
    agent = make.agent("agent", [brand])
    ticket = _ticket(db, brand, "open")
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    h = {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}
    bad = client.post(f"/console/tickets/{ticket.id}/fields", data={"status": "new", "priority": "high"}, headers=h)
    assert bad.status_code == 200, bad.text
    assert "工單無法從「處理中」改為「新建」。" in bad.text
    assert "Cannot move" not in bad.text


def test_api_problem_detail_in_the_readers_language(client: Any, make: Any, db: Any) -> None:
    """The same refusal through REST: Accept-Language zh-CN gets mainland text; no preference keeps the English."""
    brand = make.brand()
    headers = make.token(make.agent("agent", [brand]))
    ticket = _ticket(db, brand, "open")
    url = f"/api/v1/tickets/{ticket.id}"
    r = client.patch(url, json={"status": "new"}, headers=headers | {"Accept-Language": "zh-CN,zh;q=0.9"})
    assert r.status_code == 409, r.text
    assert r.json()["detail"] == "工单无法从“处理中”变更为“新建”。"
    r = client.patch(url, json={"status": "new"}, headers=headers)
    assert r.json()["detail"] == "Cannot move a ticket from Open to New."


def test_said_keeps_the_english_detail_for_logs_and_callers() -> None:
    """`detail` is today's English text (jobs, the CLI, tests match on it); `detail_in` renders the reader's."""
    from kefu.core.errors import Forbidden

    exc = Forbidden.said("err_auth_missing_permission", permission="tickets:write")
    assert exc.detail == "Missing permission tickets:write."
    assert exc.detail_in("zh-TW") == "缺少權限 tickets:write。"
    assert exc.detail_in("zh-CN") == "缺少权限 tickets:write。"
    # A key named like said's own argument is a field of the text, not the catalog key.
    exc = ProblemError.said("err_quality_empty", key="title")
    assert exc.detail == "title cannot be empty." and exc.detail_in("zh-TW") == "title 不可為空白。"


def test_kb_import_refusals_in_the_readers_language(client: Any, make: Any) -> None:
    """The FAQ import refusals (shape, bad rows) read in zh-TW / zh-CN; the row report stays (was English)."""
    brand = make.brand()
    h = make.token(make.agent("supervisor", [brand]))

    def send(body: bytes, ctype: str, lang: str) -> Any:
        headers = h | {"Content-Type": ctype, "Accept-Language": lang}
        return client.post("/api/v1/kb/import", params={"brand_id": brand.id}, content=body, headers=headers)

    r = send(b'{"x": 1}', "application/json", "zh-TW")
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == 'JSON 必須是 FAQ 物件的清單，或 {"faqs": [...]}。'
    r = send(b'[{"external_id": "a"}]', "application/json", "zh-CN")
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["detail"].endswith("个问题，未导入任何数据。") and body["errors"], body
    r = send(b"[]x", "application/json", "en")
    assert r.json()["detail"].startswith("Invalid JSON: ")


def test_settings_and_report_refusals_keep_english_detail_and_read_in_zh() -> None:
    """sla, routing and analytics validators raise catalog keys: English detail as before, zh-TW / zh-CN for readers."""
    from datetime import UTC, datetime

    from kefu.analytics.service import resolve_filters
    from kefu.sla.updates import check_settings

    with pytest.raises(ProblemError) as info:
        check_settings({"every_minutes": 1})
    assert info.value.detail == "progress_updates.every_minutes must be 5–1440 minutes."
    assert info.value.detail_in("zh-TW") == "progress_updates.every_minutes 必須介於 5 到 1440 分鐘。"
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(ProblemError) as info:
        resolve_filters(None, None, start=now, end=now)  # type: ignore[arg-type]
    assert info.value.detail == "start must be before end."
    assert info.value.detail_in("zh-CN") == "开始日期必须早于结束日期。"


def test_channel_admin_refusals_in_the_readers_language(client: Any, make: Any, db: Any) -> None:
    """The inbox test-send and the Cc check answer in zh-CN / zh-TW, codes kept; English without a preference."""
    from kefu.brands.service import create_inbox
    from kefu.channels.email.compose import parse_cc

    brand = make.brand()
    ib = create_inbox(db, brand, kind="email", name="mail", config={"address": "help@shop.example"}, actor=None)
    db.commit()
    h = make.token(make.agent("admin", [brand]))
    url = f"/api/v1/channels/inboxes/{ib.id}/test"
    r = client.post(url, json={"to": " ", "text": "x"}, headers=h | {"Accept-Language": "zh-CN"})
    assert r.status_code == 422, r.text
    assert (r.json()["detail"], r.json()["code"]) == ("请输入测试消息的收件人。", "need_to")
    assert client.post(url, json={"to": " ", "text": "x"}, headers=h).json()["detail"] == (
        "Enter who should receive the test."
    )
    with pytest.raises(ProblemError) as info:
        parse_cc("a@b.example, nope")
    assert info.value.detail == "Not a valid Cc address: nope" and info.value.detail_in("zh-TW") == "副本地址無效：nope"


def test_a_reference_to_another_brand_reads_in_the_readers_language(client: Any, make: Any) -> None:
    """ref_in_brand says a catalog key: an unknown team on a new ticket reads in zh-TW (was English)."""
    brand, team_id = make.brand(), 987654  # missing and foreign rows get the same refusal
    headers = make.token(make.agent("agent", [brand]))
    body = {"brand_id": brand.id, "subject": "退款", "team_id": team_id}
    r = client.post("/api/v1/tickets", json=body, headers=headers | {"Accept-Language": "zh-TW"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == f"此品牌沒有團隊 {team_id}。"
    r = client.post("/api/v1/tickets", json=body, headers=headers)
    assert r.json()["detail"] == f"Team {team_id} does not exist in this brand."


def test_an_inbox_setting_of_the_wrong_type_reads_in_the_admins_language() -> None:
    """brands' settings check says a key per expected type: English as before, zh-TW / zh-CN for the admin."""
    from kefu.brands.service import validate_settings

    with pytest.raises(ProblemError) as info:
        validate_settings("email", {"smtp_port": "x"})
    assert info.value.detail == "Setting 'smtp_port' of a email inbox must be a whole number between 0 and 1000000."
    assert info.value.detail_in("zh-TW") == "email 收件匣的設定「smtp_port」必須是 0 到 1000000 之間的整數。"
    assert info.value.detail_in("zh-CN") == "email 收件箱的设置“smtp_port”必须是 0 到 1000000 之间的整数。"


def _page_modules() -> list[Path]:
    return sorted({*SRC.glob("**/pages.py"), *(SRC / "web").glob("*.py")})


def test_pages_read_problem_text_only_through_error_text() -> None:
    """No page module reads `exc.detail` (English): kefu.web.i18n.error_text renders it in the page's language."""
    allowed = {
        ("web/i18n.py", "error_text"),  # the one place
        ("web/problems.py", "_http"),  # Starlette's HTTPException, not a ProblemError: no catalog key
    }
    found = []

    def scan(rel: str, node: ast.AST, where: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if (rel, node.name) in allowed:
                return
            where = node.name
        if isinstance(node, ast.Attribute) and node.attr == "detail" and isinstance(node.ctx, ast.Load):
            found.append(f"{rel}:{node.lineno} in {where}")
        for child in ast.iter_child_nodes(node):
            scan(rel, child, where)

    for path in _page_modules():
        rel = path.relative_to(SRC).as_posix()
        scan(rel, ast.parse(path.read_text(encoding="utf-8")), "<module>")
    assert found == [], "use kefu.web.i18n.error_text(ctx_or_request, exc)"


def _problem_classes() -> set[str]:
    """Names of every ProblemError class the converted packages can raise."""
    for pkg in CONVERTED:
        module = importlib.import_module(f"kefu.{pkg}")
        for info in pkgutil.walk_packages(getattr(module, "__path__", []), f"kefu.{pkg}."):
            if info.name != "kefu.web.main":  # the serve target wires a process (and settles its GC) at import
                importlib.import_module(info.name)
    seen: set[type] = set()
    todo: list[type] = [ProblemError]
    while todo:
        cls = todo.pop()
        seen.add(cls)
        todo.extend(c for c in cls.__subclasses__() if c not in seen)
    return {c.__name__ for c in seen if inspect.isclass(c)}


@functools.cache
def _english_only_raises() -> Counter[str]:
    names = _problem_classes()
    found: Counter[str] = Counter()
    for pkg in CONVERTED:
        for path in sorted((SRC / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                call = node.exc if isinstance(node, ast.Raise) else None
                # `raise X("text")` (not `raise X.said("err_…")`): the detail exists in English only.
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in names:
                    found[path.relative_to(SRC).as_posix()] += 1
    return found


@pytest.mark.parametrize("pkg", CONVERTED)
def test_no_new_english_only_error_in_converted_packages(pkg: str) -> None:
    """A raise in a converted package uses a catalog key (`X.said("err_<package>_<what>", **fields)`).

    The allow-list only shrinks: when you convert one of the listed sites, lower its count.
    """
    found = {f: n for f, n in _english_only_raises().items() if f.startswith(f"{pkg}/")}
    allowed = {f: n for f, n in LEFT_ENGLISH_ONLY.items() if f.startswith(f"{pkg}/")}
    assert found == allowed, "write the error in src/kefu/locale/*/messages.po and raise it with .said(key)"


# ---------------------------------------------------------------- task `text`: channels, core, ops, KB rows, titles

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _widget(client: Any, db: Any, make: Any) -> dict[str, str]:
    from kefu.brands.service import create_inbox

    brand = make.brand()
    ib = create_inbox(db, brand, kind="web_chat", name="chat", config={"initial_status": "open"}, actor=None)
    db.commit()
    r = client.post("/api/v1/widget/session", json={"inbox_id": ib.id, "brand": brand.slug})
    assert r.status_code == 200, r.text
    return {"X-Kefu-Visitor": r.json()["visitor_token"]}


def test_web_chat_visitor_errors_in_the_visitors_language(client: Any, make: Any, db: Any) -> None:
    """The widget's own API (messages, uploads, session) answers zh-TW / zh-CN; English without a preference."""
    vh = _widget(client, db, make)

    def detail(r: Any, status: int) -> str:
        assert r.status_code == status, r.text
        return str(r.json()["detail"])

    empty = {"body": " "}
    r = client.post("/api/v1/widget/messages", json=empty, headers=vh | {"Accept-Language": "zh-TW"})
    assert detail(r, 422) == "請輸入訊息或附加檔案。"
    assert detail(client.post("/api/v1/widget/messages", json=empty, headers=vh), 422) == "Empty message."
    html = {"file": ("x.html", b"<html>", "text/html")}
    r = client.post("/api/v1/widget/attachments", files=html, headers=vh | {"Accept-Language": "zh-CN"})
    assert detail(r, 422) == "只能上传图片（jpeg、png、gif、webp）或视频（mp4、webm、mov）。"
    spoofed = {"file": ("x.png", b"<svg onload=1>", "image/png")}
    r = client.post("/api/v1/widget/attachments", files=spoofed, headers=vh | {"X-Kefu-Locale": "zh-TW"})
    assert detail(r, 422) == "檔案內容與檔案類型不符，請確認後再上傳。"
    r = client.post("/api/v1/widget/attachments", files=spoofed, headers=vh)
    assert detail(r, 422) == "File content does not match its type."
    r = client.get("/api/v1/channels/attachments/987654", headers=vh | {"Accept-Language": "zh-TW"})
    assert detail(r, 404) == "找不到附件。"
    r = client.get("/api/v1/channels/attachments/987654", headers={"Accept-Language": "zh-CN"})
    assert detail(r, 401) == "需要访客凭证或客服登录；请回到对话中再打开这个文件。"
    r = client.post("/api/v1/widget/messages", json={"body": "x"}, headers={"Accept-Language": "zh-CN"})
    assert detail(r, 401) == "需要访客令牌。"
    r = client.post("/api/v1/widget/session", json={"inbox_id": 987654}, headers={"Accept-Language": "zh-TW"})
    assert detail(r, 404) == "找不到收件匣 987654，請確認連結是否正確。"
    assert detail(client.post("/api/v1/widget/session", json={"inbox_id": 987654}), 404) == "Inbox 987654 not found."


def test_board_and_rate_limit_refusals_in_the_customers_language(client: Any, make: Any, db: Any) -> None:
    """The message board's body refusals and a used-up rate limit read in zh-TW / zh-CN (were English)."""
    from datetime import timedelta

    from kefu.brands.service import create_inbox
    from kefu.core.errors import TooManyRequests
    from kefu.core.ratelimit import RouteLimit

    brand = make.brand()
    ib = create_inbox(db, brand, kind="board", name="board", config={}, actor=None)
    db.commit()
    url = f"/api/v1/channels/board/{ib.id}"
    r = client.post(url, json=["x"], headers={"Accept-Language": "zh-TW"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "留言必須以 JSON 物件送出，請檢查格式後再試一次。"
    r = client.post(url, content=b"{", headers={"Content-Type": "application/json", "Accept-Language": "zh-CN"})
    assert r.json()["detail"] == "无法读取提交的留言，请刷新页面后重新提交。"
    assert client.post(url, json=["x"]).json()["detail"] == "A JSON object is required."

    limit = RouteLimit("text_test", per_ip=0, window=timedelta(minutes=1), detail_key="err_channels_board_too_many")
    with pytest.raises(TooManyRequests) as info:
        limit.hit(db, "192.0.2.1")
    assert info.value.detail == "Too many messages; please try again later."
    assert info.value.detail_in("zh-TW") == "留言次數過多，請稍後再試。"
    assert info.value.extra == {"retry_after": 60}


def test_bot_answer_votes_and_cc_say_their_keys() -> None:
    """Feedback refusals and the Cc check carry catalog keys (the widget and the reply form show them)."""
    from kefu.channels.email.compose import BadAddress, parse_cc

    with pytest.raises(BadAddress) as info:
        parse_cc("nope")
    assert (info.value.value, info.value.detail_in("zh-CN")) == ("nope", "抄送地址无效：nope")
    exc = Conflict.said("err_channels_already_rated")
    assert exc.detail == "This answer has already been rated."
    assert exc.detail_in("zh-TW") == "這則回覆已經評分過了，謝謝您的回饋。"


def test_core_not_found_and_cursor_in_the_readers_language(client: Any, make: Any) -> None:
    """get_in_brand's 404 names the thing as the reader calls it; a bad cursor reads in zh-CN; English unchanged."""
    brand = make.brand()
    h = make.token(make.agent("agent", [brand]))
    r = client.get("/api/v1/tickets/987654", headers=h | {"Accept-Language": "zh-TW"})
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == "找不到工單 987654。"
    r = client.get("/api/v1/customers/987654", headers=h | {"Accept-Language": "zh-CN"})
    assert r.json()["detail"] == "找不到客户 987654。"
    assert client.get("/api/v1/tickets/987654", headers=h).json()["detail"] == "Ticket 987654 not found."
    r = client.get("/api/v1/tickets", params={"cursor": "!!"}, headers=h | {"Accept-Language": "zh-CN"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "分页位置无效，请从第一页重新加载。"
    assert client.get("/api/v1/tickets", params={"cursor": "!!"}, headers=h).json()["detail"] == "Malformed cursor."


def test_every_thing_get_in_brand_names_has_a_catalog_name() -> None:
    """Each `what` passed to get_in_brand / ensure_brand ("Ticket", f"Customer {id}") is named in every catalog."""
    from kefu.core.access import not_found
    from kefu.core.catalog import LOCALES, table

    nouns = {"Resource"}  # ensure_brand's default
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            at = {"ensure_brand": 2, "get_in_brand": 4}.get(str(name))
            if at is None or len(node.args) <= at:
                continue
            arg = node.args[at]
            if isinstance(arg, ast.Constant):
                nouns.add(str(arg.value))
            elif isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
                nouns.add(str(arg.values[0].value).strip())  # f"Customer {customer_id}"
    assert len(nouns) > 30
    for noun in sorted(nouns):
        exc = not_found(noun)
        assert exc.detail == f"{noun} not found."
        for loc in LOCALES:
            label = exc.params["what"]
            assert isinstance(label, str) and getattr(label, "label_key", "") in table(loc), (noun, loc)
    assert not_found("Macro 7").detail_in("zh-CN") == "找不到宏 7。"


def test_ops_job_refusals_in_the_admins_language(client: Any, make: Any) -> None:
    """Retrying a missing job reads in zh-TW; a one-brand admin's refusal in zh-CN; English unchanged."""
    admin = make.token(make.agent("admin"))
    r = client.post("/api/v1/ops/jobs/987654/retry", headers=admin | {"Accept-Language": "zh-TW"})
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == "找不到背景工作 987654。"
    assert client.post("/api/v1/ops/jobs/987654/retry", headers=admin).json()["detail"] == "Job 987654 not found."
    from types import SimpleNamespace

    from kefu.ops.service import ensure_operator

    one_brand = SimpleNamespace(can=lambda _perm: True, brand_ids=frozenset({1}))  # brands:manage on one brand
    with pytest.raises(ProblemError) as info:
        ensure_operator(one_brand)  # type: ignore[arg-type]
    assert info.value.detail == "Operating background jobs needs brands:manage on every brand."
    assert info.value.detail_in("zh-CN") == "管理后台任务需要所有品牌的 brands:manage 权限，请联系系统管理员。"


_ROWS = b'[{"id": "a", "question": "q", "answer": "x", "published": "maybe"}, {"id": "", "answer": "y"}]'


def test_kb_import_row_report_in_the_readers_language(client: Any, make: Any) -> None:
    """Each bad row's message reads in zh-TW / zh-CN, with a stable `code`; English without a preference."""
    brand = make.brand()
    h = make.token(make.agent("supervisor", [brand])) | {"Content-Type": "application/json"}
    url, params = "/api/v1/kb/import", {"brand_id": brand.id}

    def rows(lang: str | None, dry_run: bool = False) -> list[tuple[int, str, str]]:
        headers = h | ({"Accept-Language": lang} if lang else {})
        r = client.post(url, params=params | {"dry_run": dry_run}, content=_ROWS, headers=headers)
        assert r.status_code == (200 if dry_run else 422), r.text
        return [(e["row"], e["code"], e["message"]) for e in r.json()["errors"]]

    assert rows("zh-TW") == [
        (1, "published_invalid", "'maybe' 不是「是／否」的值，請填 yes 或 no。"),
        (2, "id_required", "請填寫 id（外部編號）。"),
        (2, "question_required", "請填寫問題。"),
    ]
    assert rows("zh-CN", dry_run=True)[1:] == [
        (2, "id_required", "请填写 id（外部编号）。"),
        (2, "question_required", "请填写问题。"),
    ]
    assert rows(None) == [
        (1, "published_invalid", "Not a yes/no value: 'maybe'."),
        (2, "id_required", "An id (external id) is required."),
        (2, "question_required", "A question is required."),
    ]


def test_kb_import_preview_page_lists_rows_in_the_page_language(client: Any, make: Any) -> None:
    """The admin upload preview's row table is in the agent's language (zh-CN here), not English."""
    brand = make.brand()
    agent = make.agent("supervisor", [brand])
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    h = {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}
    files = {"file": ("faq.json", _ROWS, "application/json")}
    page = client.post("/admin/kb/import/preview?lang=zh-CN", data={"brand_id": str(brand.id)}, files=files, headers=h)
    assert page.status_code == 200, page.text
    assert "请填写 id（外部编号）。" in page.text and "请填写问题。" in page.text
    assert "An id (external id) is required." not in page.text


def test_problem_title_in_the_readers_language(client: Any, make: Any) -> None:
    """problem+json `title` follows Accept-Language like `detail`; type/status unchanged; English by default."""
    brand = make.brand()
    h = make.token(make.agent("agent", [brand]))
    r = client.get("/api/v1/tickets/987654", headers=h | {"Accept-Language": "zh-TW"})
    body = r.json()
    assert (body["type"], body["status"], body["title"]) == ("about:blank", 404, "找不到")
    r = client.get("/api/v1/tickets/987654", headers=h | {"Accept-Language": "zh-CN"})
    assert r.json()["title"] == "找不到"
    assert client.get("/api/v1/tickets/987654", headers=h).json()["title"] == "Not found"
    r = client.get("/api/v1/tickets", params={"cursor": "!!"}, headers=h | {"Accept-Language": "zh-CN"})
    assert r.json()["title"] == "输入有误"
    r = client.get("/api/v1/tickets", params={"limit": "x"}, headers=h | {"Accept-Language": "zh-TW"})
    assert (r.status_code, r.json()["title"]) == (422, "請求格式不正確")
    r = client.get("/api/v1/no-such-route", headers={"Accept-Language": "zh-TW"})
    assert (r.status_code, r.json()["title"]) == (404, "找不到")
    assert client.get("/api/v1/no-such-route").json()["title"] == "Not Found"
    r = client.post("/api/v1/widget/messages", json={"body": "x"}, headers={"Accept-Language": "zh-CN"})
    assert (r.status_code, r.json()["title"]) == (401, "需要登录")


def test_every_problem_title_has_a_catalog_entry() -> None:
    """Every title kefu raises (class titles, `title=` arguments) and the HTTP phrases are in every catalog."""
    from http import HTTPStatus

    from kefu.core.catalog import LOCALES
    from kefu.web.i18n import title_text

    titles = {c.title for c in _all_problem_classes()} | {"Validation failed", "Internal server error"}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id == "FastAPI"):
                for kw in node.keywords:
                    if kw.arg == "title" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                        titles.add(kw.value.value)
    titles |= {s.phrase for s in HTTPStatus if 400 <= s.value < 600 and s.value in _SEEN_STATUSES}
    missing = sorted(t for t in titles for loc in LOCALES if loc != "en" and title_text(t, loc) == t)
    assert missing == [], "add ptitle_<title> to the catalogs"


# Statuses kefu answers (Starlette's own: unknown route and method, body limits, media type).
_SEEN_STATUSES = {400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503}


def _all_problem_classes() -> list[type[ProblemError]]:
    _problem_classes()  # imports every converted package
    seen: list[type[ProblemError]] = []
    todo: list[type[ProblemError]] = [ProblemError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(c for c in cls.__subclasses__() if c not in seen)
    return seen
