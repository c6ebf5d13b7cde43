"""Console strings for macros, call logging and the call pop-up, notifications and the email composer.

Written by hand per locale: (zh-TW, zh-CN, en).
"""

from __future__ import annotations

STRINGS3: dict[str, tuple[str, str, str]] = {
    # Multi-action macros
    "nav_macros": ("巨集", "宏", "Macros"),
    "m3_title": ("巨集：一鍵完成多個動作", "宏：一键完成多个操作", "Macros: several actions in one click"),
    "m3_intro": (
        "巨集可一次設定案件狀態、優先級、標籤、組別與負責人，並在回覆框插入文字。留空的欄位不會變更。",
        "宏可一次设置工单状态、优先级、标签、组别与负责人，并在回复框插入文字。留空的字段不会更改。",
        "A macro sets a case's status, priority, tags, team and assignee at once and puts text in the reply box. "
        "Fields left empty are not changed.",
    ),
    "m3_new": ("新增巨集", "新建宏", "New macro"),
    "m3_edit": ("編輯巨集", "编辑宏", "Edit macro"),
    "m3_name": ("名稱", "名称", "Name"),
    "m3_brand": ("品牌", "品牌", "Brand"),
    "m3_keep": ("（不變更）", "（不更改）", "(leave unchanged)"),
    "m3_tags": ("加上標籤（以逗號分隔）", "添加标签（用逗号分隔）", "Add tags (comma-separated)"),
    "m3_reply": ("插入回覆文字", "插入回复文字", "Reply text to insert"),
    "m3_reply_hint": (
        "可用 {customer_name}、{agent_name}、{ticket_number}、{brand_name}；文字只會放進回覆框，由客服確認後送出。",
        "可用 {customer_name}、{agent_name}、{ticket_number}、{brand_name}；文字只会放进回复框，由客服确认后发送。",
        "You can use {customer_name}, {agent_name}, {ticket_number}, {brand_name}; the text only goes into the "
        "reply box, the agent sends it.",
    ),
    "m3_save": ("儲存巨集", "保存宏", "Save macro"),
    "m3_delete": ("刪除", "删除", "Delete"),
    "m3_saved": ("巨集已儲存", "宏已保存", "Macro saved"),
    "m3_deleted": ("巨集已刪除", "宏已删除", "Macro deleted"),
    "m3_none": ("還沒有巨集", "还没有宏", "No macros yet"),
    "m3_actions": ("動作", "操作", "Actions"),
    "m3_apply": ("套用巨集", "应用宏", "Apply macro"),
    "m3_pick": ("選擇巨集", "选择宏", "Choose a macro"),
    "m3_applied": ("已套用巨集「{name}」", "已应用宏“{name}”", "Applied macro “{name}”"),
    "m3_no_ticket": (
        "這段對話還沒有案件，只插入了回覆文字。",
        "这段对话还没有工单，只插入了回复文字。",
        "This conversation has no case yet, so only the reply text was inserted.",
    ),
    "m3_bulk": ("套用巨集", "应用宏", "Apply macro"),
    "m3_act_status": ("狀態 → {v}", "状态 → {v}", "status → {v}"),
    "m3_act_priority": ("優先級 → {v}", "优先级 → {v}", "priority → {v}"),
    "m3_act_tags": ("標籤 + {v}", "标签 + {v}", "tags + {v}"),
    "m3_act_team": ("組別 → {v}", "组别 → {v}", "team → {v}"),
    "m3_act_assignee": ("負責人 → {v}", "负责人 → {v}", "assignee → {v}"),
    "m3_act_reply": ("插入回覆", "插入回复", "inserts a reply"),
    # Call logging and the call pop-up
    "nav_calls": ("電話紀錄", "电话记录", "Call log"),
    "ph3_title": ("記錄一通電話", "记录一通电话", "Log a call"),
    "ph3_intro": (
        "輸入電話號碼即可找出客戶（號碼會先正規化，例如 0912-345-678 與 +886912345678 視為同一支）。"
        "儲存後電話會出現在客戶的時間軸，並依電話信箱的案件政策開立或延續案件。",
        "输入电话号码即可找出客户（号码会先规范化，例如 0912-345-678 与 +886912345678 视为同一个）。"
        "保存后电话会出现在客户的时间线，并按电话收件箱的工单策略创建或延续工单。",
        "Enter the phone number to find the customer (numbers are normalised, so 0912-345-678 and +886912345678 "
        "are the same). The call then appears in the customer's timeline and opens or continues a case per the "
        "phone inbox's case policy.",
    ),
    "ph3_phone": ("電話號碼", "电话号码", "Phone number"),
    "ph3_lookup": ("查詢客戶", "查询客户", "Look up customer"),
    "ph3_found": ("找到客戶：{name}", "找到客户：{name}", "Customer found: {name}"),
    "ph3_not_found": (
        "查無此號碼的客戶，儲存時會建立新客戶。",
        "查无此号码的客户，保存时会创建新客户。",
        "No customer has this number; saving creates one.",
    ),
    "ph3_name": ("客戶姓名（新客戶）", "客户姓名（新客户）", "Customer name (new customer)"),
    "ph3_direction": ("方向", "方向", "Direction"),
    "ph3_inbound": ("來電", "来电", "Inbound"),
    "ph3_outbound": ("去電", "去电", "Outbound"),
    "ph3_inbox": ("電話信箱", "电话收件箱", "Phone inbox"),
    "ph3_no_inbox": ("（不指定）", "（不指定）", "(none)"),
    "ph3_minutes": ("通話分鐘", "通话分钟", "Minutes"),
    "ph3_seconds": ("秒", "秒", "Seconds"),
    "ph3_outcome": ("結果", "结果", "Outcome"),
    "ph3_notes": ("通話摘要", "通话摘要", "Call notes"),
    "ph3_save": ("儲存通話紀錄", "保存通话记录", "Save call"),
    "ph3_logged": (
        "通話已記錄{case}。",
        "通话已记录{case}。",
        "Call logged{case}.",
    ),
    "ph3_case": ("，案件 {number}", "，工单 {number}", ", case {number}"),
    "ph3_open": ("開啟對話", "打开对话", "Open the conversation"),
    "ph3_recent": ("最近的電話", "最近的电话", "Recent calls"),
    "ph3_no_recent": ("還沒有電話紀錄", "还没有电话记录", "No calls yet"),
    "ph3_out_resolved": ("已解決", "已解决", "Resolved"),
    "ph3_out_follow_up": ("待追蹤", "待跟进", "Follow-up"),
    "ph3_out_escalated": ("已轉派", "已转派", "Escalated"),
    "ph3_out_no_answer": ("未接通", "未接通", "No answer"),
    "ph3_out_voicemail": ("語音信箱", "语音信箱", "Voicemail"),
    "ph3_out_callback_requested": ("要求回電", "要求回电", "Call-back requested"),
    "ph3_pop_ringing": ("來電中", "来电中", "Incoming call"),
    "ph3_pop_answered": ("通話中", "通话中", "On the call"),
    "ph3_pop_logged": ("通話已結束並記錄", "通话已结束并记录", "Call ended and logged"),
    "ph3_pop_missed": ("未接來電，已排入回電", "未接来电，已排入回电", "Missed call, call-back booked"),
    "ph3_pop_timeline": ("開啟時間軸", "打开时间线", "Open the timeline"),
    "ph3_pop_profile": ("客戶資料", "客户资料", "Customer profile"),
    "ph3_pop_close": ("關閉", "关闭", "Close"),
    "ph3_pop_new": ("新客戶（首次來電）", "新客户（首次来电）", "New customer (first call)"),
    "ph3_pop_cases": ("未結案件", "未结工单", "Open cases"),
    # Notifications
    "nt3_toggle": ("桌面通知", "桌面通知", "Desktop alerts"),
    "nt3_on": ("桌面與聲音通知：開", "桌面与声音通知：开", "Desktop and sound alerts: on"),
    "nt3_off": ("桌面與聲音通知：關", "桌面与声音通知：关", "Desktop and sound alerts: off"),
    "nt3_denied": (
        "瀏覽器封鎖了通知；仍會播放提示音。",
        "浏览器屏蔽了通知；仍会播放提示音。",
        "The browser blocks notifications; the sound still plays.",
    ),
    "nt3_unread": ("未讀通知", "未读通知", "Unread notifications"),
    "nt3_assigned": ("指派給你", "分配给你", "Assigned to you"),
    "nt3_mention": ("有人提到你", "有人提到你", "You were mentioned"),
    "nt3_reply": ("客戶回覆了你的對話", "客户回复了你的对话", "A customer replied in your conversation"),
    "nt3_call": ("來電", "来电", "Incoming call"),
    "nt3_other": ("新通知", "新通知", "New notification"),
    "nt3_read_all": ("全部標為已讀", "全部标为已读", "Mark all as read"),
    "nt3_kind_ticket_assigned": ("指派", "分配", "Assigned"),
    "nt3_kind_mention": ("提及", "提及", "Mention"),
    "nt3_all": ("所有通知", "所有通知", "All notifications"),
    # Email composer
    "em3_subject": ("主旨", "主题", "Subject"),
    "em3_cc": ("副本（CC）", "抄送（CC）", "Cc"),
    "em3_cc_hint": (
        "以逗號分隔的電子郵件地址，最多 10 個。",
        "以逗号分隔的电子邮件地址，最多 10 个。",
        "Comma-separated email addresses, at most 10.",
    ),
    "em3_bad_cc": ("副本地址無效：{v}", "抄送地址无效：{v}", "Not a valid Cc address: {v}"),
    "em3_sent_cc": ("副本：{v}", "抄送：{v}", "Cc: {v}"),
    # Complaint board vs deadline reminders
    "cp3_intro": (
        "所有未結客訴與主管機關來函的期限，以及近 90 天準時率。"
        "只想看 72 小時內到期的項目與進度更新逾時的案件，請到「期限提醒」。",
        "所有未结投诉与监管来函的期限，以及近 90 天准时率。"
        "只想看 72 小时内到期的项目与进度更新超时的工单，请到“期限提醒”。",
        "Every open complaint and regulator-letter deadline, with 90-day on-time rates. For what falls due within "
        "72 hours and cases overdue for a progress update, see Deadlines.",
    ),
    "dl3_intro": (
        "72 小時內到期的客訴與來函期限（含已發出的提醒），"
        "以及超過 30 分鐘未更新進度的案件。完整登錄與準時率請到「客訴期限」。",
        "72 小时内到期的投诉与来函期限（含已发出的提醒），"
        "以及超过 30 分钟未更新进度的工单。完整登记与准时率请到“投诉时限”。",
        "Complaint and letter deadlines falling due within 72 hours (with the reminders sent), and cases overdue "
        "for their 30-minute progress update. For the full register and on-time rates, see Complaint deadlines.",
    ),
}
