"""UI strings of the care queue (主動關懷): zh-TW, zh-CN, English, each written for its readers."""

from __future__ import annotations

STRINGS_CARE: dict[str, tuple[str, str, str]] = {
    "nav_care": ("主動關懷", "主动关怀", "Proactive care"),
    "nt3_kind_care_opportunity": ("主動關懷", "主动关怀", "Proactive care"),
    "care_title": ("主動關懷", "主动关怀", "Proactive care"),
    "care_intro": (
        "系統偵測到可能卡關的客戶：同一問題反覆詢問、機器人答不出來、在流程頁面停留過久或案件一再重開。請主動聯繫、轉為案件，或說明不需處理的原因。",
        "系统检测到可能卡住的客户：同一问题反复询问、机器人答不上来、在流程页面停留过久或工单一再重开。请主动联系、转为工单，或说明无需处理的原因。",
        "Customers who may be stuck: asking about the same thing again and again, the bot unable to "
        "answer, lingering on one step of a flow, or a case reopened repeatedly. Reach out, turn it "
        "into a case, or say why nothing is needed.",
    ),
    "care_filter": ("依狀態篩選", "按状态筛选", "Filter by status"),
    "care_all": ("全部", "全部", "All"),
    "care_st_open": ("待處理", "待处理", "Open"),
    "care_st_reached_out": ("已主動聯繫", "已主动联系", "Reached out"),
    "care_st_converted": ("已轉為案件", "已转为工单", "Converted to a case"),
    "care_st_dismissed": ("已略過", "已忽略", "Dismissed"),
    "care_reason_topic_repeat": ("同一主題反覆詢問", "同一主题反复询问", "Asked about the same topic repeatedly"),
    "care_reason_bot_struggle": ("機器人無法回答", "机器人无法回答", "The bot could not help"),
    "care_reason_stuck_flow": ("卡在流程步驟", "卡在流程步骤", "Stuck in a flow step"),
    "care_reason_reopened": ("案件一再重開", "工单多次重开", "Case reopened repeatedly"),
    "care_brand": ("品牌", "品牌", "Brand"),
    "care_customer": ("客戶", "客户", "Customer"),
    "care_reason": ("原因", "原因", "Reason"),
    "care_evidence": ("依據", "依据", "Evidence"),
    "care_detected": ("偵測時間", "检测时间", "Detected"),
    "care_status": ("狀態", "状态", "Status"),
    "care_actions": ("處理", "处理", "Actions"),
    "care_topic": ("主題：{topic}，{count} 次", "主题：{topic}，{count} 次", "Topic: {topic}, {count} times"),
    "care_fallbacks": ("機器人答不出 {n} 次", "机器人未能回答 {n} 次", "The bot fell back {n} times"),
    "care_repeated": ("同一問題問了 {n} 次", "同一问题问了 {n} 次", "Same question asked {n} times"),
    "care_page": ("頁面：{path}", "页面：{path}", "Page: {path}"),
    "care_step": ("步驟：{step}", "步骤：{step}", "Step: {step}"),
    "care_dwell": ("停留 {n} 分鐘", "停留 {n} 分钟", "Stayed {n} minutes"),
    "care_visits": ("回到此處 {n} 次", "回到此处 {n} 次", "Came back {n} times"),
    "care_reopens": ("重開 {n} 次", "重开 {n} 次", "Reopened {n} times"),
    "care_conversation": ("對話 #{id}", "对话 #{id}", "Conversation #{id}"),
    "care_case": ("案件 #{id}", "工单 #{id}", "Case #{id}"),
    "care_message": ("給客戶的訊息", "给客户的消息", "Message to the customer"),
    "care_reach_out": ("主動聯繫", "主动联系", "Reach out"),
    "care_dismiss_reason": ("略過原因", "忽略原因", "Reason to dismiss"),
    "care_dismiss": ("略過", "忽略", "Dismiss"),
    "care_case_subject": ("案件主旨", "工单标题", "Case subject"),
    "care_convert": ("轉為案件", "转为工单", "Convert to a case"),
    "care_empty": (
        "目前沒有需要主動關懷的客戶。",
        "目前没有需要主动关怀的客户。",
        "No customers need proactive care right now.",
    ),
    "care_need_reason": ("請填寫略過原因。", "请填写忽略原因。", "Please give a reason to dismiss."),
    "care_stats_h": ("近 30 天成效", "近 30 天成效", "Last 30 days"),
    "care_stat_detected": ("偵測", "检测", "Detected"),
    "care_stat_replied": ("48 小時內回覆", "48 小时内回复", "Replied within 48 h"),
    "care_outcome": ("處理結果", "处理结果", "Outcome"),
    "care_suggest_topic_repeat": (
        "您好，我們注意到您最近多次詢問相關問題，想主動確認是否還有需要協助的地方？我們很樂意為您處理。",
        "您好，我们注意到您最近多次咨询相关问题，想主动了解是否还需要帮助？我们很乐意为您处理。",
        "Hello, we noticed you have asked about this a few times recently. Is there anything more "
        "we can help you with? We are happy to sort it out for you.",
    ),
    "care_suggest_bot_struggle": (
        "您好，剛才自動回覆似乎沒有解決您的問題，由專人來協助您。請問有什麼可以幫忙的呢？",
        "您好，刚才自动回复好像没有解决您的问题，现在由人工客服为您服务。请问有什么可以帮您？",
        "Hello, it looks like our automatic replies did not answer your question, so a person is "
        "here to help. What can we do for you?",
    ),
    "care_suggest_stuck_flow": (
        "您好，看起來您在這個步驟停留了一段時間，需要我們協助完成嗎？",
        "您好，看起来您在这个步骤停留了一段时间，需要我们帮您完成吗？",
        "Hello, it looks like you have been on this step for a while. Would you like some help finishing it?",
    ),
    "care_suggest_reopened": (
        "您好，您的案件已多次重新開啟，我們想主動與您確認問題是否已完全解決，還有什麼需要協助的嗎？",
        "您好，您的工单已多次重新打开，我们想主动与您确认问题是否已彻底解决，还有什么需要帮助的吗？",
        "Hello, your case has been reopened a few times. We would like to check that it is fully "
        "solved: is there anything else we can do?",
    ),
    "care_subject_default": ("主動關懷：{reason}", "主动关怀：{reason}", "Proactive care: {reason}"),
}
