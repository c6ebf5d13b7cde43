"""Rule-based emotion and anger detection for customer-service messages (zh-Hant, zh-Hans, en).

Traditional Chinese is folded to Simplified with OpenCC so one lexicon serves both scripts. The lexicon
is tuned for support conversations (complaint threats, repeated contact, waiting) rather than literary
sentiment, and every decision is traceable through ``Emotion.cues``.
"""

from __future__ import annotations

import math
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from typing import Any

from kefu.core.chinese import convert

__all__ = [
    "LABELS",
    "Emotion",
    "analyze",
    "is_anger_alert",
    "normalize",
    "wants_human",
]

# Ordered from most to least severe; index is stable so callers may sort on it.
LABELS: tuple[str, ...] = ("anger", "frustration", "anxiety", "sadness", "neutral", "joy")


@dataclass(frozen=True, slots=True)
class Emotion:
    """Result of :func:`analyze`; ``cues`` are "kind:text" strings such as "threat:投訴" or "punct:!!!"."""

    sentiment: float
    label: str
    anger: int
    cues: tuple[str, ...]


class _Cat(Enum):
    ANGER = "anger"  # felt anger: negatable ("不生气")
    HOSTILE = "hostile"  # hostile judgements: not negatable ("别再敷衍我")
    INSULT = "insult"
    THREAT = "threat"
    FRUST = "frustration"
    ANXIETY = "anxiety"
    SADNESS = "sadness"
    THANKS = "thanks"
    PRAISE = "praise"
    SARCASM = "sarcasm"
    NEUTRAL = "neutral"  # consumes polite set phrases such as 不好意思 so their parts don't fire


_NEGATABLE = {_Cat.ANGER, _Cat.ANXIETY, _Cat.SADNESS, _Cat.THANKS, _Cat.PRAISE, _Cat.THREAT}
_JOYFUL = {_Cat.THANKS, _Cat.PRAISE}
_HOSTILE = {_Cat.ANGER, _Cat.HOSTILE, _Cat.INSULT, _Cat.THREAT, _Cat.SARCASM}

# The lexicon (weighted entries per category, per script) lives in emotion_lexicon.toml, package data read
# once at import: linguists edit it without touching code, and a malformed file stops the import loudly.
LEXICON_FILE = "emotion_lexicon.toml"
_Table = dict[_Cat, dict[float, tuple[str, ...]]]


def _load_lexicon() -> dict[str, Any]:
    return tomllib.loads(resources.files("kefu.bot").joinpath(LEXICON_FILE).read_text(encoding="utf-8"))


def _table(data: dict[str, Any], script: str) -> _Table:
    """One script's {category: {weight: entries}}; an unknown category or a non-list is an error, not a skip."""
    table: _Table = {}
    for cat, by_weight in data[script].items():
        try:
            category = _Cat(cat)
        except ValueError:
            raise ValueError(f"{LEXICON_FILE}: unknown category [{script}.{cat}]") from None
        table[category] = {}
        for weight, terms in by_weight.items():
            if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
                raise ValueError(f"{LEXICON_FILE}: [{script}.{cat}] {weight} must be a list of strings")
            table[category][float(weight)] = tuple(terms)
    return table


_DATA = _load_lexicon()
_ZH = _table(_DATA, "zh")
_EN = _table(_DATA, "en")
# Emoji and emoticons: matched without word boundaries.
_SYMBOLS = _table(_DATA, "symbols")


@dataclass(frozen=True, slots=True)
class _Entry:
    cat: _Cat
    weight: float


@dataclass(frozen=True, slots=True)
class _Lexicon:
    """Compiled lexicon.

    A single lookahead-wrapped alternation of every entry defeats sre's first-character skip and costs
    ~170 ms per KB. Literal entries instead go into plain literal alternations (which sre scans with a
    first-character set), and only genuine regex entries are scanned one by one.
    """

    entries: tuple[_Entry, ...]
    zh_literals: re.Pattern[str]  # no word boundaries (CJK, emoji)
    en_literals: re.Pattern[str]  # trailing boundary in the regex, leading boundary checked by caller
    literal_ids: dict[str, int]
    regexes: tuple[tuple[int, re.Pattern[str], bool], ...]  # (entry id, pattern, needs leading boundary)


_META = frozenset(".^$*+?{}[]\\|()")


