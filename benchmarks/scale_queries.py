"""Console list, ticket search, customer timeline and dashboard at 1M tickets / 10M messages on PostgreSQL.

Usage: python benchmarks/scale_queries.py [--tickets 1000000] [--messages 10000000]
                                          [--pg postgresql://postgres@127.0.0.1:5432/test] [--keep] [--runs 5]
       python benchmarks/scale_queries.py --reuse postgresql://…/kefu_scale_xxxxxxxx   (measure a kept database again)
Smoke run: --tickets 20000 --messages 200000 (about a minute).

Creates a throwaway database (migrations via kefu.core.migrate.upgrade), then generates everything inside
PostgreSQL with INSERT ... SELECT generate_series: customers, tickets (one conversation each), `messages / tickets`
messages per conversation whose bodies are built from a vocabulary of zh-Hant / zh-Hans / English customer-service
phrases (50 % / 30 % / 20 % of conversations; templates x products give the words realistic selectivity, plus one
order number per ticket), SLA targets, CSAT, complaints, regulator cases and QA reviews for the dashboard. Each
ticket's search document (tickets.search_vector) is composed in SQL from the phrases' documents, which are computed
by the same Python tokenizer the application uses (kefu.tickets.search.tokens); a sample of tickets is re-checked
against a Python rebuild. Secondary indexes are dropped during the load and rebuilt afterwards, then ANALYZE.

Times (p50 / p95 per call, warm cache): the console list shapes of ticket_list.py (walking pages by cursor), ticket
search through list_tickets(q=...), a customer's conversation timeline (customer_timeline) and the dashboard
(kefu.analytics.service.dashboard) for the last 30 days, the last 7 days for one organization and 90 days.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk import CATEGORIES  # (importing _bulk also sets KEFU_ENV / KEFU_SECRET_KEY)
from ticket_list import QUERIES

BASE = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 730

PRODUCTS_HANT = [
    "藍牙耳機", "行動電源", "智慧手錶", "筆記型電腦", "無線滑鼠", "機械鍵盤", "掃地機器人", "空氣清淨機", "咖啡機",
    "電動牙刷", "吹風機", "電子鍋", "洗衣機", "冷氣", "除濕機", "平板電腦", "手機殼", "螢幕保護貼", "充電線",
    "喇叭", "相機", "記憶卡", "隨身碟", "印表機", "墨水匣", "電視", "遊戲主機", "運動鞋", "保溫瓶", "行李箱",
]  # fmt: skip
PRODUCTS_EN = [
    "bluetooth headphones", "power bank", "smart watch", "laptop", "wireless mouse", "mechanical keyboard",
    "robot vacuum", "air purifier", "coffee machine", "electric toothbrush", "hair dryer", "rice cooker",
    "washing machine", "air conditioner", "dehumidifier", "tablet", "phone case", "screen protector",
    "charging cable", "speaker", "camera", "memory card", "usb drive", "printer", "ink cartridge", "tv",
    "game console", "running shoes", "thermos", "suitcase",
]  # fmt: skip
CUSTOMER_HANT = [
    "我上週買的{p}到現在還沒收到，請問什麼時候會出貨？", "收到的{p}外盒破損，裡面也有刮痕。",
    "{p}用了三天就壞了，可以換貨嗎？",
    "請問{p}的保固期是多久？", "我想退貨，{p}跟網頁上的描述不一樣。", "{p}無法開機，充電也沒有反應。",
    "訂單裡的{p}少寄了一個。", "請問{p}有沒有現貨？", "{p}的發票可以開統一編號嗎？", "我要取消{p}的訂單。",
    "{p}的顏色寄錯了，我訂的是黑色。", "{p}送修已經兩週了，進度如何？",
]  # fmt: skip
CUSTOMER_HANT_GENERIC = [
    "您好，我想詢問退款進度。", "信用卡被重複扣款了，請幫我查一下。", "我的帳戶無法登入，一直顯示密碼錯誤。",
    "請問可以改寄送地址嗎？", "物流顯示已送達，但我沒有收到包裹。", "優惠券結帳時不能使用。",
    "請問客服電話幾點有人接？",
    "會員點數沒有入帳。", "我已經等了很久，還是沒有人回覆。", "謝謝你們的協助！", "App 一直閃退，沒辦法付款。",
    "可以幫我開立電子發票嗎？", "請問分期付款有手續費嗎？", "我要申訴，處理速度太慢了。",
]  # fmt: skip
AGENT_HANT = [
    "您好，很抱歉造成您的不便，我們馬上為您查詢。", "已為您申請退款，預計七到十個工作天退回原付款帳戶。",
    "請提供訂單編號與收件人電話，以便我們查詢。", "我們已安排物流重新配送，請留意簡訊通知。",
    "已為您建立換貨單，請將商品包裝好等候物流收件。", "您的帳戶已解鎖，請使用忘記密碼功能重新設定。",
    "重複扣款的部分已通知銀行取消授權。", "已將您的意見轉交相關部門，並會在三個工作天內回覆。",
    "發票將於出貨後寄送至您的電子信箱。", "這個問題需要技術人員協助，我們已為您轉接。", "感謝您的耐心等候。",
    "請問還有其他需要協助的地方嗎？", "優惠券有使用期限與最低消費限制，請再確認一下。", "保固期間內可免費維修。",
]  # fmt: skip
CUSTOMER_HANS_EXTRA = [
    "快递到现在还没到，麻烦催一下。", "我在淘宝上也看到这个商品，价格更便宜。", "支付宝付款失败了怎么办？",
    "能不能帮我开增值税专用发票？", "售后服务态度太差了。", "微信支付显示成功，但订单还是待付款。",
]  # fmt: skip
AGENT_HANS_EXTRA = [
    "亲，您的快递已经在派送中了。", "已为您登记售后工单，请耐心等待。", "麻烦您提供一下付款截图。",
]  # fmt: skip
CUSTOMER_EN = [
    "My {p} has not arrived yet, when will it ship?", "The {p} arrived damaged and the box was crushed.",
    "The {p} stopped working after three days, can I get a replacement?", "How long is the warranty on the {p}?",
    "I want to return the {p}, it does not match the description.", "The {p} will not turn on at all.",
    "I was charged twice for the {p}.", "Please cancel my order for the {p}.",
]  # fmt: skip
CUSTOMER_EN_GENERIC = [
    "Hi, I would like to know the status of my refund.", "I cannot log in to my account, it says password incorrect.",
    "The tracking says delivered but I never received the package.", "The coupon code does not work at checkout.",
    "Can I change the shipping address?", "I have been waiting for days and nobody replied.", "Thanks for your help!",
    "The app keeps crashing when I try to pay.", "Please send me an invoice for my company.",
]  # fmt: skip
AGENT_EN = [
    "Sorry for the inconvenience, let me check that for you right away.",
    "I have submitted your refund, it should reach your original payment method within 7-10 business days.",
    "Could you share your order number and the phone number on the order?",
    "We have arranged a redelivery, you will get a text message with the tracking details.",
    "A replacement order has been created, please keep the item packed for pickup.",
    "Your account has been unlocked, please reset your password with the forgot password link.",
    "The duplicate charge has been reversed with your bank.", "I have escalated this to our technical team.",
    "Thank you for your patience.", "Is there anything else I can help you with?",
]  # fmt: skip
SUBJECTS_HANT = [
    "退款申請", "商品瑕疵", "物流延遲", "帳戶無法登入", "重複扣款", "發票問題", "換貨申請", "取消訂單", "保固維修",
    "客訴",
]  # fmt: skip
SUBJECTS_EN = [
    "Refund request", "Damaged item", "Late delivery", "Cannot log in", "Double charge", "Invoice question",
    "Exchange request", "Cancel order", "Warranty repair", "Complaint",
]  # fmt: skip
ORDER_PREFIX = {0: " 訂單編號 PO-", 1: " 订单编号 PO-", 2: " Order PO-"}


def vocabulary() -> dict[int, list[str]]:
    """Phrase pools: 2*lang + role (lang 0 zh-Hant, 1 zh-Hans, 2 en; role 0 customer, 1 agent); 6+lang subjects."""
    from kefu.bot.nlu.text import to_simplified

    hant_c = [t.format(p=p) for t in CUSTOMER_HANT for p in PRODUCTS_HANT] + CUSTOMER_HANT_GENERIC * 10
    en_c = [t.format(p=p) for t in CUSTOMER_EN for p in PRODUCTS_EN] + CUSTOMER_EN_GENERIC * 10
    return {
        0: hant_c,
        1: AGENT_HANT,
        2: [to_simplified(x) for x in hant_c] + CUSTOMER_HANS_EXTRA * 10,
        3: [to_simplified(x) for x in AGENT_HANT] + AGENT_HANS_EXTRA,
        4: en_c,
        5: AGENT_EN,
        6: SUBJECTS_HANT,
        7: [to_simplified(x) for x in SUBJECTS_HANT],
        8: SUBJECTS_EN,
    }


# SQL fragments; `c` is the conversation / ticket number (ids are equal), `k` the message's round.
LANG = "(CASE WHEN {c} % 10 < 5 THEN 0 WHEN {c} % 10 < 8 THEN 1 ELSE 2 END)"
H1 = "((({c})::bigint * 2654435761 + {k} * 97) % 1000003)"
H2 = "((({c})::bigint * 40503 + {k} * 7919 + 13) % 1000033)"
ORDER_NO = "lpad(((({c})::bigint * 7919) % 10000000)::text, 7, '0')"


def phrase_join(alias: str, c: str, k: str, h: str, *, first: bool) -> str:
    """Join the phrase chosen for conversation c, round k: customers' first phrase is a product template with the
    conversation's one product, their second a generic phrase; agents' phrases come from the whole agent pool."""
    lang = LANG.format(c=c)
    pool = f"(2 * {lang} + ({k}) % 2)"
    hv = h.format(c=c, k=k)
    prod, tpl, size = f"(:nprod)[{pool} + 1]", f"(:ntpl)[{pool} + 1]", f"(:sizes)[{pool} + 1]"
    if first:
        product = f"((({c})::bigint * 2246822519) % 1000003) % {prod}"
        idx = f"CASE WHEN {prod} > 0 THEN ({hv} % {tpl}) * {prod} + {product} ELSE {hv} % {size} END"
    else:
        idx = f"CASE WHEN {prod} > 0 THEN {tpl} * {prod} + {hv} % ({size} - {tpl} * {prod}) ELSE {hv} % {size} END"
    return f"JOIN bench_phrases {alias} ON {alias}.pool = {pool} AND {alias}.idx = {idx}"


def generate(conn: Any, n: int, per: int, brand_id: int, teams: list[int], agents: list[int], orgs: list[int]) -> None:
    """Fill every table the queries read, inside PostgreSQL."""
    from sqlalchemy import text

    from kefu.tickets.search import document, tokens

    vocab = vocabulary()
    n_customers = max(n // 5, 1)
    p: dict[str, Any] = {
        "n": n,
        "span": DAYS * 86400,
        "base": BASE,
        "brand": brand_id,
        "teams": teams,
        "agents": agents,
        "orgs": orgs,
        "ncust": n_customers,
        "sizes": [len(vocab[i]) for i in range(9)],
        "ntpl": [len(CUSTOMER_HANT), 0, len(CUSTOMER_HANT), 0, len(CUSTOMER_EN), 0, 0, 0, 0],
        "nprod": [len(PRODUCTS_HANT), 0, len(PRODUCTS_HANT), 0, len(PRODUCTS_EN), 0, 0, 0, 0],
        "cats": list(CATEGORIES),
    }

    def run(label: str, sql: str, **extra: Any) -> None:
        t = time.perf_counter()
        rows = conn.execute(text(sql), {**p, **extra}).rowcount
        print(f"  {label:<44} {rows or 0:>11,} rows {time.perf_counter() - t:7.1f} s", flush=True)

    conn.execute(text("SET synchronous_commit = off"))
    conn.execute(text("SET maintenance_work_mem = '512MB'"))
    conn.execute(text("SET work_mem = '64MB'"))
    conn.execute(text("CREATE AGGREGATE bench_tsvector_agg(tsvector) (SFUNC = tsvector_concat, STYPE = tsvector)"))
    conn.execute(
        text("CREATE TABLE bench_phrases (pool int, idx int, body text, vec tsvector, PRIMARY KEY (pool, idx))")
    )
    conn.execute(
        text("INSERT INTO bench_phrases VALUES (:pool, :idx, :body, CAST(:vec AS tsvector))"),
        [
            {"pool": pool, "idx": i, "body": body, "vec": document(tokens(body), "postgresql")}
            for pool, bodies in vocab.items()
            for i, body in enumerate(bodies)
        ],
    )
    order_vec = {lang: tokens(prefix) for lang, prefix in ORDER_PREFIX.items()}  # + the digits, added in SQL
    # Secondary indexes are rebuilt after the load (much faster than maintaining them row by row).
    indexes = conn.execute(
        text(
            """SELECT indexname, indexdef FROM pg_indexes
               WHERE schemaname = 'public' AND tablename IN ('tickets', 'conversations', 'messages', 'customers')
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = ('public.' || indexname)::regclass)"""
        )
    ).all()
    for name, _ in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))

    run(
        "customers",
        """INSERT INTO customers (brand_id, name, cumulative_spend, tier, vip, attributes, created_at, updated_at,
                                  organization_id)
           SELECT :brand, '客戶 ' || g, 0, 1, false, '{}', :base - interval '800 days', :base - interval '800 days',
                  CASE WHEN g % 10 = 0 THEN (:orgs)[1 + g % cardinality(:orgs)] END
           FROM generate_series(1, :ncust) g""",
    )
    lang = LANG.format(c="g")
    run(
        "tickets (with search documents)",
        f"""INSERT INTO tickets (id, brand_id, number, subject, description, status, priority, category, channel,
                                customer_id, organization_id, team_id, assignee_id, tags, custom_fields, created_at,
                                updated_at, first_response_at, resolved_at, closed_at, reopen_count, search_vector)
           SELECT g, :brand, 'BM-' || lpad(g::text, 8, '0'), s.body, '',
                  st.status,
                  (ARRAY['low','normal','normal','high','urgent'])[1 + ((g::bigint * 22695477 + 1) % 1000003) % 5],
                  (CAST(:cats AS text[]))[1 + ((g::bigint * 48271 + 5) % 1000003) % 6],
                  (ARRAY['web_chat','email','line','messenger','board','phone'])
                      [1 + ((g::bigint * 69621 + 7) % 1000003) % 6],
                  cu, CASE WHEN cu % 10 = 0 THEN (:orgs)[1 + cu % cardinality(:orgs)] END,
                  (:teams)[1 + ((g::bigint * 16807 + 3) % 1000003) % cardinality(:teams)],
                  CASE WHEN g % 5 <> 0
                       THEN (:agents)[1 + ((g::bigint * 39373 + 11) % 1000003) % cardinality(:agents)] END,
                  CAST(CASE WHEN g % 20 = 0 THEN '["vip"]' ELSE '[]' END AS jsonb), '{{}}',
                  ts, ts + make_interval(mins => ((g * 37) % 600)::int),
                  ts + make_interval(secs => 30 + (g * 37) % 7200),
                  CASE WHEN st.status IN ('resolved', 'closed')
                       THEN ts + make_interval(secs => 600 + (g::bigint * 7919) % 400000) END,
                  CASE WHEN st.status = 'closed' THEN ts + make_interval(secs => 700000) END,
                  CASE WHEN g % 50 = 0 THEN 1 ELSE 0 END,
                  s.vec
                  || (SELECT bench_tsvector_agg(p1.vec || p2.vec) FROM generate_series(0, :per - 1) k
                      {phrase_join("p1", "g", "k", H1, first=True)}
                      {phrase_join("p2", "g", "k", H2, first=False)})
                  || array_to_tsvector((CASE {lang} WHEN 0 THEN CAST(:ov0 AS text[]) WHEN 1 THEN CAST(:ov1 AS text[])
                                        ELSE CAST(:ov2 AS text[]) END) || {ORDER_NO.format(c="g")})
           FROM (SELECT g, 1 + (g * 7) % :ncust AS cu,
                        :base - make_interval(secs => ((:n - g)::float8 * :span / :n)) AS ts
                 FROM generate_series(1, :n) g) x
           CROSS JOIN LATERAL (SELECT CASE WHEN g > :n - :n / 20 THEN (ARRAY['new','open','open','pending','on_hold'])
                                                                     [1 + g % 5]
                                           WHEN g % 3 = 0 THEN 'closed' ELSE 'resolved' END AS status) st
           JOIN bench_phrases s ON s.pool = 6 + {lang} AND s.idx = (g * 31) % (:sizes)[7 + {lang}]""",
        per=per,
        ov0=order_vec[0],
        ov1=order_vec[1],
        ov2=order_vec[2],
    )
    conn.execute(text("SELECT setval(pg_get_serial_sequence('tickets', 'id'), :n)"), p)
    conn.execute(text("UPDATE ticket_counters SET value = :n WHERE brand_id = :brand"), p)
    run(
        "conversations",
        """INSERT INTO conversations (id, brand_id, customer_id, channel, status, ticket_id, created_at, updated_at,
                                      last_message_at)
           SELECT id, brand_id, customer_id,
                  CASE WHEN channel IN ('web_chat', 'line', 'messenger', 'email') THEN channel ELSE 'web_chat' END,
                  CASE WHEN status IN ('resolved', 'closed') THEN 'closed' ELSE 'open' END,
                  id, created_at, updated_at, updated_at
           FROM tickets""",
    )
    conn.execute(text("SELECT setval(pg_get_serial_sequence('conversations', 'id'), :n)"), p)
    lang_c = LANG.format(c="c.id")
    for k in range(per):
        order = (
            f"|| (CASE {lang_c} WHEN 0 THEN :o0 WHEN 1 THEN :o1 ELSE :o2 END) || {ORDER_NO.format(c='c.id')}"
            if k == 0
            else ""
        )
        run(
            f"messages, round {k + 1}/{per}",
            f"""INSERT INTO messages (brand_id, conversation_id, channel, sender_type, agent_id, is_note, body,
                                     content_type, attachments, meta, created_at)
               SELECT c.brand_id, c.id, c.channel, CASE WHEN {k} % 2 = 0 THEN 'customer' ELSE 'agent' END,
                      CASE WHEN {k} % 2 = 1 THEN (:agents)[1 + (c.id * 17) % cardinality(:agents)] END, false,
                      p1.body || ' ' || p2.body {order}, 'text', '[]',
                      CASE WHEN {k} % 2 = 0 THEN jsonb_build_object('emotion', jsonb_build_object('anger', c.id % 5))
                           ELSE '{{}}' END,
                      c.created_at + make_interval(mins => {k * 7})
               FROM conversations c
               {phrase_join("p1", "c.id", str(k), H1, first=True)}
               {phrase_join("p2", "c.id", str(k), H2, first=False)}""",
            o0=ORDER_PREFIX[0],
            o1=ORDER_PREFIX[1],
            o2=ORDER_PREFIX[2],
        )
    run(
        "bot_states",
        """INSERT INTO bot_states (conversation_id, failures, clarify_options, max_anger, handed_off_at, updated_at)
           SELECT id, 0, '[]', 0, created_at + interval '5 minutes', created_at FROM conversations WHERE id % 4 = 0""",
    )
    run(
        "ticket_sla_targets",
        """INSERT INTO ticket_sla_targets (ticket_id, brand_id, key, kind, business, started_at, due_at, met_at,
                                           status, escalation_level)
           SELECT id, brand_id, 'first_response', 'first_response', false, created_at,
                  created_at + interval '1 hour', first_response_at,
                  CASE WHEN first_response_at <= created_at + interval '1 hour' THEN 'met' ELSE 'missed' END, 0
           FROM tickets""",
    )
    run(
        "csat_surveys",
        """INSERT INTO csat_surveys (brand_id, ticket_id, customer_id, organization_id, agent_id, channel, locale,
                                     resolved_at, sent_at, expires_at, rating, comment, answered_at)
           SELECT brand_id, id, customer_id, organization_id, assignee_id, channel, 'zh-TW', resolved_at,
                  resolved_at + interval '1 hour', resolved_at + interval '30 days',
                  CASE WHEN id % 3 = 0 THEN 1 + (id % 97) % 5 END, '',
                  CASE WHEN id % 3 = 0 THEN resolved_at + interval '5 hours' END
           FROM tickets WHERE resolved_at IS NOT NULL AND id % 5 = 0""",
    )
    run(
        "complaints",
        """INSERT INTO complaints (brand_id, ticket_id, level, status, complainant_name, complainant_contact, channel,
                                   product, order_number, description, requested_remedy, evidence, outcome,
                                   received_at, acknowledge_due_at, reply_due_at, closed_at, created_at, updated_at)
           SELECT brand_id, id, 'normal', 'closed', 'n', '', channel, '', '', 'd', '', '[]', '', created_at,
                  created_at + interval '1 day', created_at + interval '3 days',
                  created_at + make_interval(hours => (id % 48)::int), created_at, created_at
           FROM tickets WHERE id % 100 = 7""",
    )
    run(
        "regulator_cases",
        """INSERT INTO regulator_cases (brand_id, ticket_id, agency, reference_no, subject, summary, status,
                                        coordination_meeting, received_at, due_at, replied_at, created_at, updated_at)
           SELECT brand_id, id, '消保官', '', 's', '', 'replied', false, created_at, created_at + interval '15 days',
                  created_at + interval '10 days', created_at, created_at
           FROM tickets WHERE id % 1000 = 11""",
    )
    run(
        "qa_reviews",
        """INSERT INTO qa_reviews (brand_id, conversation_id, status, scores, total, passed, accuracy_passed, comment,
                                   created_at, reviewed_at)
           SELECT brand_id, id, 'done', '{}', 80 + id % 20, id % 7 <> 0, id % 50 <> 0, '', created_at,
                  created_at + interval '1 day'
           FROM conversations WHERE id % 20 = 0""",
    )
    for name, ddl in indexes:
        t = time.perf_counter()
        conn.execute(text(ddl))
        print(f"  index {name:<38} {time.perf_counter() - t:7.1f} s", flush=True)


def check_documents(db: Any, n: int, sample: int = 25) -> str:
    """Compare generated documents of a sample of tickets with the application's rebuild."""
    from sqlalchemy import func, select

    from kefu.conversations.models import Conversation, Message
    from kefu.tickets.models import Ticket
    from kefu.tickets.search import tokens

    rnd = random.Random(3)
    ok = 0
    bad: list[int] = []
    with db.session() as s:
        for tid in rnd.sample(range(1, n + 1), min(sample, n)):
            t = s.get(Ticket, tid)
            assert t is not None
            want = set(tokens(f"{t.subject}\n{t.description}"))
            for body in s.scalars(
                select(Message.body)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Conversation.ticket_id == tid)
            ):
                want.update(tokens(body))
            have = set(s.scalar(select(func.tsvector_to_array(Ticket.search_vector)).where(Ticket.id == tid)) or [])
            if have == want:
                ok += 1
            else:
                bad.append(tid)
    return f"{ok}/{min(sample, n)} sampled documents equal the application's rebuild" + (
        f" (differ: {bad})" if bad else ""
    )


