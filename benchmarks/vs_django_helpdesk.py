"""Ticket creation through the HTTP API, kefu vs django-helpdesk, same machine, same database server, same load.

Usage:
    python3 -m venv /tmp/dh-venv && /tmp/dh-venv/bin/pip install django-helpdesk gunicorn 'psycopg[binary]'
    .venv/bin/python benchmarks/vs_django_helpdesk.py /tmp/dh-venv [--db pg|sqlite|both]
        [--pg postgresql://postgres@127.0.0.1:5432/postgres] [--n 2000] [--rounds 3] [--concurrency 16]

Each side gets a fresh database (PostgreSQL: on the same server; SQLite: a file each), 2 worker processes
(gunicorn -w 2 / `kefu serve --workers 2`) and token authentication (DRF TokenAuthentication / kefu bearer token).

The same work on both sides (issue #21 found kefu's side did less): one ticket, its first message row and a
notification. django-helpdesk's API create writes the ticket and its first follow-up and renders the submitter's
mail (dummy backend). kefu's side, like the peer, makes one request per ticket: `POST /api/v1/tickets` with a
public `comment` (ticket, the first message row, first-response time, SLA start, two audit rows, the
`ticket.created` and `ticket.comment` events fanned out to the ticket's subscribers) — the same rows and events as
a create followed by `POST /api/v1/tickets/{id}/activities`, which `--kefu-work ticket+message-2req` measures.
`--kefu-work ticket` measures a create without the first message (less work than the peer: not comparable).

Rounds alternate which side goes first (the load of a shared machine drifts). CPU per ticket is sampled from
/proc every 50 ms during the round, per process: the server's process tree (new workers included) and every
PostgreSQL backend whose title names the side's database. A process's CPU is its last sample minus its value at
the round's start (0 if it started during the round), so backends that exit mid-round keep what was sampled
before they exited (the earlier accounting subtracted totals and printed negative values when backends exited);
the databases' connection pools are persistent (CONN_MAX_AGE / SQLAlchemy pool), so few exit at all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)

SETTINGS = """
SECRET_KEY = "bench-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "django.contrib.staticfiles", "django.contrib.sites", "django.contrib.humanize",
    "rest_framework", "rest_framework.authtoken", "helpdesk",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware", "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware", "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "benchproj.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": __DATABASE__}
SITE_ID = 1
STATIC_URL = "/static/"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"]}
HELPDESK_API_ENABLED = True
HELPDESK_ACTIVATE_API_ENDPOINT = True  # older releases' name for the same switch
HELPDESK_TEAMS_MODE_ENABLED = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
"""

URLS = """
from django.urls import include, path
urlpatterns = [path("helpdesk/", include("helpdesk.urls", namespace="helpdesk"))]
"""

SETUP = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from helpdesk.models import Queue
user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench password 1")
queue = Queue.objects.create(title="Support", slug="support")
print(Token.objects.create(user=user).key, queue.id)
"""


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, ok: Callable[[int], bool], timeout: float = 240) -> None:
    """Poll until the URL answers with an acceptable status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ok(httpx.get(url, timeout=2).status_code):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up within {timeout}s")


@contextmanager
def database(admin_url: str, kind: str, work: Path, side: str) -> Iterator[str]:
    """A fresh database: on the server of admin_url (dropped afterwards) or a SQLite file in `work`."""
    import psycopg

    if kind == "sqlite":
        yield f"sqlite:///{work / (side + '.db')}"
        return

    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def serving(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A server process, terminated afterwards."""
    proc = subprocess.Popen(args, env=env, cwd=str(cwd), stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _proc_stats() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds, command line) for every process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[int, float, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, cmdline)
    return out


def _server_tree(stats: dict[int, tuple[int, float, str]], root: int) -> set[int]:
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _, _) in stats.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return tree


