"""Typed domain commands: services take one pydantic command per use case and validate whatever they are given.

The structural test scans the source (like tests/test_layering.py) so a new service cannot go back to loose
`**fields: Any` / `changes: dict[str, Any]` parameters applied with setattr; the behavioural tests call each service
directly with a bad value or an unknown field and expect InvalidInput (the 422 problem), not a stored value or a 500.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.test_layering import is_web, modules

LOOSE_NAMES = frozenset({"changes", "fields", "updates"})
LOOSE_ANNOTATIONS = frozenset({"dict[str, Any]", "Mapping[str, Any]", "MutableMapping[str, Any]"})
# Public domain functions that may keep `**kwargs: Any`: each passes the keywords straight to a library constructor
# (not a use case's fields), so there is no command to define.
ALLOWED_KWARGS = frozenset(
    {
        ("kefu.privacy.net", "safe_client"),  # httpx.Client options, behind the SSRF guard
        ("kefu.privacy.net", "safe_async_client"),  # httpx.AsyncClient options
        ("kefu.security.csvsafe", "writer"),  # csv.writer dialect options
        ("kefu.core.access", "ref_in_brand"),  # the catalog fields of the error it raises, not a command's
    }
)


def _loose_parameters() -> list[str]:
    """`module.function(param)` for every public domain function taking fields loosely instead of a command."""
    found = []
    for name, path in modules().items():
        if is_web(name):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name.startswith("_"):
                continue
            kwarg = node.args.kwarg
            loose_kwargs = kwarg is not None and kwarg.annotation is not None and ast.unparse(kwarg.annotation) == "Any"
            if kwarg is not None and loose_kwargs and (name, node.name) not in ALLOWED_KWARGS:
                found.append(f"{name}.{node.name}(**{kwarg.arg})")
            for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                annotation = ast.unparse(arg.annotation) if arg.annotation is not None else ""
                if arg.arg in LOOSE_NAMES and annotation in LOOSE_ANNOTATIONS:
                    found.append(f"{name}.{node.name}({arg.arg}: {annotation})")
    return found


def test_the_scan_finds_loose_parameters(tmp_path: Any, monkeypatch: Any) -> None:
    fake = tmp_path / "kefu" / "thing" / "service.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(
        "from typing import Any\n"
        "def create(session, actor, **fields: Any) -> None: ...\n"
        "def update(session, row, actor, changes: dict[str, Any]) -> None: ...\n"
        "def _helper(**fields: Any) -> None: ...\n",
        encoding="utf-8",
    )
    monkeypatch.setitem(globals(), "modules", lambda: {"kefu.thing.service": fake})
    assert _loose_parameters() == [
        "kefu.thing.service.create(**fields)",
        "kefu.thing.service.update(changes: dict[str, Any])",
    ]


def test_services_take_commands_not_loose_fields() -> None:
    assert _loose_parameters() == [], "define a command model (pydantic, frozen, extra=forbid) in the package"


# ---------------------------------------------------------------- every service validates what it is given


def _setup(db: Any, make: Any) -> dict[str, Any]:
    from kefu.complaints import service as complaints
    from kefu.customers import service as customers
    from kefu.knowledge import service as kb
    from kefu.macros import service as macros
    from kefu.routing import service as routing
    from kefu.security import incidents
    from kefu.tickets import service as tickets
    from tests.tickets.helpers import admin_principal

    brand = make.brand()
    p = admin_principal(make.agent("admin"))
    when = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    return {
        "brand": brand,
        "p": p,
        "canned": macros.create(
            db, p, {"brand_id": brand.id, "locale": "en", "shortcut": "hi", "title": "Hi", "body": "Hello"}
        ),
        "faq": kb.create_faq(db, p, {"brand_id": brand.id, "locale": "en", "questions": ["q?"], "answer": "a"}),
        "article": kb.create_article(db, p, {"brand_id": brand.id, "locale": "en", "title": "T", "body": "B"}),
        "rule": routing.create_rule(db, {"brand_id": brand.id, "name": "r"}, actor=p),
        # complaints first: once a brand has categories, their tickets need the complaint category too
        "complaint": complaints.create_complaint(
            db, brand_id=brand.id, actor=p, complainant_name="王", description="壞了", channel="phone"
        ),
        "case": complaints.create_regulator_case(
            db, brand_id=brand.id, actor=p, agency="消保官", subject="來函", received_at=when
        ),
        "category": tickets.create_category(
            db, {"brand_id": brand.id, "key": "billing", "label_zh": "帳務", "label_en": "Billing"}, actor=p
        ),
        "field": tickets.create_field_definition(
            db, {"brand_id": brand.id, "key": "order", "label_zh": "訂單", "label_en": "Order", "type": "text"}, actor=p
        ),
        "customer": make.customer(brand),
        "org": customers.create_organization(
            db, brand_id=brand.id, name="Acme", domain=None, dedicated_team_id=None, notes="", actor=p
        ),
        "incident": incidents.create_incident(db, p, title="Leak", level=1, brand_id=brand.id),
    }


def _calls() -> dict[str, Callable[[Any, dict[str, Any], dict[str, Any]], Any]]:
    """Per use case: call the service with the given mapping (the objects it needs come from `_setup`)."""
    from kefu.brands import service as brands
    from kefu.complaints import service as complaints
    from kefu.customers import service as customers
    from kefu.followups import service as followups
    from kefu.knowledge import service as kb
    from kefu.macros import service as macros
    from kefu.routing import service as routing
    from kefu.security import incidents
    from kefu.tickets import service as tickets

    return {
        "macros.create": lambda db, o, d: macros.create(db, o["p"], {"brand_id": o["brand"].id, **d}),
        "macros.update": lambda db, o, d: macros.update(db, o["canned"], o["p"], d),
        "knowledge.create_faq": lambda db, o, d: kb.create_faq(db, o["p"], {"brand_id": o["brand"].id, **d}),
        "knowledge.update_faq": lambda db, o, d: kb.update_faq(db, o["faq"], o["p"], d),
        "knowledge.create_article": lambda db, o, d: kb.create_article(db, o["p"], {"brand_id": o["brand"].id, **d}),
        "knowledge.update_article": lambda db, o, d: kb.update_article(db, o["article"], o["p"], d),
        "routing.create_rule": lambda db, o, d: routing.create_rule(db, {"brand_id": o["brand"].id, **d}, actor=o["p"]),
        "routing.update_rule": lambda db, o, d: routing.update_rule(db, o["rule"], o["p"], d),
        "followups.create_rule": lambda db, o, d: followups.create_rule(db, o["p"], {"brand_id": o["brand"].id, **d}),
        "tickets.create_category": lambda db, o, d: tickets.create_category(
            db, {"brand_id": o["brand"].id, **d}, actor=o["p"]
        ),
        "tickets.update_category": lambda db, o, d: tickets.update_category(db, o["category"], o["p"], d),
        "tickets.create_field_definition": lambda db, o, d: tickets.create_field_definition(
            db, {"brand_id": o["brand"].id, **d}, actor=o["p"]
        ),
        "tickets.update_field_definition": lambda db, o, d: tickets.update_field_definition(db, o["field"], o["p"], d),
        "customers.update_customer": lambda db, o, d: customers.update_customer(db, o["customer"], o["p"], d),
        "customers.update_organization": lambda db, o, d: customers.update_organization(db, o["org"], o["p"], d),
        "complaints.update_complaint": lambda db, o, d: complaints.update_complaint(db, o["complaint"], o["p"], d),
        "complaints.update_regulator_case": lambda db, o, d: complaints.update_regulator_case(db, o["case"], o["p"], d),
        "security.update_incident": lambda db, o, d: incidents.update_incident(db, o["incident"], o["p"], d),
        "brands.update_brand": lambda db, o, d: brands.update_brand(db, o["brand"], o["p"], d),
    }


# use case -> (a mapping with a value outside the command's rules, the field the error names)
INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "macros.create": ({"locale": "fr", "shortcut": "x", "title": "T", "body": "B"}, "locale"),
    "macros.update": ({"title": ""}, "title"),
    "knowledge.create_faq": ({"locale": "en", "questions": ["q"], "answer": "a", "answer_format": "pdf"}, "format"),
    "knowledge.update_faq": ({"questions": []}, "questions"),
    "knowledge.create_article": ({"locale": "en", "title": "x" * 301, "body": "B"}, "title"),
    "knowledge.update_article": ({"locale": "xx"}, "locale"),
    "routing.create_rule": ({"name": "n", "set_priority": "asap"}, "set_priority"),
    "routing.update_rule": ({"priority_bump": 9}, "priority_bump"),
    "followups.create_rule": ({"name": "n", "attempts": 0}, "attempts"),
    "tickets.create_category": ({"key": "Bad Key", "label_zh": "x", "label_en": "x"}, "key"),
    "tickets.update_category": ({"label_en": ""}, "label_en"),
    "tickets.create_field_definition": ({"key": "k", "label_zh": "x", "label_en": "x", "type": "blob"}, "type"),
    "tickets.update_field_definition": ({"options": "a,b"}, "options"),
    "customers.update_customer": ({"locale": "fr"}, "locale"),
    "customers.update_organization": ({"notes": "x" * 2001}, "notes"),
    "complaints.update_complaint": ({"level": "apocalyptic"}, "level"),
    "complaints.update_regulator_case": ({"agency": ""}, "agency"),
    "security.update_incident": ({"level": 7}, "level"),
    "brands.update_brand": ({"default_locale": "fr"}, "default_locale"),
}


@pytest.mark.parametrize("use_case", sorted(INVALID))
def test_the_domain_rejects_a_bad_value_and_an_unknown_field(db: Any, make: Any, use_case: str) -> None:
    from kefu.core.errors import InvalidInput

    objects = _setup(db, make)
    call = _calls()[use_case]
    bad, field = INVALID[use_case]
    with pytest.raises(InvalidInput, match=field) as exc:
        call(db, objects, bad)
    assert exc.value.status == 422  # the problem+json the API and the console show
    with pytest.raises(InvalidInput, match="nonsense: Extra inputs are not permitted"):
        call(db, objects, {**bad, "nonsense": 1})


def test_commands_are_frozen_and_closed() -> None:
    from pydantic import BaseModel, ValidationError

    from kefu.brands.commands import UpdateBrand
    from kefu.complaints.commands import UpdateComplaint, UpdateRegulatorCase
    from kefu.customers.commands import UpdateCustomer, UpdateOrganization
    from kefu.followups.commands import CreateFollowUpRule
    from kefu.knowledge.commands import CreateArticle, CreateFaq, UpdateArticle, UpdateFaq
    from kefu.macros.commands import CreateCanned, UpdateCanned
    from kefu.routing.commands import CreateRoutingRule, UpdateRoutingRule
    from kefu.security.commands import UpdateIncident
    from kefu.tickets.commands import CreateCategory, CreateFieldDefinition, UpdateCategory, UpdateFieldDefinition

    commands: list[type[BaseModel]] = [
        UpdateBrand,
        UpdateComplaint,
        UpdateRegulatorCase,
        UpdateCustomer,
        UpdateOrganization,
        CreateFollowUpRule,
        CreateArticle,
        CreateFaq,
        UpdateArticle,
        UpdateFaq,
        CreateCanned,
        UpdateCanned,
        CreateRoutingRule,
        UpdateRoutingRule,
        UpdateIncident,
        CreateCategory,
        CreateFieldDefinition,
        UpdateCategory,
        UpdateFieldDefinition,
    ]
    for command in commands:
        assert command.model_config.get("frozen") is True, command
        assert command.model_config.get("extra") == "forbid", command
    cmd = UpdateCanned(title="x")
    with pytest.raises(ValidationError):
        cmd.title = "y"  # type: ignore[misc]
    assert cmd.model_fields_set == {"title"}  # what the service applies: only the fields that were set


def test_the_api_keeps_its_contract(client: Any, make: Any) -> None:
    """Bodies subclass the commands: a bad value is still a 422, an unknown field is still ignored."""
    brand = make.brand()
    sup = make.token(make.agent("supervisor", [brand]))
    body = {"brand_id": brand.id, "locale": "zh-TW", "shortcut": "hey", "title": "T", "body": "B"}
    r = client.post("/api/v1/canned-responses", json={**body, "locale": "fr"}, headers=sup)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    r = client.post("/api/v1/canned-responses", json={**body, "whatever": 1}, headers=sup)
    assert r.status_code == 201, r.text
    r = client.patch(f"/api/v1/canned-responses/{r.json()['id']}", json={"title": ""}, headers=sup)
    assert r.status_code == 422, r.text
    r = client.post("/api/v1/follow-up-rules", json={"brand_id": brand.id, "name": "n", "extra": 1}, headers=sup)
    assert r.status_code == 422, r.text  # this body always forbade unknown fields
    bad_window = {"brand_id": brand.id, "name": "n", "within_days": 1, "first_after_hours": 48}
    r = client.post("/api/v1/follow-up-rules", json=bad_window, headers=sup)
    assert r.status_code == 422 and "window" in r.json()["detail"], r.text
