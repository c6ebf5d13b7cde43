"""UI strings of the public service-metrics page and portal video uploads: (zh-TW, zh-CN, en), each written natively."""

from __future__ import annotations

PUB3: dict[str, tuple[str, str, str]] = {
    "p3_video_hint": (
        "影片（MP4、MOV、WebM）每個 {mb} MB 以內",
        "视频（MP4、MOV、WebM）每个不超过 {mb} MB",
        "videos (MP4, MOV, WebM) up to {mb} MB each",
    ),
    "pe_video_too_large": (
        "影片太大，請壓縮或剪短後再上傳。",
        "视频太大，请压缩或剪短后再上传。",
        "The video is too large; please compress or trim it and try again.",
    ),
    "pe_files_too_large": (
        "附件合計超過 60 MB，請減少檔案後再送出。",
        "附件合计超过 60 MB，请减少文件后再提交。",
        "The attachments add up to more than 60 MB; please send fewer files.",
    ),
    "p3_title": ("服務指標公開", "服务指标公示", "Service metrics"),
    "p3_note": (
        "以下是我們客服的實際表現，為本品牌所有案件的合計，不含任何個人資料，也不列出個別客服人員；"
        "樣本少於 {n} 件的指標不公布。日期依 {zone} 時區計算，數字每 5 分鐘更新。",
        "以下是我们客服的实际表现，为本品牌所有工单的合计，不含任何个人信息，也不列出个别客服人员；"
        "样本少于 {n} 件的指标不予公示。日期按 {zone} 时区计算，数据每 5 分钟更新。",
        "How our customer service actually performed: totals over all of this brand's cases, with no personal data and "
        "no figures for individual agents. A metric based on fewer than {n} cases is not published. Dates are in the "
        "{zone} time zone; the numbers refresh every 5 minutes.",
    ),
    "p3_recent": (
        "最近 30 天（{start} 至 {end}）",
        "最近 30 天（{start} 至 {end}）",
        "Last 30 days ({start} to {end})",
    ),
    "p3_fig_first_response_p50": ("首次回應時間（中位數）", "首次响应时间（中位数）", "First response (median)"),
    "p3_fig_resolution_p50": ("問題解決時間（中位數）", "问题解决时间（中位数）", "Time to resolution (median)"),
    "p3_fig_sla_rate": ("服務時限達成率", "服务时限达成率", "Service targets met on time"),
    "p3_fig_csat_average": ("滿意度平均分", "满意度平均分", "Average satisfaction"),
    "p3_fig_csat_response_rate": ("滿意度調查回覆率", "满意度调查回复率", "Survey response rate"),
    "p3_fig_complaint_closure_24h": ("客訴 24 小時結案率", "投诉 24 小时办结率", "Complaints closed within 24 hours"),
    "p3_fig_regulator_on_time": (
        "主管機關轉介案件如期回覆率",
        "监管转办件按期答复率",
        "Regulator referrals answered on time",
    ),
    "p3_fig_bot_containment": ("智慧客服獨立解決率", "智能客服独立解决率", "Solved by the assistant alone"),
    "p3_sample": ("共 {n} 件", "共 {n} 件", "{n} cases"),
    "p3_suppressed": ("樣本少於 {n} 件，暫不公布", "样本少于 {n} 件，暂不公示", "Fewer than {n} cases: not published"),
    "p3_definitions": ("指標怎麼算", "指标怎么算", "How each metric is measured"),
    "p3_minutes": ("{n} 分鐘", "{n} 分钟", "{n} min"),
    "p3_hours": ("{n} 小時", "{n} 小时", "{n} h"),
    "p3_link": ("查看我們的服務指標", "查看我们的服务指标", "See how our service is doing"),
    "p3_link_hint": (
        "回應速度、滿意度與客訴處理，定期公開",
        "响应速度、满意度和投诉处理，定期公示",
        "response times, satisfaction and complaint handling, published openly",
    ),
    "p3_public_metrics": (
        "在說明中心公開服務指標",
        "在帮助中心公示服务指标",
        "Publish service metrics on the help centre",
    ),
    "p3_video_mb": ("說明中心表單影片上限（MB）", "帮助中心表单视频上限（MB）", "Help-centre form video limit (MB)"),
}
