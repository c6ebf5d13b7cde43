"""UI strings of accessibility and video sessions (#17): (zh-TW, zh-CN, en), each written for its locale."""

from __future__ import annotations

STRINGS_ACCESSVC: dict[str, tuple[str, str, str]] = {
    "acc_need_deaf": ("聽障（手語）", "听障（手语）", "Deaf (sign language)"),
    "acc_need_hard_of_hearing": ("重聽", "听力障碍", "Hard of hearing"),
    "acc_need_blind": ("視障（全盲）", "视障（全盲）", "Blind"),
    "acc_need_low_vision": ("弱視", "低视力", "Low vision"),
    "acc_hint_deaf": (
        "請以文字、簡訊、LINE 或視訊手語聯絡，勿打電話",
        "请用文字、短信、LINE 或视频手语联系，不要打电话",
        "Contact by text, SMS, LINE or a sign-language video session, never by phone",
    ),
    "acc_hint_hard_of_hearing": (
        "請以文字或視訊聯絡，勿打電話",
        "请用文字或视频联系，不要打电话",
        "Contact by text or video, not by phone",
    ),
    "acc_hint_blind": (
        "寄送純文字 Email，適合螢幕閱讀器；可用語音聯絡",
        "发送纯文本邮件，便于读屏软件朗读；可以语音联系",
        "Plain-text emails for screen readers; voice contact is fine",
    ),
    "acc_hint_low_vision": (
        "寄送純文字 Email，重要通知附震動提示",
        "发送纯文本邮件，重要通知带振动提示",
        "Plain-text emails; important notices also vibrate in the chat widget",
    ),
    "acc_no_phone": ("不安排電話回撥", "不安排电话回拨", "No phone call-backs"),
    "acc_plain_text": ("純文字 Email", "纯文本邮件", "Plain-text email"),
    "acc_needs_legend": (
        "無障礙需求（選填，讓客服以適合您的方式聯絡）",
        "无障碍需求（选填，方便客服用适合您的方式联系）",
        "Accessibility needs (optional, so we contact you in a way that works for you)",
    ),
    "acc_consent": (
        "我同意貴公司保存上述需求，僅用於提供客服",
        "我同意贵公司保存上述需求，仅用于提供客服",
        "I agree that you keep these needs, only to serve me",
    ),
    "pe_acc_consent": (
        "要保存無障礙需求，請勾選同意。",
        "要保存无障碍需求，请勾选同意。",
        "Please tick the consent box so we can keep your accessibility needs.",
    ),
    "pe_acc_phone": (
        "聽障朋友不適合電話回撥，請改約視訊（可選手語）或使用文字客服。",
        "听障朋友不适合电话回拨，请改约视频（可选手语）或使用文字客服。",
        "A phone call-back will not work for deaf or hard-of-hearing customers: book a video session (sign language "
        "available) or use text chat instead.",
    ),
    "acc_video_offer": ("也可以預約視訊客服：", "也可以预约视频客服：", "You can also book a video session:"),
    "acc_video_mode": ("視訊客服", "视频客服", "Video session"),
    "acc_video_sign": ("視訊客服＋手語", "视频客服＋手语", "Video session with sign language"),
    "acc_sign_language": ("手語", "手语", "Sign language"),
    "acc_phone_instead": ("改約電話回撥", "改约电话回拨", "Book a phone call-back instead"),
    "acc_video_link": (
        "視訊會議連結（預約時間請點此進入）：",
        "视频会议链接（预约时间点此进入）：",
        "Video room link (join at the booked time):",
    ),
    "acc_cb_video": ("視訊", "视频", "Video"),
    "acc_cb_interpreter": ("合作手語翻譯員", "合作手语翻译员", "Partner interpreter"),
    "acc_cb_join": ("進入視訊", "进入视频", "Join video"),
    # Call-back reminder of a video session (read by kefu.notices once in the catalogs; {phone} is not used).
    "notice_callback_video": (
        "提醒您：您預約的視訊客服將於 {local}（{zone}）開始（案件 {number}），屆時請開啟連結：{link}",
        "提醒您：您预约的视频客服将于 {local}（{zone}）开始（案件 {number}），届时请打开链接：{link}",
        "Reminder: your video session starts at {local} ({zone}) (case {number}). At that time, open: {link}",
    ),
    "acc_video_template": ("視訊客服會議網址範本", "视频客服会议网址模板", "Video session meeting-URL template"),
    "acc_video_template_hint": (
        "自建會議系統（如 Jitsi）的 https 網址，含一次 {token}；留空表示不提供視訊客服。",
        "自建会议系统（如 Jitsi）的 https 网址，包含一次 {token}；留空表示不提供视频客服。",
        "An https URL of your own meeting server (e.g. Jitsi) containing {token} once; empty: no video sessions.",
    ),
    "llm_translate_msg": ("翻譯", "翻译", "Translate"),
    "llm_target": ("譯成", "译成", "Into"),
}