def _build() -> _Lexicon:
    entries: list[_Entry] = []
    zh_lits: dict[str, int] = {}
    en_lits: dict[str, int] = {}
    regexes: list[tuple[int, re.Pattern[str], bool]] = []

    def add(table: dict[_Cat, dict[float, tuple[str, ...]]], english: bool) -> None:
        for cat, by_weight in table.items():
            for weight, terms in by_weight.items():
                for term in terms:
                    if re.compile(term).groups:
                        raise ValueError(f"lexicon entry must not capture: {term!r}")
                    idx = len(entries)
                    entries.append(_Entry(cat, weight))
                    if _META.isdisjoint(term):
                        bucket = en_lits if english else zh_lits
                        if term in zh_lits or term in en_lits:
                            raise ValueError(f"duplicate lexicon entry: {term!r}")
                        bucket[term] = idx
                    elif english:
                        regexes.append((idx, re.compile(rf"(?:{term})(?![a-z0-9])"), True))
                    else:
                        regexes.append((idx, re.compile(term), False))

    add(_ZH, english=False)
    add(_EN, english=True)
    add(_SYMBOLS, english=False)

    def alternation(words: Iterable[str], suffix: str = "") -> re.Pattern[str]:
        # Longest first: alternation is first-match, so this yields the longest literal at a position.
        ordered = sorted(words, key=len, reverse=True)
        return re.compile("(?:" + "|".join(map(re.escape, ordered)) + ")" + suffix)

    return _Lexicon(
        entries=tuple(entries),
        zh_literals=alternation(zh_lits),
        en_literals=alternation(en_lits, r"(?![a-z0-9])"),
        literal_ids={**zh_lits, **en_lits},
        regexes=tuple(regexes),
    )


_LEX = _build()
_LATIN_RE = re.compile(r"[a-z]")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")

_ZH_NEGATION_RE = re.compile(
    r"(?:不|没有?|别|未|毫无|并非|绝非|无需|不用)(?:是|很|太|那么|怎么|会|算|够|再|想|要|打算|觉得|感到|需要|用|必|大|太过|特别)"
    r"{0,2}$"
)
_EN_NEGATION_RE = re.compile(
    r"(?:\bnot|\bnever|\bno|n't|\bdont|\bcannot|\bwithout|\bhardly|\bnor)"
    r"(?:\s+(?:very|so|too|really|that|quite|all|exactly|particularly|at all|feeling|feel|be|being|been|"
    r"going to|gonna|want to|wanna|plan to|intend to|need to|trying to|a|an|the|to|i|we|will))*\s+$"
)
_ZH_INTENSIFIER_RE = re.compile(
    r"(?:非常|超级?|太|真的?|很|特别|极其?|好|根本|完全|简直|实在|有够|十分|相当|巨|贼|超级无敌|爆)(?:的|是|了)?$"
)
_EN_INTENSIFIER_RE = re.compile(
    r"\b(?:very|so|extremely|really|totally|absolutely|super|fucking|freaking|incredibly|completely|"
    r"utterly|too|truly|beyond|most)\s+$"
)
_ZH_DIMINISHER_RE = re.compile(r"(?:有点|有一点|有些|稍微|一点点|略微?|些许)$")
_EN_DIMINISHER_RE = re.compile(r"\b(?:a bit|a little|a little bit|slightly|kind of|kinda|somewhat|sort of)\s+$")
_QUOTED_RE = re.compile(r"[\"“「『'‘《](?P<inner>[^\"“”「」『』'‘’《》]{1,12})[\"”」』'’》]")
_QUOTED_SARCASM = 1.8
_CAPS_RE = re.compile(r"(?<![A-Za-z])[A-Z]{3,}(?![A-Za-z])")
_BANG_RUN_RE = re.compile(r"!+")
_QUESTION_RUN_RE = re.compile(r"\?{2,}")
_INTERROBANG_RE = re.compile(r"[!?]*(?:\?!|!\?)[!?]*")
# Upper-case words that are not shouting (acronyms, brands), and words that are when written in capitals.
_CAPS_ALLOW = frozenset(_DATA["caps"]["allow"])
_SHOUTED = frozenset(_DATA["caps"]["shouted"])


def _t2s(text: str) -> str:
    return convert(text, "t2s")