class CpuSampler:
    """Per-process CPU of a server tree and of the PostgreSQL backends of one database, sampled every 50 ms."""

    def __init__(self, server_pid: int, database: str | None) -> None:
        self.server_pid, self.database = server_pid, database
        self.start: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}  # pid -> (kind, CPU seconds at the latest sample)
        self._stop = False

    def _sample(self) -> dict[int, tuple[str, float]]:
        stats = _proc_stats()
        out = {pid: ("server", stats[pid][1]) for pid in _server_tree(stats, self.server_pid) if pid in stats}
        if self.database:
            # PostgreSQL titles each backend "postgres: USER DATABASE HOST(PORT) STATE".
            for pid, (_, cpu, cmd) in stats.items():
                if cmd.startswith("postgres: ") and f" {self.database} " in cmd:
                    out[pid] = ("pg", cpu)
        return out

    def __enter__(self) -> CpuSampler:
        import threading

        self.start = {pid: cpu for pid, (_, cpu) in self._sample().items()}
        self.last = {}

        def loop() -> None:
            while not self._stop:
                self.last.update(self._sample())
                time.sleep(0.05)

        self._stop = False
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._thread.join()
        self.last.update(self._sample())

    def seconds(self) -> tuple[float, float]:
        """CPU seconds used during the round: (server tree, PostgreSQL backends)."""
        used = {"server": 0.0, "pg": 0.0}
        for pid, (kind, cpu) in self.last.items():
            used[kind] += max(0.0, cpu - self.start.get(pid, 0.0))
        return used["server"], used["pg"]


FollowUp = Callable[[httpx.Response, int], tuple[str, dict[str, Any]]] | None


