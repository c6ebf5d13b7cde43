"""Help-centre strings for customers, written by hand per locale: (zh-TW, zh-CN, en)."""

from __future__ import annotations

STRINGS3: dict[str, tuple[str, str, str]] = {
    "hc_hello": ("您好，需要什麼協助？", "您好，需要什么帮助？", "Hi, how can we help?"),
    "hc_search_placeholder": ("例如：退款多久會到帳", "例如：退款多久到账", "e.g. when will my refund arrive"),
    "hc_categories": ("依主題瀏覽", "按主题浏览", "Browse by topic"),
    "hc_popular_articles": ("熱門文章", "热门文章", "Popular articles"),
    "hc_popular_faqs": ("常見問題", "常见问题", "Frequently asked questions"),
    "hc_items": ("{n} 篇", "{n} 篇", "{n} items"),
    "hc_results": ("「{q}」的搜尋結果", "“{q}”的搜索结果", "Results for “{q}”"),
    "hc_article": ("文章", "文章", "Article"),
    "hc_faq": ("常見問題", "常见问题", "FAQ"),
    "hc_related": ("相關文章", "相关文章", "Related articles"),
    "hc_helpful_q": ("這篇內容有幫助嗎？", "这篇内容有帮助吗？", "Was this helpful?"),
    "hc_yes": ("有幫助", "有帮助", "Yes"),
    "hc_no": ("沒幫助", "没帮助", "No"),
    "hc_voted": ("謝謝您的回饋！", "感谢您的反馈！", "Thanks for your feedback!"),
    "hc_votes": ("{n} 人覺得有幫助", "{n} 人觉得有帮助", "{n} people found this helpful"),
    "hc_still_need": ("還是找不到答案？", "还是没找到答案？", "Still need help?"),
    "hc_chat": ("線上客服", "在线客服", "Start a chat"),
    "hc_message": ("留言給我們", "给我们留言", "Leave us a message"),
    "hc_track": ("查詢進度", "查询进度", "Track a request"),
    "hc_home": ("幫助中心首頁", "帮助中心首页", "Help centre home"),
    "hc_updated": ("更新於 {date}", "更新于 {date}", "Updated {date}"),
    "hc_not_found": ("找不到這個頁面", "找不到这个页面", "We can't find that page"),
    "hc_not_found_body": (
        "連結可能已失效，或內容已經下架。試試搜尋，或回到幫助中心首頁。",
        "链接可能已失效，或内容已下线。试试搜索，或返回帮助中心首页。",
        "The link may be old or the page was taken down. Try a search or go back to the help centre.",
    ),
    "hc_empty": ("這裡還沒有內容。", "这里还没有内容。", "Nothing here yet."),
    "hc_chat_hint": (
        "點右下角的對話按鈕就能和我們聊聊。",
        "点击右下角的对话按钮即可与我们沟通。",
        "Use the chat button in the corner to talk to us.",
    ),
}
