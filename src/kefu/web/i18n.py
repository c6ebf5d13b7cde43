"""UI strings in Traditional Chinese, Simplified Chinese and English (Simplified derived with OpenCC tw2sp)."""

from __future__ import annotations

from functools import lru_cache

LOCALES = ("zh-TW", "zh-CN", "en")

# key: (zh-TW, en)
STRINGS: dict[str, tuple[str, str]] = {
    "app": ("客服工作台", "Agent console"),
    "login": ("登入", "Sign in"),
    "logout": ("登出", "Sign out"),
    "email": ("電子郵件", "Email"),
    "password": ("密碼", "Password"),
    "login_failed": ("電子郵件或密碼錯誤", "Invalid email or password"),
    "login_locked": ("嘗試次數過多，請稍後再試", "Too many attempts; try again later"),
    "view_mine": ("我的對話", "Mine"),
    "view_team": ("我的團隊", "My teams"),
    "view_unassigned": ("未指派", "Unassigned"),
    "view_vip": ("VIP", "VIP"),
    "view_all": ("全部", "All"),
    "view_closed": ("已結束", "Closed"),
    "no_conversations": ("目前沒有對話", "No conversations"),
    "customer": ("客戶", "Customer"),
    "channel": ("管道", "Channel"),
    "status": ("狀態", "Status"),
    "assignee": ("負責人", "Assignee"),
    "team": ("團隊", "Team"),
    "priority": ("優先級", "Priority"),
    "unassigned": ("未指派", "Unassigned"),
    "none": ("無", "None"),
    "reply": ("回覆", "Reply"),
    "note": ("內部備註", "Internal note"),
    "send": ("送出", "Send"),
    "save": ("儲存", "Save"),
    "type_reply": ("輸入回覆…（Ctrl+Enter 送出）", "Type a reply… (Ctrl+Enter to send)"),
    "timeline": ("跨管道時間軸", "Cross-channel timeline"),
    "tier": ("會員等級", "Membership tier"),
    "organization": ("公司", "Organization"),
    "identities": ("管道身分", "Channel identities"),
    "tickets": ("工單", "Tickets"),
    "ticket": ("工單", "Ticket"),
    "history": ("歷史紀錄", "History"),
    "sender_customer": ("客戶", "Customer"),
    "sender_bot": ("機器人", "Bot"),
    "sender_agent": ("客服", "Agent"),
    "sender_system": ("系統", "System"),
    "assign": ("指派", "Assign"),
    "shortcuts": ("快速鍵：r 回覆・n 備註・j/k 上下・g i 收件匣", "Shortcuts: r reply · n note · j/k move · g i inbox"),
    "language": ("語言", "Language"),
    "skip": ("跳到主要內容", "Skip to main content"),
    "last_message": ("最後訊息", "Last message"),
    "spend": ("累計消費", "Cumulative spend"),
    "st_bot": ("機器人處理中", "With bot"),
    "st_open": ("處理中", "Open"),
    "st_pending": ("等待客戶", "Pending customer"),
    "st_closed": ("已結束", "Closed"),
    "t_new": ("新建", "New"),
    "t_open": ("處理中", "Open"),
    "t_pending": ("等待客戶", "Pending"),
    "t_on_hold": ("暫緩", "On hold"),
    "t_resolved": ("已解決", "Resolved"),
    "t_closed": ("已結案", "Closed"),
    "p_low": ("低", "Low"),
    "p_normal": ("一般", "Normal"),
    "p_high": ("高", "High"),
    "p_urgent": ("緊急", "Urgent"),
    "canned": ("罐頭回覆", "Canned responses"),
    "admin": ("管理", "Admin"),
    "help_center": ("幫助中心", "Help center"),
    "portal_new": ("線上提問", "Submit a request"),
    "portal_thanks": ("已收到您的問題", "We received your request"),
    "case_number": ("案件編號", "Case number"),
    "your_name": ("姓名", "Your name"),
    "your_contact": ("聯絡方式（Email 或電話）", "Contact (email or phone)"),
    "your_message": ("問題描述", "Describe your question"),
    "attachments": ("附件", "Attachments"),
    "attach_hint": (
        "最多 {n} 個，每個 {mb} MB 以內；圖片、PDF 或文字檔",
        "up to {n} files, {mb} MB each; images, PDF or text",
    ),
    "pe_csrf": ("表單已過期，請重新送出。", "The form expired; please submit again."),
    "pe_invalid": ("無法送出。", "Could not submit."),
    "pe_required": ("請填寫姓名、聯絡方式與問題描述。", "Name, contact and description are required."),
    "pe_too_many_files": ("附件數量過多。", "Too many attachments."),
    "pe_file_too_large": ("附件檔案過大。", "An attachment is too large."),
    "pe_file_type": ("不支援的附件類型。", "Unsupported attachment type."),
    "portal_track": ("查詢進度", "Track a request"),
    "search_kb": ("搜尋常見問題", "Search our help articles"),
    "search": ("搜尋", "Search"),
    "no_results": ("找不到相關內容，請改用其他關鍵字或聯絡客服。", "Nothing found; try other words or contact us."),
    "adm_agents": ("客服人員", "Agents"),
    "adm_teams": ("團隊", "Teams"),
    "adm_inboxes": ("管道設定", "Channels"),
    "adm_kb": ("知識庫", "Knowledge base"),
    "adm_canned": ("罐頭回覆", "Canned responses"),
    "adm_review": ("機器人待學習", "Bot review queue"),
    "review_empty": ("目前沒有待處理的問題", "Nothing to review"),
    "rv_low_confidence": ("信心不足", "Low confidence"),
    "rv_out_of_scope": ("超出範圍", "Out of scope"),
    "rv_unhelpful": ("客戶認為沒幫助", "Marked unhelpful"),
    "rv_handoff": ("轉接", "Handoff"),
    "attach_to_faq": ("加入為此常見問題的問法", "Add as a phrasing of"),
    "attach": ("加入", "Attach"),
    "dismiss": ("略過", "Dismiss"),
    "first_handler": ("第一線處理", "First handled by"),
    "secret_set": ("已設定，留空則不變", "set; leave blank to keep"),
    "assist": ("智能輔助", "Agent assist"),
    "assist_summary": ("對話摘要", "Summary"),
    "assist_suggestions": ("建議回覆", "Suggested replies"),
    "assist_use": ("使用", "Use"),
    "assist_none": ("沒有建議", "No suggestions"),
    "brand": ("品牌", "Brand"),
    "name": ("名稱", "Name"),
    "role": ("角色", "Role"),
    "active": ("啟用", "Active"),
    "create": ("新增", "Create"),
    "delete": ("刪除", "Delete"),
    "members": ("成員", "Members"),
    "slug": ("代碼", "Slug"),
    "new_agent": ("新增客服人員", "New agent"),
    "new_team": ("新增團隊", "New team"),
    "new_inbox": ("新增管道", "New channel inbox"),
    "new_faq": ("新增常見問題", "New FAQ"),
    "new_canned": ("新增罐頭回覆", "New canned response"),
    "questions": ("問題（每行一種問法）", "Questions (one phrasing per line)"),
    "answer": ("答案", "Answer"),
    "category": ("分類", "Category"),
    "published": ("已發布", "Published"),
    "shortcut": ("快捷代碼", "Shortcut"),
    "title": ("標題", "Title"),
    "body_text": ("內容", "Text"),
    "role_admin": ("管理員", "Admin"),
    "role_supervisor": ("主管", "Supervisor"),
    "role_agent": ("客服", "Agent"),
    "role_auditor": ("稽核", "Auditor"),
    "realtime_on": ("即時連線中", "Live"),
    "realtime_off": ("離線，重新連線中…", "Offline, reconnecting…"),
}


@lru_cache(maxsize=1)
def _tables() -> dict[str, dict[str, str]]:
    import opencc

    to_cn = opencc.OpenCC("tw2sp")
    return {
        "zh-TW": {k: v[0] for k, v in STRINGS.items()},
        "zh-CN": {k: to_cn.convert(v[0]) for k, v in STRINGS.items()},
        "en": {k: v[1] for k, v in STRINGS.items()},
    }


def pick_locale(requested: str | None, fallback: str | None) -> str:
    """First supported locale among the request and the agent's preference (default zh-TW)."""
    for cand in (requested, fallback):
        if cand in LOCALES:
            return str(cand)
    return "zh-TW"


def translator(locale: str) -> dict[str, str]:
    """String table for a locale."""
    return _tables()[locale if locale in LOCALES else "zh-TW"]
