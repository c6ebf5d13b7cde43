"""Widget strings of the accessibility-needs form (#17), until scripts/strings_to_po.py moves them into the catalogs."""

STRINGS_GAPS5: dict[str, tuple[str, str, str]] = {
    "widget_a11y": ("無障礙需求", "无障碍需求", "Accessibility needs"),
    "widget_a11yDeaf": ("聽障（聾）", "听障（聋）", "Deaf"),
    "widget_a11yHoh": ("重聽", "听力较弱", "Hard of hearing"),
    "widget_a11yBlind": ("視障（全盲）", "视障（全盲）", "Blind"),
    "widget_a11yLow": ("弱視", "低视力", "Low vision"),
    "widget_a11yConsent": (
        "我同意客服記錄這些需求，以便調整聯絡方式",
        "我同意客服记录这些需求，以便调整联系方式",
        "I agree that support may record these needs to adapt how they contact me",
    ),
    "widget_a11yHint": (
        "不勾選任何項目並儲存，即可撤回。",
        "不勾选任何项目并保存，即可撤回。",
        "Save with nothing ticked to withdraw them.",
    ),
    "widget_a11ySave": ("儲存", "保存", "Save"),
    "widget_a11ySaved": ("已儲存您的無障礙需求。", "已保存您的无障碍需求。", "Your accessibility needs are saved."),
    "widget_a11yFailed": (
        "儲存失敗，請稍後再試。",
        "保存失败，请稍后再试。",
        "Could not save. Please try again later.",
    ),
}
