"""Tests for kefu.bot.emotion: labeled customer-service table, rules, and hand-off detection."""

from __future__ import annotations

import dataclasses

import opencc
import pytest

from kefu.bot import emotion
from kefu.bot.emotion import LABELS, Emotion, analyze, is_anger_alert, normalize, wants_human

# (message, gold label, min anger, max anger). Gold labels are what a human reviewer would pick;
# anger bands are deliberately a little wide because neighbouring levels are genuinely debatable.
TABLE: list[tuple[str, str, int, int]] = [
    # --- zh-Hant (Taiwan) ---
    ("請問你們的營業時間是幾點？", "neutral", 0, 0),
    ("你好，我想查詢訂單 KF-000123 的出貨進度", "neutral", 0, 0),
    ("請問退貨的流程是什麼？需要自己寄回嗎", "neutral", 0, 0),
    ("可以開三聯式發票嗎？統編是 12345675", "neutral", 0, 0),
    ("不好意思，想再確認一下收件地址有沒有改成功", "neutral", 0, 0),
    ("我不生氣，只是想知道什麼時候會退款", "neutral", 0, 1),
    ("謝謝你，問題解決了！", "joy", 0, 0),
    ("好的，謝謝您的協助 😊", "joy", 0, 0),
    ("客服人員很專業，非常滿意，給你們五星好評", "joy", 0, 0),
    ("東西收到了，包裝很用心，謝謝！", "joy", 0, 0),
    ("這個產品還不錯，但是運費有點貴", "joy", 0, 1),
    ("我的包裹還沒到，可以幫我查一下嗎？", "frustration", 0, 1),
    ("已經等了一個禮拜了，怎麼還沒出貨？", "frustration", 1, 2),
    ("這是我第三次打來了，問題還是沒解決", "frustration", 2, 3),
    ("你們的 APP 又當機了，到底什麼時候才會修好？？", "frustration", 1, 3),
    ("等了三天都沒人回，你們到底有沒有在看訊息？", "frustration", 1, 3),
    ("已經講了好幾次地址是錯的，為什麼又寄錯？", "frustration", 2, 3),
    ("你們客服都不回訊息的嗎，已讀不回是怎樣", "frustration", 1, 3),
    ("我要投訴，你們的客服態度很差", "anger", 3, 4),
    ("爛透了！！！騙子公司，我要去消保官那邊檢舉你們", "anger", 4, 5),
    ("幹，又壞了，你們賣這什麼垃圾", "anger", 3, 5),
    ("再不處理我就 PO 到 PTT 跟 Dcard 讓大家看看", "anger", 3, 5),
    ("你們是白痴嗎？講了幾百次了！", "anger", 4, 5),
    ("我要求退費，不然就告你們", "anger", 3, 5),
    ("謝謝你們的「高效率」，等了一個月還沒處理", "anger", 2, 4),
    ("呵呵，你們真行，一直叫我等", "anger", 2, 4),
    ("好棒棒喔，又延遲出貨", "anger", 2, 4),
    ("我的信用卡被盜刷了，怎麼辦？？請趕快幫我處理", "anxiety", 0, 1),
    ("很擔心我的個資會不會外洩", "anxiety", 0, 0),
    ("拜託快點，明天就要用了，很急", "anxiety", 0, 1),
    ("好失望，本來很期待的，唉", "sadness", 0, 1),
    ("轉人工", "neutral", 0, 0),
    # --- zh-Hans (mainland) ---
    ("你好，请问这个商品有现货吗？", "neutral", 0, 0),
    ("请问快递一般几天能到？", "neutral", 0, 0),
    ("我想修改一下收货地址，可以吗", "neutral", 0, 0),
    ("好的，谢谢，辛苦了", "joy", 0, 0),
    ("问题已经解决了，非常感谢你们的帮助！", "joy", 0, 0),
    ("客服小姐姐态度很好，点赞👍", "joy", 0, 0),
    ("我等了半个月了，还是没有收到货", "frustration", 1, 2),
    ("怎么又扣了我两次钱？？？", "frustration", 1, 3),
    ("有点不爽，快递员把包裹直接扔门口", "frustration", 1, 2),
    ("不是说24小时内回复吗，都两天了", "frustration", 1, 2),
    ("真的很无语，订单莫名其妙被取消了", "frustration", 1, 2),
    ("你们这是什么垃圾服务，我要打12315投诉你们！", "anger", 4, 5),
    ("骗子！退钱！", "anger", 3, 5),
    ("气死我了，客服一直在踢皮球", "anger", 3, 5),
    ("再不给我处理我就找媒体曝光", "anger", 3, 5),
    ("第三次联系你们了，能不能给个说法？", "anger", 2, 4),
    ("你们有没有搞错？说好的三天发货呢？", "anger", 2, 4),
    ("我的账号被盗了，里面还有余额，好着急", "anxiety", 0, 1),
    ("求求你们快点退款，我等着这笔钱用，很急", "anxiety", 0, 2),
    ("唉，买了不到一周就坏了，好失望", "sadness", 0, 2),
    # --- English ---
    ("Hi, what are your opening hours?", "neutral", 0, 0),
    ("How long does shipping to Taichung usually take?", "neutral", 0, 0),
    ("Can I change the delivery address for order 20240115?", "neutral", 0, 0),
    ("Is there a discount code for first-time buyers?", "neutral", 0, 0),
    ("No rush, whenever you get a chance.", "neutral", 0, 0),
    ("I'm not angry, just confused about the invoice.", "neutral", 0, 1),
    ("Thank you so much, that fixed it!", "joy", 0, 0),
    ("Great, thanks for the quick help 👍", "joy", 0, 0),
    ("Appreciate it, have a nice day!", "joy", 0, 0),
    ("My package still hasn't arrived, could you check?", "frustration", 0, 1),
    ("This is the third time I'm contacting you and it's still not resolved.", "frustration", 2, 3),
    ("I've been waiting for 2 weeks, how much longer???", "frustration", 1, 3),
    ("Not happy with the product, it stopped working after two days.", "frustration", 1, 2),
    ("Damn, the app crashed again 😤", "frustration", 1, 3),
    ("This is ridiculous. I want to speak to your manager.", "anger", 3, 4),
    ("WTF is wrong with you people?! This is a SCAM!!!", "anger", 4, 5),
    ("I'm going to report you to the BBB and contact my lawyer.", "anger", 4, 5),
    ("Your service is useless and your agents are incompetent.", "anger", 3, 5),
    ("I will never buy from you again. Worst customer service ever!!!", "anger", 4, 5),
    ("WHY IS MY ORDER STILL NOT HERE", "anger", 2, 4),
    ("Thanks for nothing 🙄", "anger", 2, 4),
    ("Oh wow, another 'great' update that broke everything. Thanks a lot.", "anger", 2, 4),
    ("Great job guys, my order is lost AGAIN. Just great.", "anger", 2, 4),
    ("I'm really worried, there are charges on my card I didn't make.", "anxiety", 0, 1),
    ("Please help, my account was hacked and I can't log in!", "anxiety", 0, 2),
    ("I'm so disappointed, I expected much better.", "sadness", 0, 1),
    # --- code-mixed ---
    ("我的 order 還沒到 already 10 days 了，what's going on?", "frustration", 1, 3),
    ("謝謝 thanks a lot 😊", "joy", 0, 0),
    ("你們的 service 真的很 terrible，我要 complain", "anger", 3, 4),
]

