"""The console's AI-assist panel (loaded into the conversation page; empty while LLM assist is off)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from kefu.auth.deps import DB, SettingsDep
from kefu.conversations import service as conv_service
from kefu.llm import prompts, texts
from kefu.llm.service import available
from kefu.web.pages import Ctx, render
from kefu.web.routing import Router

router = Router(include_in_schema=False)


@router.get("/console/conversations/{conversation_id}/llm", response_class=HTMLResponse)
def panel(request: Request, conversation_id: int, ctx: Ctx, db: DB, settings: SettingsDep) -> HTMLResponse:
    """Buttons to draft and translate with the LLM (static/llm.js calls the JSON API)."""
    conv = conv_service.get_conversation(db, conversation_id, ctx.principal)
    if not available(db, conv.brand_id, settings):
        return HTMLResponse("")
    return render(
        request,
        ctx,
        "partials/llm_panel.html",
        conv=conv,
        lt=texts.ui(ctx.locale),
        can_write=ctx.principal.can("conversations:write"),
        # Drafts go into the customer's language unless the agent picks one of the 30 languages.
        targets=[("", "—"), *((code, f"{code} · {prompts.language(code)}") for code in prompts.TARGETS)],
    )
