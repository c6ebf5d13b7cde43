"""Strings for inline form errors and brand settings, written by hand per locale: (zh-TW, zh-CN, en)."""

from __future__ import annotations

STRINGS3: dict[str, tuple[str, str, str]] = {
    # Inline errors next to a field after an htmx form got a 4xx (kefu.web.forms.field_errors).
    "fe_missing": ("這個欄位必填。", "此项为必填。", "This field is required."),
    "fe_too_short": ("至少要 {n} 個字。", "至少需要 {n} 个字。", "Enter at least {n} characters."),
    "fe_too_long": ("最多 {n} 個字。", "最多 {n} 个字。", "Use at most {n} characters."),
    "fe_number": ("請輸入整數。", "请输入整数。", "Enter a whole number."),
    "fe_too_many": ("最多可選 {n} 項。", "最多可选 {n} 项。", "Choose at most {n}."),
    "fe_choice": ("請從清單中選擇一項。", "请从列表中选择一项。", "Choose one of the options."),
    "fe_invalid": ("格式不正確。", "格式不正确。", "This value is not valid."),
    "fe_detail": ("原因：{detail}", "原因：{detail}", "Reason: {detail}"),
    "fe_network": (
        "無法連線到伺服器，請檢查網路後再試一次。",
        "无法连接服务器，请检查网络后重试。",
        "Couldn't reach the server. Check your connection and try again.",
    ),
    # Admin → brand settings: colours, logo and favicon for the help centre and the chat widget.
    "bs_title": ("品牌外觀", "品牌外观", "Brand appearance"),
    "bs_hint": (
        "說明中心與聊天視窗會套用這些顏色與標誌。",
        "帮助中心和聊天窗口会使用这些颜色和标志。",
        "The help centre and the chat widget use these colours and logo.",
    ),
    "bs_primary": ("主色（#RRGGBB）", "主色（#RRGGBB）", "Primary colour (#RRGGBB)"),
    "bs_accent": ("輔助色（#RRGGBB）", "辅助色（#RRGGBB）", "Accent colour (#RRGGBB)"),
    "bs_logo_file": (
        "上傳標誌（PNG、JPEG、WebP，最大 {kb} KB）",
        "上传标志（PNG、JPEG、WebP，最大 {kb} KB）",
        "Upload a logo (PNG, JPEG or WebP, up to {kb} KB)",
    ),
    "bs_logo_url": ("或標誌網址（https://）", "或标志网址（https://）", "…or a logo URL (https://)"),
    "bs_remove_logo": ("移除已上傳的標誌", "移除已上传的标志", "Remove the uploaded logo"),
    "bs_current_logo": ("目前的標誌", "当前标志", "Current logo"),
    "bs_save": ("儲存外觀", "保存外观", "Save appearance"),
    "bs_saved": ("已儲存品牌外觀。", "品牌外观已保存。", "Brand appearance saved."),
    "bs_bad_hex": (
        "請輸入 # 開頭的 6 位十六進位色碼，例如 #0f766e。",
        "请输入以 # 开头的 6 位十六进制色值，例如 #0f766e。",
        "Enter a 6-digit hex colour starting with #, e.g. #0f766e.",
    ),
    "bs_low_contrast": (
        "這個顏色配白字太淺（對比 {ratio}:1，至少要 4.5:1），請選深一點的顏色。",
        "这个颜色配白字太浅（对比度 {ratio}:1，至少 4.5:1），请选深一点的颜色。",
        "White text on this colour is too faint ({ratio}:1, needs 4.5:1); choose a darker colour.",
    ),
    "bs_bad_url": (
        "請輸入 https:// 開頭的完整網址。",
        "请输入以 https:// 开头的完整网址。",
        "Enter a full address starting with https://.",
    ),
    "bs_bad_logo": (
        "標誌只能是 PNG、JPEG 或 WebP 圖片。",
        "标志只能是 PNG、JPEG 或 WebP 图片。",
        "The logo must be a PNG, JPEG or WebP image.",
    ),
    "bs_bad_favicon": (
        "網站圖示只能是 PNG 或 ICO 檔。",
        "网站图标只能是 PNG 或 ICO 文件。",
        "The favicon must be a PNG or ICO file.",
    ),
    "bs_favicon_file": (
        "網站圖示（PNG 或 ICO，最大 {kb} KB）",
        "网站图标（PNG 或 ICO，最大 {kb} KB）",
        "Favicon (PNG or ICO, up to {kb} KB)",
    ),
    "bs_remove_favicon": ("移除已上傳的網站圖示", "移除已上传的网站图标", "Remove the uploaded favicon"),
    "bs_logo_too_big": (
        "標誌檔案太大（最大 {kb} KB）。",
        "标志文件太大（最大 {kb} KB）。",
        "The logo file is too large (max {kb} KB).",
    ),
    "bs_logo_alt": ("{brand} 標誌", "{brand} 标志", "{brand} logo"),
}