# Written blind after TABLE was tuned, gold labels fixed before the first run. First-run label accuracy
# was 33/40 = 0.825; the misses were lexicon gaps (sadly/bummed, crooks, unhelpful, 複雜, 故意的) that
# were then added, so this is now a regression table, and 0.825 is the honest out-of-sample figure.
HOLDOUT: list[tuple[str, str]] = [
    ("請問可以用 LINE Pay 付款嗎？", "neutral"),
    ("我想取消訂單，還沒出貨應該可以吧", "neutral"),
    ("太感謝了，你們真的幫了大忙", "joy"),
    ("退款三個禮拜了還沒入帳，到底怎麼回事", "frustration"),
    ("你們這樣根本是詐騙吧，我要報警", "anger"),
    ("我的帳號被登入了，不是我本人，好害怕", "anxiety"),
    ("唉，生日禮物沒趕上，很難過", "sadness"),
    ("超級不爽，客服電話永遠打不通", "anger"),
    ("沒關係，我再等等看", "neutral"),
    ("真的是服了你們，每次都出包", "frustration"),
    ("商品很好用，下次還會再買", "joy"),
    ("請問發票可以寄到公司嗎", "neutral"),
    ("換貨流程也太複雜了吧", "frustration"),
    ("你們的物流爛到爆，我要給一星負評", "anger"),
    ("请问支持七天无理由退货吗", "neutral"),
    ("太棒了，这么快就到了！", "joy"),
    ("客服态度太恶劣了，我要投诉到消协", "anger"),
    ("充值了没到账，我很担心钱没了", "anxiety"),
    ("发了好几条消息都没人理", "frustration"),
    ("这已经是第五次了，你们是不是故意的？", "anger"),
    ("东西还行吧，就是物流慢了点", "neutral"),
    ("有点失望，跟图片差太多了", "sadness"),
    ("急！！！明天出国，护照还在你们那", "anxiety"),
    ("谢谢亲，五星好评", "joy"),
    ("Do you ship to Kaohsiung?", "neutral"),
    ("Thanks, that's exactly what I needed.", "joy"),
    ("I still haven't received my refund and it's been a month.", "frustration"),
    ("This is absolutely unacceptable. I want a full refund now.", "anger"),
    ("Someone used my card without permission, what do I do?", "anxiety"),
    ("Sadly the item arrived damaged. Pretty bummed.", "sadness"),
    ("You guys are a bunch of crooks.", "anger"),
    ("Why do I have to explain this again and again?", "frustration"),
    ("I'm contacting consumer protection about this.", "anger"),
    ("Love the new update, great work team!", "joy"),
    ("Could you resend the invoice please?", "neutral"),
    ("Seriously?? Nobody has replied in 3 days.", "frustration"),
    ("I'm worried my package got lost.", "anxiety"),
    ("I'm fed up with your excuses.", "anger"),
    ("ok", "neutral"),
    ("Your chatbot is so unhelpful", "frustration"),
]

