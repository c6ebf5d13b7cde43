"""UI strings of the compensation ledger (zh-TW, zh-CN, en), until scripts/strings_to_po.py moves them."""

from __future__ import annotations

COMP3: dict[str, tuple[str, str, str]] = {
    "nav_compensations": ("補償", "补偿", "Compensation"),
    "cmp_title": ("補償帳", "补偿台账", "Compensation ledger"),
    "cmp_intro": (
        "處理疏失或延誤補償雙倍服務時長，系統故障依影響時長折算。逾時結案後系統自動提出，組長核准、發放或駁回。",
        "处理漏误或超时补偿双倍服务时长，系统故障按影响时长折算。超时结案后系统自动提出，组长批准、发放或驳回。",
        "Handling lapses and late cases earn twice the service time lost; outages earn their length. Proposals are"
        " made automatically; a team lead approves, grants or rejects them.",
    ),
    "cmp_filter": ("依狀態篩選", "按状态筛选", "Filter by status"),
    "cmp_all": ("全部", "全部", "All"),
    "cmp_st_proposed": ("待審核", "待审核", "Proposed"),
    "cmp_st_approved": ("已核准", "已批准", "Approved"),
    "cmp_st_granted": ("已發放", "已发放", "Granted"),
    "cmp_st_rejected": ("已駁回", "已驳回", "Rejected"),
    "cmp_totals": ("合計", "合计", "Totals"),
    "cmp_status": ("狀態", "状态", "Status"),
    "cmp_entries": ("筆數", "笔数", "Entries"),
    "cmp_amount": ("補償", "补偿", "Compensation"),
    "cmp_entries_h": ("補償項目", "补偿条目", "Entries"),
    "cmp_none": ("目前沒有補償項目。", "目前没有补偿条目。", "No compensation entries."),
    "cmp_reason": ("原因", "原因", "Reason"),
    "cmp_basis": ("影響時長 × 倍數", "影响时长 × 倍数", "Time lost × factor"),
    "cmp_decide": ("審核", "审核", "Review"),
    "cmp_case": ("案件", "工单", "Case"),
    "cmp_notice": ("故障通知", "故障通知", "Outage notice"),
    "cmp_reason_sla_breach": ("逾時未達服務時限", "超时未达服务时限", "SLA target missed"),
    "cmp_reason_handling_error": ("處理疏失", "处理漏误", "Handling error"),
    "cmp_reason_outage": ("系統故障", "系统故障", "System outage"),
    "cmp_minutes": ("{n} 分鐘", "{n} 分钟", "{n} min"),
    "cmp_unit_minutes": ("{n} 分鐘服務時長", "{n} 分钟服务时长", "{n} minutes of service"),
    "cmp_unit_hours": ("{n} 小時服務時長", "{n} 小时服务时长", "{n} hours of service"),
    "cmp_unit_days": ("{n} 天服務時長", "{n} 天服务时长", "{n} days of service"),
    "cmp_approve": ("核准", "批准", "Approve"),
    "cmp_grant": ("標記已發放", "标记已发放", "Mark granted"),
    "cmp_reject": ("駁回", "驳回", "Reject"),
    "cmp_reject_reason": ("駁回原因", "驳回原因", "Reason for rejecting"),
    "cmp_need_reason": ("請填寫駁回原因。", "请填写驳回原因。", "Give the reason for rejecting."),
    "cmp_already_decided": (
        "這筆補償已經處理過，無法再變更。",
        "这笔补偿已经处理过，无法再更改。",
        "This compensation has already been decided.",
    ),
    "cmp_more": ("更多", "更多", "More"),
}
