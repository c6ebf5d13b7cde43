"""Bot-turn latency with LLM assist off, on, and failing (5xx, ungrounded output, silent server past the timeout).

Usage: python benchmarks/llm_fallback.py [--n 30] [--timeout 0.5]
A customer message goes through `respond` (the bot job's path: read-only plan, LLM call with no transaction open,
short write; real NLU index) on a fresh
SQLite database; the LLM endpoint is a chat-completions server on 127.0.0.1 that answers instantly unless the
scenario says otherwise. Prints p50 / p95 / max per scenario and what the customer received.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kefu.conversations.commands import CreateConversation
from kefu.knowledge.commands import CreateFaq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)

FAQS = [
    ("refund", ["退款多久到帳", "退款多久會收到錢"], "退款約 7 個工作天，詳見 https://shop.example.com/refund"),
    ("password", ["忘記密碼怎麼辦", "密碼重設"], "請點選登入頁的「忘記密碼」，系統會寄出重設信。"),
    ("shipping", ["多久會出貨", "什麼時候寄出"], "付款後 24 小時內出貨，週末順延。"),
    ("invoice", ["發票怎麼開", "我要統一編號"], "結帳時填寫統一編號即可開立三聯式發票。"),
]


def main() -> None:
    """Run each scenario n times and print latency percentiles."""
    from tests.llm.server import ChatServer, Received, Reply

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=0.5)
    args = parser.parse_args()

    mode = {"reply": Reply("")}

    def script(r: Received) -> Reply:
        return mode["reply"]

    server = ChatServer(script=script).start()
    tmp = tempfile.mkdtemp(prefix="kefu-llm-bench-")
    url = f"sqlite:///{tmp}/bench.db"
    os.environ["KEFU_DATA_DIR"] = tmp
    scenarios = [
        ("off", None),
        ("on, grounded", Reply("您好！退款大約 7 個工作天，進度請到 https://shop.example.com/refund 查詢。")),
        ("on, ungrounded → FAQ", Reply("退款約 30 個工作天。")),
        ("on, HTTP 503 → FAQ", Reply(status=503)),
        (f"on, silent 3 s → FAQ at {args.timeout:g} s", Reply("退款約 7 個工作天。", delay=3.0)),
    ]
    try:
        from sqlalchemy import select

        from kefu.bot.engine import get_registry
        from kefu.bot.service import respond
        from kefu.brands.service import create_brand
        from kefu.conversations.models import Message
        from kefu.conversations.service import add_message, create_conversation
        from kefu.core import runtime
        from kefu.core.config import get_settings
        from kefu.core.db import Database
        from kefu.core.jobs import QUEUE, MemoryJobQueue
        from kefu.core.migrate import upgrade
        from kefu.customers.service import create_customer
        from kefu.knowledge.service import create_faq

        upgrade(url)
        database = Database(url)
        runtime.current().provide(QUEUE, MemoryJobQueue())
        with database.session() as s:
            brand = create_brand(s, slug="bench", name="bench")
            for intent, questions, answer in FAQS:
                create_faq(
                    s,
                    None,
                    CreateFaq(
                        brand_id=brand.id,
                        locale="zh-TW",
                        questions=questions,
                        answer=answer,
                        category=intent,
                        intent=intent,
                        is_published=True,
                    ),
                )
            brand_id = brand.id
        print(f"{'scenario':<36} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  bot said")
        for name, reply in scenarios:
            if reply is None:
                for key in ("KEFU_LLM_BASE_URL", "KEFU_LLM_MODEL"):
                    os.environ.pop(key, None)
            else:
                os.environ.update(
                    KEFU_LLM_BASE_URL=server.base_url,
                    KEFU_LLM_MODEL="bench",
                    KEFU_LLM_TIMEOUT=str(args.timeout),
                    KEFU_LLM_ALLOW_NETWORKS="127.0.0.1/32",
                )
                mode["reply"] = reply
            get_settings.cache_clear()
            times: list[float] = []
            said = ""
            for i in range(args.n + 1):
                with database.session() as s:
                    cust = create_customer(s, brand_id=brand_id, name=f"客人{i}", actor=None)
                    conv = create_conversation(
                        s,
                        CreateConversation(brand_id=brand_id, customer_id=cust.id, channel="web_chat", status="bot"),
                        actor=None,
                    )
                    msg, _ = add_message(s, conv, sender_type="customer", body="請問退款多久到帳？")
                    conv_id, msg_id = conv.id, msg.id
                started = time.perf_counter()
                respond(database.sessionmaker, conv_id, msg_id, get_registry())
                elapsed = (time.perf_counter() - started) * 1000
                if i:  # the first turn of each scenario warms caches
                    times.append(elapsed)
                with database.session() as s:
                    said = (
                        s.scalar(
                            select(Message.body)
                            .where(Message.conversation_id == conv_id, Message.sender_type == "bot")
                            .order_by(Message.id.desc())
                            .limit(1)
                        )
                        or ""
                    )
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(f"{name:<36} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f}  {said[:40]}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