# Accuracy floor for the whole table; the measured value is printed by ``python tests/bot/test_emotion.py``.
MIN_LABEL_ACCURACY = 0.9
MIN_HOLDOUT_ACCURACY = 0.85


def _label_accuracy(rows: list[tuple[str, str]]) -> tuple[float, list[tuple[str, str, str]]]:
    results = [(text, gold, analyze(text).label) for text, gold in rows]
    misses = [r for r in results if r[1] != r[2]]
    return 1 - len(misses) / len(rows), misses


def _table_rows() -> list[tuple[str, str]]:
    return [(text, gold) for text, gold, _, _ in TABLE]


def test_table_is_large_and_balanced() -> None:
    assert len(TABLE) >= 60
    gold = {row[1] for row in TABLE}
    assert gold == set(LABELS)


@pytest.mark.parametrize(("text", "gold", "lo", "hi"), TABLE, ids=[f"row{i}" for i in range(len(TABLE))])
def test_anger_level_band(text: str, gold: str, lo: int, hi: int) -> None:
    e = analyze(text)
    assert lo <= e.anger <= hi, f"{text!r}: anger={e.anger} not in [{lo},{hi}] cues={e.cues}"


@pytest.mark.parametrize(("text", "gold", "lo", "hi"), TABLE, ids=[f"row{i}" for i in range(len(TABLE))])
def test_sentiment_sign(text: str, gold: str, lo: int, hi: int) -> None:
    s = analyze(text).sentiment
    assert -1.0 <= s <= 1.0
    if gold == "joy":
        assert s > 0, text
    elif gold in {"anger", "frustration", "anxiety", "sadness"}:
        assert s < 0, text
    else:
        assert abs(s) <= 0.5, text


