"""Console reads in kefu.conversations.inbox: inbox views within the caller's brands, and the conversation workspace."""

from __future__ import annotations

from typing import Any

import pytest

from kefu.conversations.commands import CreateConversation


def test_inbox_views_stay_in_the_callers_brands(db: Any, make: Any) -> None:
    from kefu.auth.service import create_team, principal_for, set_team_members
    from kefu.conversations.inbox import inbox, workspace
    from kefu.conversations.service import add_message, create_conversation, update_conversation
    from kefu.core.errors import NotFound

    brand, elsewhere = make.brand(), make.brand()
    agent = make.agent("agent", [brand])
    me = principal_for(db, agent, "token", 0, None)
    team = create_team(db, brand_id=brand.id, slug="billing", name="帳務", description="", actor=None)
    set_team_members(db, team, [(agent.id, False)], me)
    vip, plain = make.customer(brand, name="王小明", vip=True), make.customer(brand, name="李")

    def conv(customer: Any, **changes: Any) -> Any:
        c = create_conversation(
            db, CreateConversation(brand_id=customer.brand_id, customer_id=customer.id, channel="api"), actor=None
        )
        if changes:
            update_conversation(db, c, None, changes)
        return c

    mine = conv(plain, assignee_id=agent.id)
    teams = conv(plain, team_id=team.id)
    unassigned_vip = conv(vip)
    closed = conv(plain, status="closed")
    other = conv(make.customer(elsewhere))
    add_message(db, mine, sender_type="customer", body="我要退款")
    add_message(db, mine, sender_type="agent", body="內部備註", agent_id=agent.id, is_note=True)
    db.commit()

    def ids(view: str, q: str | None = None) -> set[int]:
        return {it.conv.id for it in inbox(db, me, view, q)}

    assert ids("mine") == {mine.id}
    assert ids("team") == {teams.id}
    assert ids("unassigned") == {teams.id, unassigned_vip.id}
    assert ids("vip") == {unassigned_vip.id}
    assert ids("closed") == {closed.id}
    assert ids("all") == {mine.id, teams.id, unassigned_vip.id}  # never the other brand's conversation
    assert ids("all", "王小明") == {unassigned_vip.id}
    (item,) = inbox(db, me, "mine", None)
    assert (item.customer.id, item.last.body if item.last else None) == (plain.id, "我要退款")  # notes are no preview

    ws = workspace(db, me, mine.id)
    assert (ws.conv.id, ws.customer.id, ws.brand.id, ws.ticket) == (mine.id, plain.id, brand.id, None)
    assert [m.body for m, _ in ws.timeline] == ["我要退款", "內部備註"]  # oldest first, notes included
    assert [t.id for t in ws.teams] == [team.id] and agent.id in {a.id for a in ws.assignees}
    with pytest.raises(NotFound):
        workspace(db, me, other.id)