async def drive(
    url: str, headers: dict[str, str], body: Callable[[int], dict[str, Any]], n: int, c: int, then: FollowUp = None
) -> dict[str, Any]:
    """POST n tickets with c concurrent clients (each optionally followed by a second POST, timed together)."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as client:

        async def one_client() -> None:
            for i in counter:
                t0 = time.perf_counter()
                r = await client.post(url, json=body(i))
                if r.status_code == 201 and then is not None:
                    follow_url, follow_body = then(r, i)
                    r = await client.post(follow_url, json=follow_body)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 201:
                    errors.append(f"{r.status_code} {r.text[:200]}")

        for i in range(c):  # warm up connections and caches
            r = await client.post(url, json=body(-1 - i))
            if then is not None and r.status_code == 201:
                follow_url, follow_body = then(r, -1 - i)
                await client.post(follow_url, json=follow_body)
        t0 = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(c)))
        elapsed = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, first: {errors[0]}")
    latencies.sort()
    return {
        "rate": n / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p95": latencies[int(len(latencies) * 0.95) - 1] * 1000,
    }


Round = Callable[[int], dict[str, Any]]


def _measured(server: subprocess.Popen[bytes], database: str | None, run: Callable[[int], dict[str, Any]]) -> Round:
    """Wrap a load run with the sampled CPU accounting of the server tree and its database backends."""

    def one_round(n: int) -> dict[str, Any]:
        with CpuSampler(server.pid, database) as cpu:
            result = run(n)
        server_s, pg_s = cpu.seconds()
        result["server_cpu_ms"] = 1000 * server_s / n
        result["pg_cpu_ms"] = 1000 * pg_s / n
        return result

    return one_round


@contextmanager
def helpdesk(venv: Path, admin_url: str, kind: str, c: int, work: Path) -> Iterator[Round]:
    """A Django project with django-helpdesk, migrated, served by gunicorn -w 2; yields a round runner."""
    from urllib.parse import urlsplit

    py = venv / "bin" / "python"
    proj = work / f"dh-{kind}"
    (proj / "benchproj").mkdir(parents=True)
    with database(admin_url, kind, work, "dh") as url:
        u = urlsplit(url)
        (proj / "benchproj" / "__init__.py").write_text("")
        if kind == "sqlite":
            conf: dict[str, Any] = {"ENGINE": "django.db.backends.sqlite3", "NAME": url.removeprefix("sqlite:///")}
            conf["OPTIONS"] = {"timeout": 15}
        else:
            conf = {"ENGINE": "django.db.backends.postgresql", "NAME": u.path.lstrip("/"), "CONN_MAX_AGE": 600}
            conf |= {"USER": u.username or "postgres", "HOST": u.hostname or "127.0.0.1", "PORT": str(u.port or 5432)}
        (proj / "benchproj" / "settings.py").write_text(SETTINGS.replace("__DATABASE__", repr(conf)))
        (proj / "benchproj" / "urls.py").write_text(URLS)
        (proj / "benchproj" / "wsgi.py").write_text(
            "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n"
        )
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "benchproj.settings", "PYTHONPATH": str(proj)}
        subprocess.run([str(py), "-m", "django", "migrate", "-v", "0"], env=env, cwd=proj, check=True)
        out = subprocess.run(
            [str(py), "-m", "django", "shell", "-c", SETUP], env=env, cwd=proj, check=True, capture_output=True
        )
        token, queue_id = out.stdout.decode().split()[-2:]
        port = free_port()
        gunicorn = [str(venv / "bin" / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "benchproj.wsgi"]
        with serving(gunicorn, env, proj, work / "gunicorn.log") as server:
            base = f"http://127.0.0.1:{port}/helpdesk/api/tickets/"
            wait_http(base, lambda s: s in (401, 403))

            def body(i: int) -> dict[str, Any]:
                return {
                    "queue": int(queue_id),
                    "title": f"工單 {i}",
                    "description": "商品還沒到，請協助查詢。",
                    "submitter_email": "amy@example.com",
                    "priority": 3,
                }

            headers = {"Authorization": f"Token {token}"}
            dbname = u.path.lstrip("/") if kind == "pg" else None
            yield _measured(server, dbname, lambda n: asyncio.run(drive(base, headers, body, n, c)))


@contextmanager
def kefu_served(
    admin_url: str,
    kind: str,
    work: Path,
    label: str = "kefu",
    workers: int = 2,
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[subprocess.Popen[bytes], int, str, int, str]]:
    """`kefu serve --workers N` on a fresh database with a brand and an admin token: (server, port, token, brand, url).

    The code served is what `PYTHONPATH` in `extra_env` puts first (served_create.py's baseline), else this tree's.
    """
    from kefu.auth.service import create_agent, create_token
    from kefu.brands.service import create_brand
    from kefu.core.db import Database
    from kefu.core.migrate import upgrade

    with database(admin_url, kind, work, label) as url:
        upgrade(url)
        db = Database(url)
        with db.session() as s:
            brand = create_brand(s, slug="bench", name="Bench")
            agent = create_agent(s, email="bench@example.com", name="b", password="bench password 1", role="admin")
            _, token = create_token(s, agent, name="bench", scopes=None, expires_at=None, actor=None)
            brand_id = brand.id
        db.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
        env.update(
            {
                "KEFU_ENV": "test",
                "KEFU_SECRET_KEY": os.environ["KEFU_SECRET_KEY"],
                "KEFU_DATABASE_URL": url,
                "KEFU_LOG_LEVEL": "WARNING",
                "KEFU_DATA_DIR": str(work / f"{label}-data"),
                **(extra_env or {}),
            }
        )
        port = free_port()
        cmd = [sys.executable, "-m", "kefu", "serve", "--port", str(port), "--workers", str(workers)]
        with serving(cmd, env, ROOT, work / f"{label}.log") as server:
            wait_http(f"http://127.0.0.1:{port}/healthz", lambda s: s == 200)
            yield server, port, token, brand_id, url


@contextmanager
def kefu(admin_url: str, kind: str, c: int, work: Path, kefu_work: str = "ticket+message") -> Iterator[Round]:
    """kefu served by `kefu serve --workers 2` on a fresh database; yields a round runner (see the module doc)."""
    with kefu_served(admin_url, kind, work) as (server, port, token, brand_id, url):

        def reply(i: int) -> dict[str, Any]:
            return {"body": f"已收到您的問題 {i}，我們會盡快回覆。", "public": True}

        def body(i: int) -> dict[str, Any]:
            ticket = {"brand_id": brand_id, "subject": f"工單 {i}", "description": "商品還沒到，請協助查詢。"}
            return {**ticket, "comment": reply(i)} if kefu_work == "ticket+message" else ticket

        headers = {"Authorization": f"Bearer {token}"}
        target = f"http://127.0.0.1:{port}/api/v1/tickets"

        def first_message(r: httpx.Response, i: int) -> tuple[str, dict[str, Any]]:
            return f"{target}/{r.json()['id']}/activities", reply(i)

        then = first_message if kefu_work == "ticket+message-2req" else None
        dbname = url.rsplit("/", 1)[1] if kind == "pg" else None
        yield _measured(server, dbname, lambda n: asyncio.run(drive(target, headers, body, n, c, then)))


def _line(name: str, r: dict[str, Any]) -> str:
    return (
        f"  {name:16s} {r['rate']:7.1f} tickets/s  p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  "
        f"CPU/ticket: server {r['server_cpu_ms']:5.2f} ms + PostgreSQL backends {r['pg_cpu_ms']:5.2f} ms"
    )


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("venv", type=Path, help="virtualenv with django-helpdesk, gunicorn and psycopg installed")
    ap.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--n", type=int, default=2000, help="tickets per side per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--db", choices=("pg", "sqlite", "both"), default="both")
    works = ("ticket+message", "ticket+message-2req", "ticket")
    ap.add_argument("--kefu-work", choices=works, default="ticket+message")
    args = ap.parse_args()
    probe = subprocess.run(
        [str(args.venv / "bin" / "python"), "-c", "import helpdesk, gunicorn, psycopg, rest_framework"],
        capture_output=True,
    )
    if not (args.venv / "bin" / "gunicorn").exists() or probe.returncode != 0:
        raise SystemExit(
            textwrap.dedent(
                f"""\
                django-helpdesk is not installed in {args.venv}. Create it with:
                    python3 -m venv {args.venv}
                    {args.venv}/bin/pip install django-helpdesk gunicorn 'psycopg[binary]'
                then run this script again with that path."""
            )
        )
    kinds = ("sqlite", "pg") if args.db == "both" else (args.db,)
    work_label = {
        "ticket+message": "ticket + first message (1 request, `comment`)",
        "ticket+message-2req": "ticket + first message (2 requests)",
        "ticket": "ticket only (less work than the peer)",
    }[args.kefu_work]
    print(
        f"ticket creation over HTTP: {args.rounds} rounds of {args.n} tickets per side, order alternating, "
        f"{args.concurrency} concurrent clients, 2 server processes each, {os.cpu_count()} CPUs; "
        f"kefu side: {work_label}"
    )
    for kind in kinds:
        _compare(args, kind)


def _compare(args: argparse.Namespace, kind: str) -> None:
    print(f"== {'PostgreSQL' if kind == 'pg' else 'SQLite'}")
    results: dict[str, list[dict[str, Any]]] = {"django-helpdesk": [], "kefu": []}
    c = args.concurrency
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        with (
            helpdesk(args.venv, args.pg, kind, c, work) as dh,
            kefu(args.pg, kind, c, work, kefu_work=args.kefu_work) as kf,
        ):
            sides = [("django-helpdesk", dh), ("kefu", kf)]
            for i in range(args.rounds):
                for name, run in sides if i % 2 == 0 else sides[::-1]:
                    r = run(args.n)
                    results[name].append(r)
                    print(f"round {i + 1}:" + _line(name, r), flush=True)
    print("median over rounds:")
    med = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in results.items()}
    for name, r in med.items():
        print(_line(name, r))
    ratios = [k["rate"] / h["rate"] for h, k in zip(results["django-helpdesk"], results["kefu"], strict=True)]
    cpu = {name: [r["server_cpu_ms"] + r["pg_cpu_ms"] for r in rs] for name, rs in results.items()}
    cpu_ratios = [h / k for h, k in zip(cpu["django-helpdesk"], cpu["kefu"], strict=True) if k]
    dh_cpu, kf_cpu = statistics.median(cpu["django-helpdesk"]), statistics.median(cpu["kefu"])
    print(f"  throughput ratio kefu / django-helpdesk per round: {', '.join(f'{x:.2f}x' for x in ratios)}")
    print(f"  median throughput ratio {statistics.median(ratios):.2f}x (target >= 10x)")
    print(
        f"  CPU per ticket (server + database backends): django-helpdesk {dh_cpu:.2f} ms, kefu {kf_cpu:.2f} ms; "
        f"per round {', '.join(f'{x:.2f}x' for x in cpu_ratios)} less CPU, "
        f"median {statistics.median(cpu_ratios):.2f}x (target >= 10x)"
    )


if __name__ == "__main__":
    main()