def test_label_accuracy_over_table() -> None:
    accuracy, misses = _label_accuracy(_table_rows())
    print(f"emotion label accuracy: {accuracy:.3f} over {len(TABLE)} messages")
    assert accuracy >= MIN_LABEL_ACCURACY, f"label accuracy {accuracy:.3f}; misses: {misses}"


def test_label_accuracy_over_holdout() -> None:
    assert len(HOLDOUT) >= 40
    accuracy, misses = _label_accuracy(HOLDOUT)
    print(f"emotion holdout label accuracy: {accuracy:.3f} over {len(HOLDOUT)} messages")
    assert accuracy >= MIN_HOLDOUT_ACCURACY, f"holdout accuracy {accuracy:.3f}; misses: {misses}"


def test_alert_agrees_with_gold_bands() -> None:
    # Rows whose whole band is >= 3 must alert; rows whose band is <= 1 must not.
    for text, _, lo, hi in TABLE:
        e = analyze(text)
        if lo >= 3:
            assert is_anger_alert(e), text
        if hi <= 1:
            assert not is_anger_alert(e), text


def test_emotion_is_frozen_and_well_formed() -> None:
    e = analyze("我要投訴！！！")
    assert isinstance(e, Emotion)
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.anger = 0  # type: ignore[misc]
    assert e.label in LABELS
    assert 0 <= e.anger <= 5
    assert isinstance(e.cues, tuple)
    assert any(c.startswith("threat:") for c in e.cues)


@pytest.mark.parametrize("text", ["", "   ", "。", "12345", "😶", "ok", "\n\n"])
def test_degenerate_inputs_are_neutral(text: str) -> None:
    e = analyze(text)
    assert e.label == "neutral"
    assert e.anger == 0
    assert e.sentiment == 0.0


def test_traditional_and_simplified_agree() -> None:
    pairs = [
        ("我要投訴，你們的客服態度很差", "我要投诉，你们的客服态度很差"),
        ("這是我第三次打來了，問題還是沒解決", "这是我第三次打来了，问题还是没解决"),
        ("謝謝你，問題解決了！", "谢谢你，问题解决了！"),
        ("我的信用卡被盜刷了，怎麼辦", "我的信用卡被盗刷了，怎么办"),
    ]
    for hant, hans in pairs:
        a, b = analyze(hant), analyze(hans)
        assert (a.label, a.anger, a.sentiment) == (b.label, b.anger, b.sentiment)


def test_cues_quote_the_customers_script() -> None:
    e = analyze("你們這什麼爛服務，騙子！")
    assert "insult:騙子" in e.cues
    assert "insult:爛" in e.cues


def test_negation_flips_positive_and_cancels_felt_anger() -> None:
    assert analyze("我很滿意").label == "joy"
    unhappy = analyze("我不滿意")
    assert unhappy.label == "frustration"
    assert unhappy.sentiment < 0
    assert any(c.startswith("negated:") for c in unhappy.cues)
    assert analyze("not happy with this").sentiment < 0
    assert analyze("I'm not angry").anger == 0
    assert analyze("我沒有生氣").anger == 0


def test_negated_threat_is_damped_not_ignored() -> None:
    assert analyze("我不想投訴，只是想反映").anger < analyze("我想投訴，只是想反映").anger


def test_hostile_judgement_is_not_negated() -> None:
    # "別再敷衍我" still means the customer feels brushed off.
    assert analyze("別再敷衍我了").anger >= 2


def test_intensifier_and_diminisher_scale() -> None:
    assert analyze("非常生氣").anger > analyze("生氣").anger > analyze("有點生氣").anger
    assert analyze("I am extremely angry").anger > analyze("I am a bit angry").anger


def test_exclamation_and_question_runs_raise_anger() -> None:
    base = analyze("我要投訴")
    loud = analyze("我要投訴！！！")
    assert loud.anger > base.anger
    assert "punct:!!!" in loud.cues
    assert analyze("到底要等多久？？？").sentiment < analyze("到底要等多久").sentiment
    assert "punct:???" in analyze("到底要等多久？？？").cues


