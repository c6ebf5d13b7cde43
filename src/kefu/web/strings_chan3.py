"""Channel strings (composer attachments, channel test messages), hand-written per locale: (zh-TW, zh-CN, en)."""

from __future__ import annotations

STRINGS3: dict[str, tuple[str, str, str]] = {
    # composer attachments
    "c3_attach": ("附加檔案", "添加附件", "Attach files"),
    "c3_attach_hint": (
        "此管道每個檔案上限 {mb} MB，最多 {n} 個",
        "此渠道每个文件上限 {mb} MB，最多 {n} 个",
        "Up to {n} files, {mb} MB each, on this channel",
    ),
    "c3_attach_none": ("此管道無法傳送附件", "此渠道无法发送附件", "This channel cannot carry attachments"),
    "c3_err_unsupported": (
        "{channel} 無法傳送附件，請改用其他管道。",
        "{channel} 无法发送附件，请改用其他渠道。",
        "{channel} cannot carry attachments; use another channel.",
    ),
    "c3_err_type": (
        "「{file}」的檔案類型無法透過 {channel} 傳送。",
        "“{file}”的文件类型无法通过 {channel} 发送。",
        "“{file}”: this file type cannot be sent on {channel}.",
    ),
    "c3_err_size": (
        "「{file}」超過 {channel} 的上限 {mb} MB。",
        "“{file}”超过 {channel} 的上限 {mb} MB。",
        "“{file}” is larger than the {channel} limit of {mb} MB.",
    ),
    "c3_err_total": (
        "附件合計超過 {channel} 每則訊息 {mb} MB 的上限。",
        "附件合计超过 {channel} 每条消息 {mb} MB 的上限。",
        "The files add up to more than {channel}'s {mb} MB per message.",
    ),
    "c3_err_many": (
        "{channel} 每則訊息最多 {n} 個檔案。",
        "{channel} 每条消息最多 {n} 个文件。",
        "{channel} takes at most {n} files per message.",
    ),
    "c3_err_empty": ("請輸入訊息或附加檔案。", "请输入消息或添加附件。", "Write a message or attach a file."),
    "c3_err_https": (
        "LINE 只能從 https 網址下載檔案，請將 KEFU_BASE_URL 設為 https。",
        "LINE 只能从 https 网址下载文件，请将 KEFU_BASE_URL 设为 https。",
        "LINE downloads files only over https; set KEFU_BASE_URL to an https address.",
    ),
    "c3_err_other": ("無法送出：{detail}", "无法发送：{detail}", "Not sent: {detail}"),
    # channel test message (admin → inboxes)
    "c3_test_h": ("傳送測試訊息", "发送测试消息", "Send a test message"),
    "c3_test_to_email": ("收件人 Email", "收件人 Email", "Recipient email"),
    "c3_test_to_line": ("LINE 使用者 ID", "LINE 用户 ID", "LINE user ID"),
    "c3_test_to_messenger": ("Messenger PSID", "Messenger PSID", "Messenger PSID"),
    "c3_test_to_phone": ("手機號碼（簡訊）", "手机号码（短信）", "Mobile number (SMS)"),
    "c3_test_to_api": ("使用者 ID", "用户 ID", "User ID"),
    "c3_test_send": ("傳送測試", "发送测试", "Send test"),
    "c3_test_text": (
        "這是來自 {brand} 客服系統的測試訊息，收到即表示「{inbox}」設定正確。",
        "这是来自 {brand} 客服系统的测试消息，收到即表示“{inbox}”设置正确。",
        "This is a test message from {brand} customer service: receiving it means “{inbox}” is set up correctly.",
    ),
    "c3_test_subject": ("測試訊息", "测试消息", "Test message"),
    "c3_test_ok": (
        "已送出測試訊息給 {to}（服務商編號：{id}）。",
        "已发送测试消息给 {to}（服务商编号：{id}）。",
        "Test message sent to {to} (provider id: {id}).",
    ),
    "c3_test_failed": (
        "傳送失敗，服務商回覆：{detail}",
        "发送失败，服务商回复：{detail}",
        "Not sent. The provider answered: {detail}",
    ),
    "c3_test_need_to": ("請填寫收件對象。", "请填写收件对象。", "Enter who should receive the test."),
    "c3_test_cannot": (
        "此管道無法主動傳送訊息。",
        "此渠道无法主动发送消息。",
        "This channel cannot send messages on its own.",
    ),
    "c3_test_inactive": ("此收件匣已停用。", "此收件箱已停用。", "This inbox is inactive."),
}