def normalize(text: str) -> str:
    """Return the matching form of ``text``: NFKC, Traditional→Simplified, lowercase."""
    return _t2s(unicodedata.normalize("NFKC", text)).lower()


def _ends_with(pattern: re.Pattern[str], text: str, end: int, width: int) -> bool:
    return pattern.search(text, max(0, end - width), end) is not None


def _modifier(norm: str, start: int) -> float:
    if _ends_with(_ZH_INTENSIFIER_RE, norm, start, 4) or _ends_with(_EN_INTENSIFIER_RE, norm, start, 16):
        return 1.5
    if _ends_with(_ZH_DIMINISHER_RE, norm, start, 4) or _ends_with(_EN_DIMINISHER_RE, norm, start, 16):
        return 0.6
    return 1.0


def _negated(norm: str, start: int) -> bool:
    return _ends_with(_ZH_NEGATION_RE, norm, start, 6) or _ends_with(_EN_NEGATION_RE, norm, start, 40)


def _candidates(norm: str) -> list[tuple[int, int, int]]:
    """Return every (entry id, start, end) lexicon hit, overlapping ones included."""
    found: list[tuple[int, int, int]] = []
    ids = _LEX.literal_ids
    has_latin = _LATIN_RE.search(norm) is not None

    def mid_word(start: int) -> bool:
        # Leading word boundary, checked here rather than as a regex lookbehind (see _Lexicon).
        return start > 0 and norm[start - 1] in _WORD_CHARS

    for pattern, english in ((_LEX.zh_literals, False), (_LEX.en_literals, True)):
        if english and not has_latin:
            continue
        # Resuming one character after each hit (not after its end) keeps overlapping hits.
        m = pattern.search(norm)
        while m is not None:
            start = m.start()
            if not (english and mid_word(start)):
                found.append((ids[m.group()], start, m.end()))
            m = pattern.search(norm, start + 1)
    for idx, pattern, english in _LEX.regexes:
        if english and not has_latin:
            continue
        for r in pattern.finditer(norm):
            if r.end() > r.start() and not (english and mid_word(r.start())):
                found.append((idx, r.start(), r.end()))
    return found


def _select_matches(norm: str) -> list[tuple[int, int, int]]:
    """Return non-overlapping lexicon hits, preferring the longest, in text order."""
    candidates = _candidates(norm)
    if len(candidates) < 2:
        return candidates
    # Longest wins so "都没人回" is one cue, not "都没" plus a dangling "人回".
    candidates.sort(key=lambda c: (c[1] - c[2], -_LEX.entries[c[0]].weight, c[1]))
    taken: list[tuple[int, int, int]] = []
    used = bytearray(len(norm))
    for idx, start, end in candidates:
        if not any(used[start:end]):
            used[start:end] = b"\x01" * (end - start)
            taken.append((idx, start, end))
    taken.sort(key=lambda c: c[1])
    return taken


def _level(score: float) -> int:
    for level, bound in enumerate((0.4, 1.0, 2.0, 3.0, 4.2)):
        if score < bound:
            return level
    return 5


def _dedupe(cues: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(cues))


