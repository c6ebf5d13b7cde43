"""The metric registry: every number kefu reports, with its label, written definition and unit."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

FCR_REPLY_LIMIT = 1
FCR_REOPEN_DAYS = 7
BOT_RECONTACT_HOURS = 72
COMPLAINT_CLOSURE_HOURS = 24
RESOLUTION_BUCKETS: tuple[tuple[str, float | None], ...] = (
    ("lt_1h", 3600.0),
    ("1h_4h", 4 * 3600.0),
    ("4h_24h", 24 * 3600.0),
    ("1d_3d", 3 * 86400.0),
    ("3d_7d", 7 * 86400.0),
    ("gt_7d", None),
)


# Report wording (kefu.analytics.reports) in mainland Simplified Chinese, phrase by phrase: written, not converted.
# Data in report cells (brand, agent and category names) is shown as stored.
REPORT_ZH_CN: dict[str, str] = {
    "客服月度白皮書": "客服月度白皮书",
    "每週客服服務報告": "每周客服服务报告",
    "CSAT 回覆率": "CSAT 回复率",
    "平均解決時間": "平均解决时间",
    "產生時間": "生成时间",
    "解決時間": "解决时间",
    "指標定義": "指标定义",
    "關鍵指標": "关键指标",
    "首次回應": "首次响应",
    "工單數": "工单数",
    "工單量": "工单量",
    "處理量": "处理量",
    "達成率": "达成率",
    "已判定": "已判定",
    "達成": "达成",
    "份數": "份数",
    "區間": "区间",
    "星等": "星级",
    "目標": "目标",
    "類別": "类别",
    "管道": "渠道",
    "分鐘": "分钟",
    "小時": "小时",
    "期間": "期间",
    "平均": "平均",
    "服務閉環追蹤": "服务闭环跟踪",
    "進度更新逾時（次／案件）": "进度更新超时（次／工单）",
    "回訪（完成／應完成）": "回访（完成／应完成）",
    "預約回電（準時／預約）": "预约回电（准时／预约）",
    "逾時未撥": "超时未拨",
    "延遲": "延迟",
    "聯絡上": "联系上",
    "準時": "准时",
    "平均晚": "平均晚",
    "項目": "项目",
    "數量": "数量",
    "說明": "说明",
    "未分類": "未分类",
    "佔比": "占比",
}
_REPORT_PHRASES = sorted(REPORT_ZH_CN, key=len, reverse=True)


@lru_cache(maxsize=4096)
def localize(text: str, locale: str) -> str:
    """Report prose for a locale: zh-CN swaps in `REPORT_ZH_CN` phrases (longest first); other text is unchanged."""
    if locale != "zh-CN":
        return text
    for phrase in _REPORT_PHRASES:
        if phrase in text:
            text = text.replace(phrase, REPORT_ZH_CN[phrase])
    return text


# Simplified Chinese as mainland readers write it, per metric key: (label, definition). Written, not converted
# (OpenCC turned 指標 into 指针 and 期間內建立 into 期间内置立); tests/web/test_i18n_tables.py checks it is complete.
_ZH_CN: dict[str, tuple[str, str]] = {
    "volume_by_channel": ("各渠道咨询量", "期间内创建的工单数，按来源渠道分组（可按品牌和企业客户筛选）。"),
    "first_response_time": (
        "首次响应时间",
        "期间内创建且已有首次响应的工单，从创建到客服第一条公开回复（对话回复或公开工单更新）实际经过的秒数；"
        "给出平均值、P50 和 P90（最近秩法：至少 p% 的工单小于或等于该值的最小值）。",
    ),
    "resolution_time": (
        "解决时间分布",
        "期间内解决的工单（解决时间在期间内），从创建到解决实际经过的时间，分为 <1 小时、1–4 小时、4–24 小时、"
        "1–3 天、3–7 天、>7 天（区间含下限不含上限），并给出平均值、P50、P90。",
    ),
    "fcr": (
        "首次解决率 (FCR)",
        "分母：期间内解决的工单。分子：其中客服公开回复（对话中的客服消息和公开工单更新，不含内部备注和机器人）"
        "不超过 1 条，且解决后 7 天内从未被重新打开的工单。",
    ),
    "sla_compliance": (
        "SLA 达成率",
        "截止时间在期间内且已有结果（已达成，或已超时）的 SLA 目标中，在截止时间前（含）达成的比例；"
        "按目标类型（首次响应、状态更新、解决、满意度调查…）分别统计。暂停中的目标不计入。",
    ),
    "csat": (
        "客户满意度 (CSAT)",
        "期间内发出的结单满意度调查（1–5 星）：平均分＝已回复调查的平均星级；回复率＝已回复／已发送；"
        "满意率＝4–5 星占已回复的比例。",
    ),
    "bot_containment": (
        "机器人独立解决率",
        "分母：期间内创建且机器人有回复的对话（满意度调查邀请和服务公告不算回复）。分子：其中从未转人工、未创建工单、当前不在人工队列（状态为机器人或已结束），"
        "且同一客户在该对话最后一条消息后 72 小时内没有再发起新对话的对话。",
    ),
    "complaint_rate": ("投诉率", "期间内受理的投诉数 ÷ 期间内创建的工单数。"),
    "complaint_closure_24h": ("投诉 24 小时办结率", "期间内受理的投诉中，在受理后 24 小时内（含）办结的比例。"),
    "regulator_on_time": (
        "监管转办件按期办结率",
        "期间内收到的监管部门／消费者保护机构来函中已有结果的（已答复，或已超期未答复），在期限（收文后 15 日）前（含）"
        "完整答复的比例。未到期且未答复的不计入。",
    ),
    "top_issues": ("十大问题类别", "期间内创建的工单按类别计数，取前 10 名（未分类单独列出）。"),
    "agent_performance": (
        "客服人员绩效",
        "按期间内已解决工单的负责人分组：处理量（解决件数）、平均首次响应时间、平均解决时间；"
        "CSAT 为该客服被评价、且在期间内回复的调查的平均星级。",
    ),
    "backlog": ("待处理量", "当前（查询时）状态为新建、处理中、等待客户或挂起的工单数；不受期间筛选影响。"),
    "qa_correctness": ("质检正确率", "期间内完成的质检评分中，“正确性”项达到及格分的比例。"),
}


@dataclass(frozen=True)
class Metric:
    """One reported metric and how it is computed."""

    key: str
    label_zh: str
    label_en: str
    definition_zh: str
    definition_en: str
    unit: str  # count | seconds | percent | score | hours

    def label(self, locale: str) -> str:
        """Label for a UI locale."""
        if locale == "zh-CN":
            return _ZH_CN[self.key][0]
        return self.label_en if locale == "en" else self.label_zh

    def definition(self, locale: str) -> str:
        """Definition for a UI locale."""
        if locale == "zh-CN":
            return _ZH_CN[self.key][1]
        return self.definition_en if locale == "en" else self.definition_zh

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


_ALL = [
    Metric(
        "volume_by_channel",
        "各管道進件量",
        "Volume by channel",
        "期間內建立的工單數，依進件管道分組（篩選品牌與法人客戶）。",
        "Tickets created in the period, grouped by the channel they came in on (brand / organization filters apply).",
        "count",
    ),
    Metric(
        "first_response_time",
        "首次回應時間",
        "First response time",
        "期間內建立且已有首次回應的工單，自建立到第一則客服公開回覆（對話回覆或公開工單更新）的實際經過秒數；"
        "報告平均、P50 與 P90（最近排名法：至少 p% 的工單小於或等於該值的最小值）。",
        "For tickets created in the period that have been answered: wall-clock seconds from creation to the first "
        "public agent reply (conversation reply or public ticket update). Reported as average, p50 and p90 "
        "(nearest rank: the smallest value with at least p% of tickets at or below it).",
        "seconds",
    ),
    Metric(
        "resolution_time",
        "解決時間分布",
        "Resolution time distribution",
        "期間內解決的工單（解決時間落在期間內），自建立到解決的實際經過時間，分為 <1 小時、1–4 小時、"
        "4–24 小時、1–3 天、3–7 天、>7 天（區間含下限不含上限），並報告平均、P50、P90。",
        "Tickets resolved in the period (resolution time within it): wall-clock time from creation to resolution, in "
        "buckets <1 h, 1–4 h, 4–24 h, 1–3 d, 3–7 d, >7 d (lower bound inclusive, upper exclusive), with average, "
        "p50 and p90.",
        "seconds",
    ),
    Metric(
        "fcr",
        "首次回應解決率 (FCR)",
        "First contact resolution (FCR)",
        f"分母：期間內解決的工單。分子：其中客服公開回覆（對話中的客服訊息與公開工單更新，不含內部備註與機器人）"
        f"不超過 {FCR_REPLY_LIMIT} 則，且從未在解決後 {FCR_REOPEN_DAYS} 天內被重新開啟者。",
        f"Denominator: tickets resolved in the period. Numerator: those with at most {FCR_REPLY_LIMIT} public agent "
        f"reply (agent messages in the ticket's conversations plus public ticket updates; notes and bot messages "
        f"excluded) that were never reopened within {FCR_REOPEN_DAYS} days of a resolution.",
        "percent",
    ),
    Metric(
        "sla_compliance",
        "SLA 達成率",
        "SLA compliance",
        "期限落在期間內、且已有結果（已達成，或期限已過）的 SLA 目標中，於期限前（含）達成者的比例；依目標種類"
        "（首次回應、狀態更新、解決、滿意度調查…）分列。暫停中的目標不計。",
        "Of the SLA targets whose deadline falls in the period and that are decided (met, or the deadline has "
        "passed), the share met at or before the deadline; also per target kind (first response, next update, "
        "resolution, CSAT survey…). Paused targets are excluded.",
        "percent",
    ),
    Metric(
        "csat",
        "客戶滿意度 (CSAT)",
        "Customer satisfaction (CSAT)",
        "期間內寄出的結案滿意度調查（1–5 星）：平均分數＝已回覆者星等平均；回覆率＝已回覆／已寄出；"
        "滿意比例＝4–5 星佔已回覆之比例。",
        "Post-resolution surveys (1–5 stars) sent in the period: average = mean stars of answered surveys; "
        "response rate = answered / sent; satisfied share = 4–5 stars among answered.",
        "score",
    ),
    Metric(
        "bot_containment",
        "機器人獨立解決率",
        "Bot containment",
        f"分母：期間內建立、且機器人有回覆的對話（滿意度調查邀請與服務公告不算回覆）。分子：其中從未轉接真人、未建立工單、目前不在真人佇列（狀態為機器人或已結束），"
        f"且同一客戶在該對話最後一則訊息後 {BOT_RECONTACT_HOURS} 小時內未再開啟新對話者。",
        f"Denominator: conversations created in the period in which the bot replied (survey invitations and service "
        f"notices are not replies). Numerator: those never handed "
        f"off to a human, with no ticket, not waiting in a human queue (status bot or closed), and where the same "
        f"customer did not start another conversation within {BOT_RECONTACT_HOURS} h after this conversation's "
        f"last message.",
        "percent",
    ),
    Metric(
        "complaint_rate",
        "客訴率",
        "Complaint rate",
        "期間內受理的客訴數 ÷ 期間內建立的工單數。",
        "Complaints received in the period ÷ tickets created in the period.",
        "percent",
    ),
    Metric(
        "complaint_closure_24h",
        "客訴 24 小時結案率",
        "Complaint 24 h closure rate",
        f"期間內受理的客訴中，於受理後 {COMPLAINT_CLOSURE_HOURS} 小時內（含）結案者的比例。",
        f"Of complaints received in the period, the share closed within {COMPLAINT_CLOSURE_HOURS} h of receipt.",
        "percent",
    ),
    Metric(
        "regulator_on_time",
        "主管機關案件如期結案率",
        "Regulator cases on time",
        "期間內收文的主管機關／消保來函中，已有結果者（已回覆，或已逾期未回覆）之中，於期限（收文後 15 日）前（含）"
        "完整回覆者的比例。尚未到期且未回覆者不計。",
        "Of regulator / consumer-protection cases received in the period that are decided (replied, or overdue "
        "without a reply), the share fully replied by the due date (15 days after receipt). Cases not yet due and "
        "unanswered are excluded.",
        "percent",
    ),
    Metric(
        "top_issues",
        "十大問題類別",
        "Top 10 issues",
        "期間內建立的工單依類別計數，取前 10 名（未分類另列）。",
        "Tickets created in the period counted by category, top 10 (uncategorized shown as such).",
        "count",
    ),
    Metric(
        "agent_performance",
        "客服人員績效",
        "Agent performance",
        "依期間內解決之工單的負責人分組：處理量（解決件數）、平均首次回應時間、平均解決時間；CSAT 為該人員被評分、"
        "且於期間內回覆的調查平均星等。",
        "Grouped by the assignee of tickets resolved in the period: handled (tickets resolved), average first "
        "response time and average resolution time; CSAT is the mean stars of surveys about the agent answered in "
        "the period.",
        "count",
    ),
    Metric(
        "backlog",
        "待處理量",
        "Backlog",
        "目前（查詢當下）狀態為新建、處理中、等待中或暫停的工單數；不受期間篩選影響。",
        "Tickets currently new, open, pending or on hold (a snapshot at query time; the period filter does not apply).",
        "count",
    ),
    Metric(
        "qa_correctness",
        "品質檢核正確率",
        "QA correctness rate",
        "期間內完成的品質抽檢評分中，「正確性」項目達及格分者的比例。",
        "Of QA reviews completed in the period, the share whose accuracy criterion reached its pass mark.",
        "percent",
    ),
]

METRICS: dict[str, Metric] = {m.key: m for m in _ALL}


def all_metrics() -> list[Metric]:
    """Every registered metric, in dashboard order."""
    return list(_ALL)
