"""Strings of the console's responsive navigation (menu button, the More disclosure, the page's own tabs)."""

STRINGS_NAVUI: dict[str, tuple[str, str, str]] = {
    "nav_menu": ("選單", "菜单", "Menu"),
    "nav_more": ("更多", "更多", "More"),
    "nav_section": ("頁面導覽", "页面导航", "Page navigation"),
}
