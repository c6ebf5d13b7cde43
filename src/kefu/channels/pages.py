"""Channel pages: the admin's "send test message" on each inbox, and the composer's attachment errors in words."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse

from kefu.auth.deps import DB
from kefu.brands import service as brand_service
from kefu.channels import testsend
from kefu.core.errors import Forbidden, ProblemError
from kefu.web.i18n import channel_label, error_text
from kefu.web.pages import Ctx, render
from kefu.web.routing import Router

router = Router(include_in_schema=False)


def problem_text(t: dict[str, str], locale: str, exc: ProblemError) -> str:
    """A refused attachment or test send, in the reader's language (the service's detail when it has no code)."""
    extra = exc.extra
    channel = channel_label(str(extra.get("channel") or ""), locale) if extra.get("channel") else ""
    key = f"c3_err_{extra.get('code')}"
    if key in t:
        return t[key].format(channel=channel, file=extra.get("file", ""), mb=extra.get("mb", ""), n=extra.get("n", ""))
    key = f"c3_test_{extra.get('code')}"
    if key in t:
        return t[key]
    return t["c3_err_other"].format(detail=error_text(locale, exc))


@router.post("/admin/inboxes/{inbox_id}/test", response_class=HTMLResponse)
def send_test_message(
    request: Request, inbox_id: int, ctx: Ctx, db: DB, to: Annotated[str, Form(max_length=320)] = ""
) -> HTMLResponse:
    """Send a real test through the inbox's adapter; the result (or the provider's error) replaces the status line."""
    if not ctx.principal.can("brands:manage"):
        raise Forbidden.said("err_auth_missing_permission", permission="brands:manage")
    inbox = brand_service.inbox_in_brands(db, inbox_id, ctx.principal)
    if inbox is None:
        raise Forbidden.said("err_admin_no_inbox_access")
    t = ctx.t
    brand = brand_service.get_brand(db, inbox.brand_id, ctx.principal)
    text = t["c3_test_text"].format(brand=brand.name, inbox=inbox.name)
    try:
        outcome = testsend.send_test(
            db, inbox, ctx.principal, to, text=text, subject=t["c3_test_subject"], release=db.commit
        )
    except ProblemError as exc:
        return render(
            request, ctx, "partials/c3_test_result.html", status=422, ok=False, message=problem_text(t, ctx.locale, exc)
        )
    if outcome.ok:
        message = t["c3_test_ok"].format(to=to.strip(), id=outcome.provider_message_id or "—")
        return render(request, ctx, "partials/c3_test_result.html", ok=True, message=message)
    message = t["c3_test_failed"].format(detail=outcome.error or "?")
    return render(request, ctx, "partials/c3_test_result.html", status=422, ok=False, message=message)
