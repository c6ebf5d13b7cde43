"""Rule-based emotion and anger detection for customer-service messages (zh-Hant, zh-Hans, en).

Traditional Chinese is folded to Simplified with OpenCC so one lexicon serves both scripts. The lexicon
is tuned for support conversations (complaint threats, repeated contact, waiting) rather than literary
sentiment, and every decision is traceable through ``Emotion.cues``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

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

# ---------------------------------------------------------------------------------------------
# Lexicon. Chinese entries are written in Simplified (the normalized form); English entries are
# lowercase and get ASCII word boundaries. Entries are regex fragments and must not capture.
# ---------------------------------------------------------------------------------------------

# fmt: off
_ZH: dict[_Cat, dict[float, tuple[str, ...]]] = {
    _Cat.NEUTRAL: {
        0.0: (
            "不好意思", "没问题", "没关系", "不客气", "不用了", "没事", "不用谢", "不会不会", "不麻烦",
            "麻烦您", "麻烦你", "麻烦帮", "恐怕", "人工智能", "人工智慧", "垃圾邮件", "垃圾信",
            "垃圾桶", "垃圾分类", "垃圾短信", "垃圾讯息", "垃圾袋", "垃圾车", "垃圾匣", "滚动", "操作",
            "干嘛", "干净", "干燥", "干扰", "若干", "家里没人", "没人在家", "不太清楚", "不确定", "哎呀",
            "灿烂", "很火红", "告诉你",
        ),
    },
    _Cat.INSULT: {
        2.5: (
            "干你娘", "干恁娘", "干林娘", "机掰", "鸡掰", "机八", "他妈的", "他妈", "你妈的", "尼玛",
            "卧槽", "我操", "操你", "去死", "滚蛋", "狗屎", "王八蛋", "混蛋", "贱人",
            # Standalone 幹 (→干) only: 干 also means "do/dry". The lookbehind sits after the literal so
            # sre can still skip ahead by first character.
            r"干(?<![^\s,.!?。，、~]干)(?=[\s,.!?。，、~]|$)",
        ),
        2.0: (
            "垃圾", "骗子", "骗钱", "诈骗集团", "黑店", "奸商", "流氓", "无耻", "不要脸", "废物", "白痴",
            "智障", "脑残", "弱智", "神经病", "靠北", "靠杯", "靠腰", "靠夭", "放屁", "闭嘴",
            r"(?<![我你她们爸老俺咱])妈的",
            "坑钱", "吸血", "土匪", "强盗",
            "我靠", r"靠(?<![^\s,.!?。，、~]靠)(?=[\s,.!?。，、~]|$)",
            r"(?<![灿绚])滚(?![动筒轮珠])",
        ),
        1.5: (
            r"(?<![灿绚])烂", "摆烂", "破公司", "破系统", "什么破", "破东西", "破服务", "破app", "笨蛋",
            "蠢", "骗人", "坑人", "坑爹", "黑心", "无良", "恶心", "欺诈", "无能", "冲三小", "三小",
            "很鸟", "超鸟", "有够鸟", "很机车", "超机车", "有够机车", "什么玩意", "屁啦", "丢脸",
        ),
    },
    _Cat.THREAT: {
        3.0: (
            "消保官", "消基会", "消保会", "消保处", "消协", "消费者协会", "消费者保护",
            "工商局", "市场监管", "公平会", "金管会", "通传会", "律师", "告你", "告到", "提告",
            "起诉", "法律途径", "法律行动", "黑猫投诉", "上新闻", "爆料", "记者", r"(?<!\d)12315(?!\d)",
            r"(?:po|发|贴|公开)\s*(?:文|到|在|上)?\s*(?:网|网路|网上|ptt|dcard|脸书|fb|微博|小红书|抖音)",
            "曝光",
            r"逼我(?:去)?(?:投诉|客诉|检举|告)",
        ),
        2.5: ("检举", "举报", "媒体", "法院", "法律责任", "报警"),
        2.2: ("投诉", "客诉"),
        2.0: (
            "差评", "负评", r"(?:叫|找|让|请)你们?的?(?:主管|经理|老板|负责人|店长)", "警察",
            "让大家(?:看看|看|评评理|知道)",
        ),
        1.8: ("一星", "再也不会?(?:买|用|来|光顾)", "不会再(?:买|用|来|光顾)"),
        1.2: ("主管", "负责人", "申诉"),
        # Asking how to complain is a weaker signal than announcing a complaint.
        1.0: (
            r"(?:投诉|客诉)的?(?:流程|管道|渠道|方式|电话|窗口|专线|信箱)", "如何投诉", "怎么投诉",
            "怎样投诉",
        ),
    },
    _Cat.ANGER: {
        2.5: ("忍无可忍", "气炸", "气死"),
        1.8: ("火大", "愤怒", "受够", "恼火"),
        1.5: ("生气", "不爽", "可恶", "烦死", "讨厌"),
    },
    _Cat.HOSTILE: {
        2.0: ("态度恶劣", "开什么玩笑", "有没有搞错", "欺负人", "霸王条款", "给个说法", "给我一个交代"),
        1.5: (
            "过分", "离谱", "荒谬", "荒唐", "敷衍", "踢皮球", "不负责任", "凭什么", "搞什么", "欺骗",
            "态度(?:很|超|真|太|有够|非常)?(?:差|烂|不好)", "欺负", "忽悠", "有病", "夸张",
            r"(?:很|太|超|真|有够|扯)扯", "扯爆", "什么鬼", "一拖再拖", "还钱",
        ),
        1.2: ("推卸", "甩锅", "受不了", "烦不烦", "故意的", "是不是故意"),
        1.0: ("退钱",),
        0.8: (r"(?<![麻])烦(?![请劳您])",),
    },
    _Cat.FRUST: {
        1.5: (
            r"第(?:[四五六七八九十几n]|\d+)次", "无数次", "三番两次", "浪费(?:我的?)?时间", "白等",
            r"[几好上数]+[十百千]次", r"[几好上数]+[十百千]遍", "无数遍",
            "已读不回", "等那么久", "等这么久", "都没人",
        ),
        1.2: (
            "第三次", "好几次", "很多次", "多少次", r"\d+次了", "怎么又", "又来", "崩溃", "傻眼",
            # Exasperation ("I give up on you"), not contempt.
            "服了", "醉了",
            "没人(?:回|理|处理|接|管|联系|帮)", "打不通", "一拖", "拖了", "拖延",
        ),
        1.0: (
            "还是没", "还是不行", "还是一样", "每次都", "一再", "再三", "又是", "等很久", "等好久",
            "等半天", "还要等", "要等多久", "还要多久", "到底要多久", "多久了", "怎么还", "迟迟",
            "什么时候才", "何时才", "说好的", "没回应", "没回复", "没有回复", "没有回应", "不回复",
            "不回应", "没解决", "没有解决", "没处理", "没有处理", "能不能快", "可不可以快",
            r"(?:很|好|太|超|真|有够)麻烦", "麻烦死", "等到现在", "到现在都", "到现在还",
            r"还没(?:解决|处理|收到|回复|回应|到|退|寄|出货|发货|好|修好)",
        ),
        0.8: (
            "第二次", "等了", "到底", "一直(?:没|不|无法|在等|打不|联系不|收不到|失败|显示|卡|说|叫)",
            "寄错", "送错", "发错", "漏寄", "少寄", "出包", "复杂",
            r"又(?:坏|没|不|出|被|要|失败|卡|断|错|延|掉|再|当机|跳)", "怎么回事", "还是不", "无言",
            "无语", "没反应", "不能用", "用不了", "搞错", r"[几\d一二两三四五六七八九十半]+个?"
            r"(?:天|周|星期|礼拜|个月|月|小时|钟头)(?=了|都|还|过去)", "不是说",
        ),
        0.6: (
            "都没", "依然", "仍然", "究竟", "重复", "没收到", "没有收到", "收不到", "打不开", "快点",
            "什么情况", "坏了", "坏掉", "破损", "瑕疵", "到现在", "头痛", "头疼", "退款呢",
            "烂掉", "破掉", "破了",  # rotten / torn goods, not an insult
        ),
        0.5: ("还没",),
        0.3: ("多久", "失败", "错误", "故障", "为什么", "为何", "无法"),
    },
    _Cat.ANXIETY: {
        1.5: (
            "盗刷", "被盗", "盗用", "急死", "不明扣款", "不明交易", "不是我(?:本人)?(?:刷|买|消费|下单)",
            "吓死",
        ),
        1.2: ("被骗", "焦虑", "害怕", "救命", "求救", "紧急", "是不是被", "心慌", "慌", "重复扣款"),
        1.0: (
            "担心", "着急", "著急", "怎么办", "很急", "好急", "超急", "急急", "求求", "紧张", "诈骗",
            "吓到",
        ),
        0.8: ("不安", "急用", "扣了两次", "扣两次"),
        0.6: ("赶快", "异常", "拜托", "请尽快", "尽快", r"急(?!件)"),
        0.3: ("会不会", "马上"),
    },
    _Cat.SADNESS: {
        1.5: ("心寒", "心累", "伤透"),
        1.2: ("失望", "伤心", "委屈"),
        1.0: ("难过", "无奈", "想哭", "唉", "不开心", "郁闷"),
        0.8: ("遗憾", "哭", "沮丧"),
        0.6: ("可惜", "算了", "放弃"),
    },
    _Cat.THANKS: {
        1.0: ("感谢", "感恩", "辛苦了", "谢谢", "多谢", "谢啦", "谢了", "3q", "感激", "真是谢谢", "真是感谢"),
    },
    _Cat.PRAISE: {
        1.2: ("太好了", "太棒了", "好评", "五星", "给力", "贴心", "超赞", "完美"),
        1.0: (
            "满意", "开心", "高兴", "喜欢", "赞", "棒", "效率真高", "效率高", "专业", "感动", "优秀",
            "谢谢你们的(?:高效|效率|服务|帮忙)",
        ),
        0.8: ("不错", "很好", "解决了", "厉害", "好用", "顺利", "高效率", "高效", "神速", "很快"),
        0.5: ("哈哈",),
    },
    _Cat.SARCASM: {
        1.5: ("好棒棒", "真有你的"),
        1.2: ("呵呵", "真行", "厉害了", "佩服佩服"),
    },
}

_EN: dict[_Cat, dict[float, tuple[str, ...]]] = {
    _Cat.NEUTRAL: {
        0.0: (
            "no problem", "no worries", "not sure", "i'm afraid", "im afraid", "good morning",
            "good afternoon", "good evening", "no rush", "would love", "i'd love", "hate to bother",
            "hate to ask", "good day", "press the", "food court",
        ),
    },
    _Cat.INSULT: {
        2.5: (
            r"f+u+c+k+\w*", r"f\*+k\w*", "bullshit", "screw you", "go to hell", "motherf\\w*", "asshole",
            r"piece of (?:shit|crap|garbage)",
        ),
        2.0: (
            "wtf", r"shit\w*", "scam", r"scamm\w*", "rip-?off", "thie(?:f|ves)", r"liars?", "idiots?",
            "idiotic", "incompetent", "morons?", "pathetic", "shut up", "shame on you", "disgrace",
            "clowns?", "what the hell", "the hell", "crooks?", "crooked", "con artists?",
        ),
        1.8: ("useless", "stupid", "garbage", "trash", "worst", "disgusting"),
        1.5: (
            r"crap\w*", "sucks?", "horrible", "dumb", "ridiculous", "absurd", r"(?:a|what a|this is a) joke",
            "bs", r"(?:a|total|complete|such a) fraud", "frauds", "unprofessional", "rude",
            "lying", "you stole",
            "stealing (?:my|our)", "hell no",
        ),
        1.2: ("terrible", "awful", "nonsense", "lazy"),
    },
    _Cat.THREAT: {
        3.0: (
            r"report(?:ing)? you", "lawyers?", "attorneys?", r"(?:will|gonna|going to|i'll|i will) sue",
            r"sue (?:you|your|the|them)", "lawsuit", "legal action", "better business bureau", "bbb",
            "ftc", "small claims", "go public", r"(?:post|share) (?:this|it) (?:on|online)",
        ),
        2.5: (
            "consumer protection", "regulators?", "authorities", "social media", "the media",
            r"(?:file|filing|lodge|lodging|make|raise) a (?:formal )?complaint", "formal complaint",
            "journalists?", r"(?:take|see) (?:you|them|this|it) to court", "in court",
        ),
        2.0: (
            r"(?:bad|negative|1-star|one-star|one star|1 star) reviews?", "chargeback",
            r"never (?:buy|order|use|shop)\w* (?:\w+ )?(?:again|from you)", "police",
            r"(?:speak|talk) to (?:your|a|the) (?:manager|supervisor|boss)",
        ),
        1.8: (r"complain\w*", "dispute the charge"),
        1.2: ("escalate", "manager", "supervisor", r"cancel(?:l?ing)? my (?:account|subscription|membership)"),
        1.0: (r"complaints? (?:process|procedure|form|department|line|policy)", "how do i complain",
              "how to complain"),
    },
    _Cat.ANGER: {
        2.2: ("furious", "livid", r"outrag\w*", "infuriat\\w*", "enraged"),
        2.0: (r"pissed(?: off)?", "unacceptable", "sick and tired", "enough is enough", "fed up"),
        1.8: ("sick of", "had enough", "hate"),
        1.5: ("angry", "so mad", "mad at", "i'm done", "im done"),
        1.0: ("annoyed", "annoying", "irritated", "irritating"),
    },
    _Cat.FRUST: {
        1.5: (
            "over and over", r"how many (?:more )?times", "wasting my time", "waste of time", "runaround",
            "again and again",
            r"(?:\d+|three|four|five|six|several|multiple|many|countless|numerous|so many) times",
            "frustrat\\w*", r"hours? on hold",
        ),
        1.2: (
            "yet again", "third time", "been waiting", "still waiting", "how much longer",
            r"(?:nobody|no one|no-one) (?:has )?(?:replied|responded|answered|called|helped|cares|got back)",
            r"never (?:got|received|heard|replied|arrived|came|responded|showed)", "ugh+",
            # Undirected expletives vent frustration; insults aimed at the company are scored as INSULT.
            "damn", "dammit", "argh+",
        ),
        1.0: (
            "still not", "still no", r"still (?:haven't|hasn't|didn't|don't|doesn't|isn't|can't|cannot)",
            "every time", "repeatedly", r"keep (?:getting|saying|telling|asking|sending|happening|failing)",
            "no response", "no reply", "not resolved", "unresolved", "what is going on", "what's going on",
        ),
        0.8: (
            "once again", "second time", "waited", "on hold", "hold for", "seriously", "come on",
            "doesn't work", "does not work", "not working", "isn't working", "won't work", "broken",
            r"(?:for|over|after) (?:\d+|two|three|four|five|six|several|many) (?:days|weeks|months|hours)",
            r"(?:days|weeks|months) (?:now|already)", "kept", r"broke (?:everything|again|down)",
        ),
        0.6: ("waiting for", "why hasn't", "why haven't", "why isn't", "why can't", "damaged", "unhelpful",
              "not helpful"),
        0.4: ("again",),
        0.3: ("how long", "when will", "can't", "cannot", "failed", "error", "still"),
    },
    _Cat.ANXIETY: {
        1.5: (
            "emergency", r"panic\w*", "hacked", "unauthori[sz]ed", "fraudulent", "didn't authori[sz]e",
            "did not authori[sz]e", "didn't make (?:this|these|that)",
        ),
        1.2: ("worried", "anxious", "scared", "stolen", "terrified"),
        1.0: (
            "urgent", "urgently", "nervous", r"what (?:should|do|can) i do", "charged twice", "fraud",
            "double charged", "help me please", "please help",
        ),
        0.8: ("worry", "concerned", "asap", "afraid", "help!"),
        0.5: ("as soon as possible", "immediately"),
        0.3: ("right now",),
    },
    _Cat.SADNESS: {
        1.5: ("heartbroken", "devastated"),
        1.2: ("disappointed", "disappointing", "let down", "upset"),
        1.0: ("sad", "unhappy", "depressed", "sigh", "bummed", "gutted"),
        0.6: ("unfortunately", "give up", "giving up", "oh well", "sadly"),
    },
    _Cat.THANKS: {
        1.0: ("thank you", r"thanks?", "thx", "ty", "appreciate\\w*", "grateful", "cheers"),
    },
    _Cat.PRAISE: {
        1.2: ("you're the best", "you are the best", "awesome", "amazing", "excellent", "fantastic",
              "wonderful", "perfect", "brilliant"),
        1.0: ("great", "love", "happy", "satisfied", "pleased", "helpful", "works now", "working now",
              "good job", "great job", "well done"),
        0.8: ("glad", "nice", "resolved", "solved", "fixed", "lol", "xd"),
        0.4: ("good", "cool", "ok great"),
    },
    _Cat.SARCASM: {
        2.0: ("thanks for nothing", "thank you for nothing", "slow clap"),
        1.2: ("yeah right", "just great", "wow just wow", "sure, whatever", "real helpful"),
        0.8: ("whatever",),
    },
}

# Emoji and emoticons: matched without word boundaries.
_SYMBOLS: dict[_Cat, dict[float, tuple[str, ...]]] = {
    _Cat.ANGER: {2.0: ("😡", "🤬", "💢", "👿", "😠", ">:\\("), 1.2: ("🖕",)},
    _Cat.SARCASM: {1.0: ("🙄", "😒")},
    _Cat.FRUST: {1.0: ("😤",), 0.8: ("😩", "😫", "🤦", "= ?=", "orz")},
    _Cat.ANXIETY: {1.0: ("😰", "😱", "😨", "😟", "😥")},
    _Cat.SADNESS: {1.0: ("😭", "😢", "😞", "😔", "☹", "🙁", "💔", ":\\(", "t_t", ";_;")},
    _Cat.PRAISE: {
        1.0: ("😊", "😀", "😃", "😄", "😁", "🥰", "😍", "👍", "❤\ufe0f?", "♥", "🎉", "👌", "💯", "🥳"),
        0.6: ("🙂", "😆", ":\\)", ":d", "\\^_\\^", "\\^\\^"),
    },
    _Cat.THANKS: {1.0: ("🙏",)},
}
# fmt: on


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
# fmt: off
_CAPS_ALLOW = frozenset((
    "API", "APP", "ATM", "BBB", "CEO", "CNY", "COD", "CVV", "DHL", "ETA", "FAQ", "FTC", "GPS", "HTML", "IBAN",
    "IOS", "LINE", "LOL", "NCC", "NTD", "OMG", "OTP", "PDF", "PIN", "QR", "RMB", "SIM", "SMS", "SOP", "SWIFT",
    "TWD", "UPS", "URL", "USA", "USD", "USPS", "VIP", "WIFI", "WTF", "ASAP", "APPLE", "IPHONE", "KF", "CS",
    "ID", "TV",
))

_SHOUTED = frozenset((
    "WHY", "NOW", "NOT", "NEVER", "STILL", "AGAIN", "WHERE", "WHAT", "HOW", "STOP", "FIX", "HELP", "NO",
    "REFUND", "MONEY", "TODAY", "ANY", "ALL", "THIS", "WORST", "JOKE", "SCAM", "DONE", "ENOUGH", "SERIOUSLY",
    "EVER", "HOURS", "DAYS", "WEEKS", "MONTHS", "RIDICULOUS", "USELESS", "UNACCEPTABLE",
))
# fmt: on


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