def analyze(text: str) -> Emotion:
    """Score a customer message: sentiment in [-1, 1], a label from ``LABELS`` and anger level 0-5."""
    shown = unicodedata.normalize("NFKC", text)
    norm = _t2s(shown).lower()
    # Cues quote the customer's own script when t2s kept offsets aligned (it almost always does).
    surface = shown if len(shown) == len(norm) else norm

    score = dict.fromkeys(_Cat, 0.0)
    cues: list[str] = []
    seen: dict[int, int] = {}
    joy_spans: list[tuple[int, int, _Cat, float]] = []

    for idx, start, end in _select_matches(norm):
        entry = _LEX.entries[idx]
        if entry.cat is _Cat.NEUTRAL:
            continue
        # A word shouted five times is not five times the evidence.
        repeat = seen.get(idx, 0)
        seen[idx] = repeat + 1
        if repeat >= 2:
            continue
        weight = entry.weight * _modifier(norm, start) * (0.5 if repeat else 1.0)
        word = surface[start:end]
        if entry.cat in _NEGATABLE and _negated(norm, start):
            cues.append(f"negated:{word}")
            if entry.cat in _JOYFUL:
                # "不满意" / "not happy" is dissatisfaction, not neutrality.
                score[_Cat.FRUST] += 0.8 * weight
            elif entry.cat is _Cat.THREAT:
                score[_Cat.THREAT] += 0.3 * weight
            continue
        score[entry.cat] += weight
        cues.append(f"{entry.cat.value}:{word}")
        if entry.cat in _JOYFUL:
            joy_spans.append((start, end, entry.cat, weight))

    caps = [w for w in _CAPS_RE.findall(shown) if w not in _CAPS_ALLOW]

    bang_runs = [len(r) for r in _BANG_RUN_RE.findall(shown)]
    bangs = min(sum(bang_runs), 6)
    longest_bang = max(bang_runs, default=0)
    if longest_bang >= 2:
        cues.append("punct:" + "!" * min(longest_bang, 5))
    qrun = _QUESTION_RUN_RE.search(shown)
    if qrun:
        cues.append("punct:" + qrun.group()[:5])
    interrobang = _INTERROBANG_RE.search(shown) is not None

    hostile = sum(score[c] for c in _HOSTILE)
    frust = score[_Cat.FRUST]

    # Sarcasm: praise wrapped in quotes, next to an explicit marker, or amid hostility is not praise.
    praise = score[_Cat.PRAISE]
    thanks = score[_Cat.THANKS]
    quoted = [(q.start("inner"), q.end("inner")) for q in _QUOTED_RE.finditer(norm)]
    in_quotes = sum(
        w for s, e, cat, w in joy_spans if cat is _Cat.PRAISE and any(qs <= s and e <= qe for qs, qe in quoted)
    )
    negative_context = hostile + frust + score[_Cat.SADNESS]
    if in_quotes and negative_context >= 0.5:
        # Scare-quoted praise ("「高效率」", 'great') is contempt, about as strong as an insult.
        praise -= in_quotes
        hostile += _QUOTED_SARCASM
        cues.append("sarcasm:quoted praise")
    if score[_Cat.SARCASM] > 0 or hostile >= 1.5 or (praise > 0 and frust >= 1.5):
        if praise > 0:
            hostile += 0.6 * praise
            cues.append("sarcasm:praise amid complaint")
        praise = 0.0
        if hostile >= 1.5:
            thanks = 0.0  # "谢谢" closing an abusive message is a formula, not gratitude
    joy = praise + thanks

    negative = hostile + frust + score[_Cat.ANXIETY] + score[_Cat.SADNESS]
    # A lone unknown capitalised token is usually a product acronym (HDMI, NAS); shouting is several of
    # them, or one of the words people actually shout.
    if len(caps) < 2 and not any(w in _SHOUTED for w in caps):
        caps = []
    cues.extend(f"caps:{w}" for w in caps[:3])
    arousal = 0.0
    if negative > 0 or caps:
        arousal += min(1.5, 0.25 * bangs + (0.5 if longest_bang >= 3 else 0.25 if longest_bang == 2 else 0))
        arousal += 0.4 if qrun else 0.0
        arousal += 0.5 if interrobang else 0.0
        arousal += min(2.0, 0.6 * len(caps)) if negative > 0 else min(1.5, 0.5 * len(caps))

    anger_score = hostile + 0.6 * frust + 0.2 * score[_Cat.SADNESS]
    if anger_score > 0 or caps:
        anger_score += arousal
    anger = _level(anger_score)

    neg_total = negative + 0.5 * arousal
    sentiment = math.tanh((joy - neg_total) / 2.0)
    sentiment = round(max(-1.0, min(1.0, sentiment)), 3)

    negatives = {
        "anger": hostile + (arousal if hostile > 0 or caps else 0.0),
        "frustration": frust,
        "anxiety": score[_Cat.ANXIETY],
        "sadness": score[_Cat.SADNESS],
    }
    top = max(negatives, key=lambda k: negatives[k])
    top_score = negatives[top]
    # "anger" needs hostile evidence (insult, threat, sarcasm, shouting); a long wait alone is frustration
    # even when it is intense enough to alert.
    if anger >= 4 or (anger >= 2 and (hostile >= 1.0 or bool(caps))):
        label = "anger"
    elif joy >= 0.5 and joy > 1.2 * top_score:
        label = "joy"
    elif top_score < 0.5:
        label = "neutral"
    elif top == "anger":
        label = "frustration"  # low-grade irritation or bare shouting reads as frustration, not anger
    else:
        label = top

    return Emotion(sentiment=sentiment, label=label, anger=anger, cues=_dedupe(cues))


