"""422 validation messages and the 503 outage detail in the reader's language; `type` and `loc` never change."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

# Latin letters a Chinese message may carry: the names it quotes (JSON, UUID, true/false, the example offsets).
_LATIN_OK = re.compile(r"JSON|object|array|UUID|true|false|T|[0-9:+\-]")


def _latin(text: str) -> str:
    return re.sub(r"[^A-Za-z]", "", _LATIN_OK.sub("", text))


def _bad_ticket(client: Any, make: Any, lang: str | None) -> Any:
    brand = make.brand()
    headers = make.token(make.agent("admin", [brand])) | ({"Accept-Language": lang} if lang else {})
    body = {"brand_id": "abc", "subject": "x" * 501, "priority": "whenever", "tags": ["t"] * 51}
    r = client.post("/api/v1/tickets", json=body, headers=headers)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    return r.json()


def _by_type(body: dict[str, Any]) -> dict[str, str]:
    return {e["type"]: e["msg"] for e in body["errors"]}


def test_zh_tw_and_zh_cn_read_their_own_messages_with_the_limits_filled_in(client: Any, make: Any) -> None:
    tw, cn, en, none = (_bad_ticket(client, make, lang) for lang in ("zh-TW", "zh-CN,zh;q=0.9", "en-US", None))
    assert [(e["loc"], e["type"]) for e in tw["errors"]] == [(e["loc"], e["type"]) for e in none["errors"]]
    assert set(_by_type(tw)) == {"int_parsing", "string_too_long", "enum", "too_long"}
    assert _by_type(tw)["int_parsing"] == "請輸入整數。" and _by_type(cn)["int_parsing"] == "请输入整数。"
    assert (
        _by_type(tw)["string_too_long"] == "最多 500 個字。" and _by_type(cn)["string_too_long"] == "最多 500 个字符。"
    )
    assert _by_type(tw)["too_long"] == "最多 50 項。" and _by_type(cn)["too_long"] == "最多 50 项。"
    assert _by_type(tw)["enum"].startswith("只能是下列其中之一：low、normal") and " or " not in _by_type(cn)["enum"]
    assert tw["detail"] == "送出的資料有 4 處不正確，請依各項說明修正。" and tw["title"] != "Validation failed"
    assert cn["detail"] == "提交的数据有 4 处不正确，请按各项说明修改。"
    assert _by_type(en)["string_too_long"] == "At most 500 characters."
    # No preference: what API clients have always read.
    assert none["detail"] == "The request did not validate."
    assert _by_type(none)["string_too_long"] == "String should have at most 500 characters"
    for body in (tw, cn):
        assert all(not _latin(e["msg"]) for e in body["errors"] if e["type"] != "enum"), body["errors"]


def test_missing_fields_and_broken_json_in_zh(client: Any, make: Any) -> None:
    brand = make.brand()
    headers = make.token(make.agent("admin", [brand]))
    r = client.post("/api/v1/tickets", json={}, headers=headers | {"Accept-Language": "zh-TW"})
    assert {e["msg"] for e in r.json()["errors"]} == {"這個欄位必填。"}
    assert {e["type"] for e in r.json()["errors"]} == {"missing"}
    broken = headers | {"Accept-Language": "zh-CN", "Content-Type": "application/json"}
    r = client.post("/api/v1/tickets", content=b'{"subject": ', headers=broken)
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "json_invalid"
    assert r.json()["errors"][0]["msg"] == "JSON 格式错误，无法解析。"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Any = Field(default=None)
    n: int = Field(default=1, ge=1, le=5)
    name: str = Field(default="ab", min_length=2)


@pytest.mark.parametrize(
    ("data", "kind", "tw", "cn", "en"),
    [
        ({"zzz": 1}, "extra_forbidden", "不接受這個欄位。", "不接受此字段。", "This field is not allowed."),
        ({"n": 9}, "less_than_equal", "不可大於 5。", "不能大于 5。", "Must be at most 5."),
        ({"n": 0}, "greater_than_equal", "不可小於 1。", "不能小于 1。", "Must be at least 1."),
        ({"name": "a"}, "string_too_short", "至少要 2 個字。", "至少需要 2 个字符。", "At least 2 characters."),
    ],
)
def test_each_common_type_is_written_in_each_language(
    data: dict[str, Any], kind: str, tw: str, cn: str, en: str
) -> None:
    from kefu.web.problem_text import validation_message

    with pytest.raises(ValidationError) as caught:
        _Strict.model_validate(data)
    (error,) = caught.value.errors()
    assert error["type"] == kind
    assert [validation_message(error, loc) for loc in ("zh-TW", "zh-CN", "en")] == [tw, cn, en]
    assert validation_message(error, None) == error["msg"]


def test_a_validators_own_reason_stays_english_only_for_english_readers() -> None:
    from kefu.web.problem_text import validation_message

    error = {"type": "value_error", "msg": "Value error, Give exactly one of message_id or text.", "ctx": {}}
    assert validation_message(error, "zh-TW") == "內容不正確。"
    assert validation_message(error, "zh-CN") == "内容不正确。"
    assert validation_message(error, "en") == error["msg"]
    odd = {"type": "some_new_pydantic_type", "msg": "Something new", "ctx": {}}
    assert validation_message(odd, "zh-TW") == "這個值不正確。" and validation_message(odd, "en") == "Something new"


def test_literal_choices_are_listed_the_readers_way() -> None:
    from kefu.web.problem_text import validation_message

    error = {"type": "literal_error", "msg": "…", "ctx": {"expected": "'phone', 'video' or 'chat'"}}
    assert validation_message(error, "zh-TW") == "只能是下列其中之一：phone、video、chat。"
    assert validation_message(error, "en") == "Must be one of: phone, video, chat."


class _Sqlstate(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.sqlstate = code


def _outage_app(exc: Exception) -> Any:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from kefu.web.problems import install_problem_handlers

    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


_BUSY_TW = "系統忙碌中（資料正由其他作業使用），請於 5 秒後再試。"
_BUSY_CN = "系统繁忙（数据正被其他操作占用），请在 5 秒后重试。"


@pytest.mark.parametrize(
    ("orig", "tw", "cn"),
    [
        (
            _Sqlstate("57014"),
            "這項查詢執行太久，已被中止；請於 5 秒後再試。",
            "该查询执行时间过长，已被中止；请在 5 秒后重试。",
        ),
        (_Sqlstate("55P03"), _BUSY_TW, _BUSY_CN),
        (Exception("database is locked"), _BUSY_TW, None),
        (
            Exception("connection refused"),
            "資料庫暫時無法連線，請於 5 秒後再試。",
            "数据库暂时无法连接，请在 5 秒后重试。",
        ),
    ],
)
def test_503_detail_says_why_and_when_in_the_readers_language(orig: Exception, tw: str, cn: str | None) -> None:
    from sqlalchemy.exc import OperationalError

    client = _outage_app(OperationalError("SELECT 1", {}, orig))
    r = client.get("/boom", headers={"Accept-Language": "zh-TW"})
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert r.json()["detail"] == tw
    if cn is not None:
        assert client.get("/boom", headers={"Accept-Language": "zh-CN"}).json()["detail"] == cn
    assert "retry in 5 seconds" in client.get("/boom").json()["detail"]


def test_board_json_refusal_lists_the_fields_in_the_readers_language(client: Any, make: Any, db: Any) -> None:
    from kefu.brands.service import create_inbox

    brand = make.brand()
    ib = create_inbox(db, brand, kind="board", name="留言板", config={}, actor=None)
    db.commit()
    r = client.post(
        f"/api/v1/channels/board/{ib.id}",
        json={"name": "林", "contact": "x", "message": ""},
        headers={"Accept-Language": "zh-CN"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "请填写姓名、联系方式和留言。"
    msgs = {tuple(e["loc"]): e["msg"] for e in r.json()["errors"]}
    assert msgs == {("contact",): "至少需要 3 个字符。", ("message",): "至少需要 1 个字符。"}