class Table:
    """Collects rows and prints a compact table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float, float, int, str]] = []

    def add(self, section: str, name: str, lat: list[float], note: str = "") -> None:
        lat = sorted(lat)
        p95 = lat[max(0, round(len(lat) * 0.95) - 1)]
        self.rows.append((section, name, statistics.median(lat), p95, len(lat), note))
        print(f"  {section:<9} {name:<40} p50 {statistics.median(lat):8.1f} ms  p95 {p95:8.1f} ms  {note}", flush=True)

    def print(self, title: str) -> None:
        print(f"\n{title}")
        print(f"{'section':<9} {'query':<40} {'p50 ms':>9} {'p95 ms':>9} {'n':>5}  note")
        for section, name, p50, p95, count, note in self.rows:
            print(f"{section:<9} {name:<40} {p50:9.1f} {p95:9.1f} {count:>5}  {note}")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(milliseconds, result)."""
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


def measure(db: Any, n: int, brand_id: int, teams: list[int], agents: list[int], orgs: list[int], args: Any) -> Table:
    """Run every query shape; returns the table."""
    from kefu.analytics import service as analytics
    from kefu.auth.permissions import Principal, permissions_for
    from kefu.conversations.service import customer_timeline
    from kefu.customers.models import Customer
    from kefu.tickets.service import list_tickets

    principal = Principal(
        agent_id=agents[0],
        email="a0@bench.local",
        name="a0",
        role="agent",
        permissions=permissions_for("agent"),
        brand_ids=frozenset({brand_id}),
        via="token",
        credential_id=0,
    )
    table = Table()
    rnd = random.Random(11)

    def walk(kw: dict[str, Any], pages: int) -> tuple[list[float], int]:
        lat: list[float] = []
        found = 0
        cursor = None
        with db.session() as s:
            for _ in range(pages):
                ms, (rows, cursor) = timed(lambda c=cursor: list_tickets(s, principal, cursor=c, limit=50, **kw))
                lat.append(ms)
                found += len(rows)
                if cursor is None:
                    break
        return lat, found

    for name, q in QUERIES.items():
        kw: dict[str, Any] = {"brand_id": brand_id}
        for key in ("status", "priority", "category", "sort", "unassigned"):
            if q.get(key):
                kw[key] = q[key]
        if q.get("assignee"):
            kw["assignee_id"] = agents[3]
        if q.get("team"):
            kw["team_id"] = teams[2]
        walk(kw, 1)  # warm up
        lat: list[float] = []
        for _ in range(max(1, args.runs // 2)):
            lat += walk(kw, args.pages)[0]
        table.add("list", name, lat, f"{args.pages} pages/run")

    order_no = lambda c: f"PO-{(c * 7919) % 10_000_000:07d}"  # noqa: E731
    searches: list[tuple[str, list[str], dict[str, Any]]] = [
        ("common zh-Hant word 退款", ["退款"], {}),
        ("same in zh-Hans 发票 (text has 發票)", ["发票"], {}),
        ("zh-Hant 帳戶 (zh-Hans text 账户 too)", ["帳戶"], {}),
        ("product phrase 掃地機器人", ["掃地機器人"], {}),
        ("two words 咖啡機 保固", ["咖啡機 保固"], {}),
        ("rare combination 行李箱 顏色 寄錯", ["行李箱 顏色寄錯"], {}),
        ("English refund", ["refund"], {}),
        ("English Robot Vacuum damaged", ["Robot Vacuum damaged"], {}),
        ("order number (10 different)", [order_no(rnd.randint(1, n)) for _ in range(10)], {}),
        ("ticket number (10 different)", [f"BM-{rnd.randint(1, n):08d}" for _ in range(10)], {}),
        ("no match", ["不存在的詞彙", "xylophone quartz"], {}),
        ("退款 + status open,pending", ["退款"], {"status": ["open", "pending"]}),
        ("保固 + assignee inbox", ["保固"], {"assignee_id": agents[3]}),
    ]
    for name, qs, extra in searches:
        lat = []
        found = 0
        for q in qs:
            walk({"brand_id": brand_id, "q": q, **extra}, 1)  # warm up
        for run in range(args.runs):
            for q in qs:
                page_lat, got = walk({"brand_id": brand_id, "q": q, **extra}, args.search_pages)
                lat += page_lat
                if run == 0:
                    found += got
        table.add("search", name, lat, f"first {args.search_pages} pages: {found / len(qs):.0f} hits/query")

    with db.session() as s:
        n_cust = s.query(Customer.id).count() if False else max(n // 5, 1)
        cids = [rnd.randint(1, n_cust) for _ in range(30)]
        lat = []
        msgs = 0
        for cid in cids:
            customer = s.get(Customer, cid)
            assert customer is not None
            ms, (rows, nxt) = timed(
                lambda c=customer: customer_timeline(s, c, before_id=None, limit=50, include_notes=True)
            )
            lat.append(ms)
            msgs += len(rows)
            if nxt is not None:
                ms, _ = timed(
                    lambda c=customer, b=nxt: customer_timeline(s, c, before_id=b, limit=50, include_notes=True)
                )
                lat.append(ms)
        table.add(
            "timeline",
            "customer timeline, 50 per page",
            lat,
            f"{len(cids)} customers, {msgs / len(cids):.0f} msgs on p1",
        )

    for name, kw in (
        ("dashboard, last 30 days", {"start": BASE - timedelta(days=30), "end": BASE}),
        (
            "dashboard, last 7 days, one org",
            {"start": BASE - timedelta(days=7), "end": BASE, "organization_id": orgs[0]},
        ),
        ("dashboard, last 90 days", {"start": BASE - timedelta(days=90), "end": BASE}),
    ):
        lat = []
        with db.session() as s:
            f = analytics.resolve_filters(s, None, now=BASE, **kw)
            analytics.dashboard(s, f)  # warm up
            for _ in range(args.runs):
                ms, result = timed(lambda f=f: analytics.dashboard(s, f))
                lat.append(ms)
        table.add("dashboard", name, lat, f"tickets created {result['volume_by_channel']['total']:,}")
    return table


def reuse(args: Any) -> None:
    """Measure a database generated (and kept) by an earlier run."""
    from sqlalchemy import func, select

    from kefu.auth.models import Agent, Team
    from kefu.brands.models import Brand
    from kefu.core import runtime
    from kefu.core.db import Database
    from kefu.core.events import BUS, MemoryBus
    from kefu.customers.models import Organization
    from kefu.tickets.models import Ticket

    runtime.current().provide(BUS, MemoryBus())
    db = Database(args.reuse)
    try:
        with db.session() as s:
            brand_id = s.scalars(select(Brand.id).where(Brand.slug == "bench")).one()
            teams = list(s.scalars(select(Team.id).where(Team.brand_id == brand_id).order_by(Team.id)))
            agents = list(s.scalars(select(Agent.id).where(Agent.email.like("%@bench.local")).order_by(Agent.id)))
            orgs = list(s.scalars(select(Organization.id).where(Organization.brand_id == brand_id)))
            n = s.scalar(select(func.count()).select_from(Ticket)) or 0
        table = measure(db, n, brand_id, teams, agents, orgs, args)
        table.print(f"PostgreSQL, {n:,} tickets (reused {args.reuse.rsplit('/', 1)[-1]}; p50/p95 per call, warm cache)")
    finally:
        db.dispose()


def main() -> None:
    """Create the database, generate, measure, print, drop."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--messages", type=int, default=10_000_000)
    ap.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--keep", action="store_true", help="keep the generated database (its URL is printed)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pages", type=int, default=10, help="pages of 50 walked per console list query")
    ap.add_argument("--search-pages", type=int, default=3, help="pages of 50 walked per search")
    ap.add_argument("--reuse", metavar="URL", help="measure a database kept by an earlier --keep run (no generation)")
    args = ap.parse_args()
    if args.reuse:
        return reuse(args)
    n = args.tickets
    per = max(1, args.messages // n)

    import psycopg
    from sqlalchemy import text

    from kefu.auth.service import create_agent, create_team
    from kefu.brands.service import create_brand
    from kefu.core import runtime
    from kefu.core.db import Database
    from kefu.core.events import BUS, MemoryBus
    from kefu.core.migrate import upgrade
    from kefu.customers.models import Organization

    runtime.current().provide(BUS, MemoryBus())
    name = f"kefu_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = args.pg.rsplit("/", 1)[0] + "/" + name
    db = None
    try:
        upgrade(url)
        db = Database(url)
        with db.session() as s:
            brand = create_brand(s, slug="bench", name="Bench 品牌", ticket_prefix="BM")
            teams = [
                create_team(s, brand_id=brand.id, slug=f"t{i}", name=f"t{i}", description="", actor=None).id
                for i in range(8)
            ]
            agents = [
                create_agent(s, email=f"a{i}@bench.local", name=f"客服 {i}", password=None, brand_ids=[brand.id]).id
                for i in range(60)
            ]
            orgs = []
            for i in range(3):
                o = Organization(brand_id=brand.id, name=f"法人客戶 {i}")
                s.add(o)
                s.flush()
                orgs.append(o.id)
            brand_id = brand.id
        print(f"database {name}: generating {n:,} tickets, {n * per:,} messages ({per} per conversation)", flush=True)
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            generate(conn, n, per, brand_id, teams, agents, orgs)
        gen = time.perf_counter() - t0
        t1 = time.perf_counter()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            sizes = conn.execute(
                text(
                    """SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class
                       WHERE relname IN ('tickets', 'messages', 'conversations', 'ix_tickets_search')"""
                )
            ).all()
        print(
            f"generated in {gen:.0f} s ({n * per / gen:,.0f} messages/s incl. tickets and indexes), "
            f"VACUUM ANALYZE {time.perf_counter() - t1:.0f} s; sizes: " + ", ".join(f"{a} {b}" for a, b in sizes),
            flush=True,
        )
        print(check_documents(db, n), flush=True)
        table = measure(db, n, brand_id, teams, agents, orgs, args)
        table.print(f"PostgreSQL, {n:,} tickets, {n * per:,} messages (p50/p95 per call, warm cache)")
        if args.keep:
            print(f"kept: {url}")
    finally:
        if db is not None:
            db.dispose()
        if not args.keep:
            with psycopg.connect(args.pg, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