def test_exclamation_alone_is_not_anger() -> None:
    e = analyze("謝謝！！！太棒了！！！")
    assert e.label == "joy"
    assert e.anger == 0


def test_all_caps_counts_as_shouting_but_acronyms_do_not() -> None:
    assert analyze("WHY IS THIS STILL BROKEN").anger > analyze("why is this still broken").anger
    assert "caps:WHY" in analyze("WHY is this still broken").cues
    assert not any(c.startswith("caps:") for c in analyze("My HDMI port is broken").cues)
    assert not any(c.startswith("caps:") for c in analyze("請問 LINE Pay 可以用嗎").cues)


def test_profanity_zh_and_en() -> None:
    for text in ["媽的，又壞", "靠北喔", "垃圾公司", "騙子", "去死啦", "wtf", "this is a scam", "you idiot"]:
        e = analyze(text)
        assert e.anger >= 2, (text, e)
        assert any(c.startswith("insult:") for c in e.cues), (text, e)


def test_profanity_false_friends() -> None:
    calm = [
        "我的信被丟到垃圾郵件了",
        "請問垃圾桶有賣嗎",
        "我媽的生日禮物想改地址",
        "這個操作要怎麼做",
        "你們在幹嘛",  # "幹嘛" is "what are you doing", not the profanity
        "陽光燦爛",
        "這個產品很可靠",
        "頁面滾動卡卡的",
    ]
    for text in calm:
        e = analyze(text)
        assert not any(c.startswith("insult:") for c in e.cues), (text, e)
        assert e.anger <= 1, (text, e)


@pytest.mark.parametrize(
    "text",
    [
        "我要投訴",
        "我要打給消保官",
        "我要去消基會申訴",
        "小心我檢舉你們",
        "我會請律師處理",
        "我要告你們",
        "我要找媒體爆料",
        "我要打12315",
        "I will report you",
        "I'm calling my lawyer",
        "I will sue you",
        "I'll file a complaint with the BBB",
    ],
)
def test_threats_alert(text: str) -> None:
    e = analyze(text)
    assert is_anger_alert(e), e
    assert any(c.startswith("threat:") for c in e.cues)


def test_threat_levels_order() -> None:
    assert analyze("我要找消保官").anger >= analyze("我要投訴").anger


def test_repeat_contact_and_waiting() -> None:
    for text in ["第三次問了", "又壞了", "一直沒回", "還是沒收到", "still not fixed", "yet again", "third time asking"]:
        assert analyze(text).label == "frustration", text
    for text in ["等了很久", "怎麼還沒到", "how much longer do I wait", "been waiting all day"]:
        e = analyze(text)
        assert e.label == "frustration", (text, e)
        assert e.anger >= 1


def test_asking_how_to_complain_is_not_an_alert() -> None:
    assert not is_anger_alert(analyze("請問投訴的流程是什麼"))
    assert is_anger_alert(analyze("我要投訴"))


def test_rotten_goods_are_not_insults() -> None:
    e = analyze("爛掉的香蕉可以退嗎")
    assert not any(c.startswith("insult:") for c in e.cues)


def test_waiting_question_is_neutral() -> None:
    assert analyze("運送大概要多久？").label == "neutral"
    assert analyze("How long does delivery take?").label == "neutral"


def test_emoji() -> None:
    assert analyze("😡😡😡").label == "anger"
    assert analyze("🤬").anger >= 2
    assert analyze("收到了 😊👍").label == "joy"
    assert analyze("😭").label == "sadness"


def test_sarcasm() -> None:
    for text in ["呵呵", "好棒棒", "thanks for nothing", "yeah right, sure"]:
        assert analyze(text).sentiment < 0, text
    # Praise inside a complaint is not joy.
    e = analyze("Great service, my refund is still not here after 3 weeks")
    assert e.label != "joy"
    assert e.sentiment < 0


def test_polite_closing_does_not_mask_frustration() -> None:
    e = analyze("已經等了兩週還沒收到，麻煩盡快處理，謝謝")
    assert e.label == "frustration"
    assert e.sentiment < 0


