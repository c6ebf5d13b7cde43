"""Quote and signature stripping: the new text of a reply without the quoted history."""

from __future__ import annotations

import re

_ATTRIBUTION_RES = (
    re.compile(r"^On\b.{0,400}\bwrote\s*:$", re.IGNORECASE | re.DOTALL),
    # 163/QQ "在 2024-01-02 10:00:00，… 写道：", Gmail zh "… 于2024年1月2日… 写道：", zh-TW "於 … 寫道："
    re.compile(r"^.{0,400}(?:写道|寫道)\s*[:：]$", re.DOTALL),
    re.compile(r"^Le\b.{0,400}\ba écrit\s*:$", re.IGNORECASE | re.DOTALL),
    re.compile(r"^Am\b.{0,400}\bschrieb\b.{0,200}:$", re.IGNORECASE | re.DOTALL),
)
# A wrapped attribution's first line still shows its start: "On …", "在 …", a date, or an address.
_ATTRIBUTION_START_RE = re.compile(r"^\s*(?:On|Le|Am)\b|^\s*(?:在|於|于)|\d|@|<", re.IGNORECASE)
_SEPARATOR_RE = re.compile(
    r"^[-—=_\s]*(?:-{2,}|_{2,}|—{2,})\s*"
    r"(?:Original(?:\s+Message)?|原始邮件|原始郵件|邮件原件|郵件原件|原邮件|原郵件|回覆的郵件)"
    r"\s*(?:-{2,}|_{2,}|—{2,})[-—=_\s]*$",
    re.IGNORECASE,
)
_UNDERSCORE_LINE_RE = re.compile(r"^_{10,}$")
_HEADER_FROM_RE = re.compile(r"^\*?(?:From|发件人|發件人|寄件者|寄件人)\s*\*?\s*[:：]", re.IGNORECASE)
_HEADER_NEXT_RE = re.compile(
    r"^\*?(?:Sent|Date|To|Subject|发送时间|發送時間|时间|時間|日期|寄件日期|收件人|收件者|主题|主旨)\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_MOBILE_SIGNATURE_RE = re.compile(
    r"^(?:Sent from my .{1,60}|Sent from Mail for Windows.*|Get Outlook for .{1,40}"
    r"|Sent from (?:Yahoo|Gmail).{0,40}"
    r"|发自我的.{1,40}|從我的.{1,40}傳送|从我的.{1,40}发送|寄自我的.{1,40})$",
    re.IGNORECASE,
)


def _is_quote_line(line: str) -> bool:
    return line.lstrip().startswith(">")


def _attribution_end(lines: list[str], index: int) -> int | None:
    """If an attribution line ("On … wrote:") starts at ``index`` return its last line index."""
    if _is_quote_line(lines[index]) or not lines[index].strip():
        return None
    # Gmail wraps long attributions, so try the line joined with up to two following ones.
    for span in range(1, 4):
        if index + span > len(lines):
            break
        chunk = lines[index : index + span]
        if any(_is_quote_line(line) or not line.strip() for line in chunk[1:]):
            break
        if span > 1 and not _ATTRIBUTION_START_RE.search(chunk[0]):
            break
        candidate = " ".join(line.strip() for line in chunk).strip()
        # A date is always present in real attributions; requiring a digit avoids cutting at
        # ordinary sentences such as "他在信中写道：".
        if re.search(r"\d", candidate) and any(rx.match(candidate) for rx in _ATTRIBUTION_RES):
            return index + span - 1
    return None


def _is_header_block(lines: list[str], index: int) -> bool:
    if not _HEADER_FROM_RE.match(lines[index].strip()):
        return False
    following = [line.strip() for line in lines[index + 1 : index + 5] if line.strip()]
    return any(_HEADER_NEXT_RE.match(line) for line in following[:3])


def strip_quoted_reply(text: str) -> str:
    """Drop quoted history (attributions, Original Message blocks, ``>`` lines) and signatures."""
    if not text:
        return ""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if _SEPARATOR_RE.match(stripped) or _is_header_block(lines, index):
            break
        if _UNDERSCORE_LINE_RE.match(stripped) and any(
            _HEADER_FROM_RE.match(nxt.strip()) for nxt in lines[index + 1 : index + 3]
        ):
            break
        if line.rstrip() == "--":  # RFC 3676 signature delimiter ("-- ")
            break
        end = _attribution_end(lines, index)
        if end is not None:
            following = next((ln for ln in lines[end + 1 :] if ln.strip()), "")
            if not _is_quote_line(following):
                # Top-posted reply whose quoted original is not ">"-prefixed: everything below goes.
                break
            index = end + 1
            continue
        if not _is_quote_line(line):
            kept.append(line.rstrip())
        index += 1

    while kept and (not kept[-1].strip() or _MOBILE_SIGNATURE_RE.match(kept[-1].strip())):
        kept.pop()
    collapsed: list[str] = []
    for line in kept:
        if not line.strip() and collapsed and not collapsed[-1].strip():
            continue
        collapsed.append(line)
    result = "\n".join(collapsed).strip()
    # A mail that is nothing but quoted text (e.g. a bare forward) is better shown whole than empty.
    return result or text.strip()