def is_anger_alert(e: Emotion, threshold: int = 3) -> bool:
    """Return True when the anger level reaches ``threshold`` and a supervisor should be alerted."""
    return e.anger >= threshold


# ---------------------------------------------------------------------------------------------
# Human hand-off requests
# ---------------------------------------------------------------------------------------------

_HUMAN_RE = re.compile(
    "|".join(
        (
            # zh: 人工 only when asked for, so 人工智慧 / 人工费 / 人工审核 don't fire.
            r"(?:转|接|找|要|换|叫|请|给我|联系|联络|连|求|转接)(?:一?个|一下|给)?人工"
            r"(?!智能|智慧|费|成本|草|湖|降雨|合成|养殖|呼吸|关节|授精|牙|耳|晶|心脏|审核)",
            r"人工(?:客服|服务|坐席|专员|回复|接听|台|接线|人员|的客服|处理)",
            r"^[\s\W]*人工[\s\W]*$",
            r"真人(?!秀|版|实境|cs|尺寸|大小|照|发)",
            "真的人",
            "活人",
            "真正的(?:人|客服)",
            "人类客服",
            r"客服(?:人员|专员|小姐|先生|mm)",
            "服务人员",
            "专员",
            "专人",
            r"(?:找|转|接|联系|联络|要|叫|请)(?:你们)?的?(?:客服|主管|经理|负责人)",
            r"找(?:一?个)?人(?:来|帮|处理|回|聊|谈|跟|和|说|讲|接)?(?!家|们?的|工)",
            "有人在吗",
            "有人吗",
            r"(?:不要|不想|别|讨厌)(?:跟|和|再)?(?:跟|和)?机器人",
            r"机器人(?:听不懂|没用|好烂|很烂|烂|答非所问)",
            r"(?:请|麻烦)?(?:专人|客服)?(?:打电话给我|给我打电话|回电|回拨)",
            # en
            r"\b(?:talk|speak|chat|connect|transfer|put|get|escalate|switch|pass|take)\b[^.,;!?\n]{0,30}?"
            r"\b(?:agents?|humans?|(?:real |live |actual )?(?:person|people)|representatives?|rep|operators?|"
            r"someone|somebody|staff|manager|supervisor|customer (?:service|support)|support team)\b",
            r"\b(?:need|want|request|prefer|give me|get me)\b[^.,;!?\n]{0,20}?"
            r"\b(?:an? )?(?:agent|human|real person|live person|representative|operator)\b",
            r"\b(?:real|live|actual|human) (?:person|human|agent|being|people|representative|rep|support)\b",
            r"^[\s\W]*(?:agent|human|representative|operator|rep)[\s\W]*(?:please|pls|plz)?[\s\W]*$",
            r"\b(?:agent|human|representative|operator)[,!\s]+(?:please|pls|plz)\b",
            r"\bare (?:you|u) (?:a )?(?:bot|robot|human|real)\b",
            # Not "not a robot": that is a CAPTCHA complaint, not a hand-off request.
            r"\b(?:no|stop|enough with|hate) (?:the |a |this |talking to a )?(?:bots?|robots?|machines?)\b",
            r"\bcall me back\b",
        )
    )
)
_HUMAN_NEGATION_RE = re.compile(
    r"(?:不用|不需要|不必|不要|无需|免|别|不想|没有要|不)(?:帮我|再|了|去|麻烦)?\s*$"
    r"|\b(?:no need (?:to|for)|don't need|do not need|don't want|do not want|not necessary|no thanks|"
    r"don't|do not|no)\s+(?:(?:to|a|an|me|talk to|speak to|speak with|talk with)\s+)*$"
)


def wants_human(text: str) -> bool:
    """Return True when the customer asks to be handed to a human agent (zh-Hant, zh-Hans, en)."""
    norm = normalize(text)
    for m in _HUMAN_RE.finditer(norm):
        # Only look back to the last clause break so "I don't want a bot, I want a human" still fires.
        window_start = max(0, m.start() - 24)
        head = norm[window_start : m.start()]
        cut = max(head.rfind(ch) for ch in ",.;!?，。；、\n")
        if cut >= 0:
            head = head[cut + 1 :]
        if _HUMAN_NEGATION_RE.search(head):
            continue
        return True
    return False