def test_repetition_is_capped() -> None:
    once = analyze("爛")
    many = analyze("爛" * 30)
    assert many.anger <= once.anger + 1


def test_alert_threshold() -> None:
    e = Emotion(sentiment=-0.9, label="anger", anger=3, cues=())
    assert is_anger_alert(e)
    assert not is_anger_alert(e, threshold=4)
    assert is_anger_alert(Emotion(0.0, "neutral", 0, ()), threshold=0)


def test_long_message_is_fast_enough() -> None:
    import time

    text = "我已經等了三天，還是沒收到，你們到底在幹什麼！！！" * 40
    t0 = time.perf_counter()
    for _ in range(20):
        analyze(text)
    assert (time.perf_counter() - t0) / 20 < 0.05


def test_lexicon_is_in_normalized_form() -> None:
    # Lexicon entries must survive the t2s + lowercase normalisation, or they can never match.
    conv = opencc.OpenCC("t2s")
    bad = []
    for table in (emotion._ZH, emotion._EN, emotion._SYMBOLS):
        for by_weight in table.values():
            for terms in by_weight.values():
                for term in terms:
                    if conv.convert(term).lower() != term:
                        bad.append(term)
    assert not bad


def test_normalize() -> None:
    assert normalize("ＷＴＦ！轉人工") == "wtf!转人工"


# --- wants_human ---------------------------------------------------------------------------------

HUMAN_YES = [
    "轉人工",
    "转人工",
    "我要人工客服",
    "人工",
    "人工！",
    "請幫我轉接真人",
    "可以找真人嗎",
    "你是真人嗎",
    "我要跟真的人講話",
    "找客服人員",
    "請專員跟我聯絡",
    "我要找人處理",
    "不要機器人，給我真人",
    "机器人听不懂，转人工",
    "叫你們主管來",
    "請打電話給我",
    "有人在嗎",
    "agent",
    "Agent please",
    "HUMAN",
    "I want to talk to a human",
    "Can I speak to a real person?",
    "connect me with a representative",
    "transfer me to an operator",
    "let me talk to someone",
    "I need a live agent",
    "are you a bot?",
    "I don't want a bot, I want a human",
    "stop the bot",
]

HUMAN_NO = [
    "",
    "你們的人工智慧客服很聰明",
    "请问你们用的是人工智能吗",
    "人工費怎麼算",
    "這是人工草皮嗎",
    "需要人工審核多久",
    "不用轉人工了，謝謝",
    "不需要真人",
    "請問營業時間",
    "謝謝你的幫忙",
    "Tell me about your artificial intelligence",
    "I love AI",
    "My travel agent booked this",
    "no need for an agent, thanks",
    "don't transfer me to a human",
    "What's the human-readable order number?",
    "The user agent string looks wrong",
    "How long does shipping take?",
    "真人秀什麼時候播",
    "The site keeps asking me to prove I'm not a robot",
]


@pytest.mark.parametrize("text", HUMAN_YES)
def test_wants_human_yes(text: str) -> None:
    assert wants_human(text)


@pytest.mark.parametrize("text", HUMAN_NO)
def test_wants_human_no(text: str) -> None:
    assert not wants_human(text)


def test_public_api_surface() -> None:
    assert set(emotion.__all__) >= {"Emotion", "analyze", "is_anger_alert", "wants_human"}
    assert LABELS == ("anger", "frustration", "anxiety", "sadness", "neutral", "joy")


if __name__ == "__main__":  # pragma: no cover - manual report
    bands = sum(lo <= analyze(t).anger <= hi for t, _, lo, hi in TABLE)
    for name, rows in (("table", _table_rows()), ("holdout", HOLDOUT)):
        acc, missed = _label_accuracy(rows)
        print(f"{name}: label accuracy {acc:.3f} over {len(rows)} messages")
        for text, gold, got in missed:
            print(f"  MISS gold={gold:<11} got={got:<11} {text}")
    print(f"table: anger level within band {bands}/{len(TABLE)}")
