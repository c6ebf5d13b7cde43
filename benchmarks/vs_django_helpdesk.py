"""Ticket creation through the HTTP API, kefu vs django-helpdesk, same machine, same PostgreSQL server, same load.

Usage:
    python3 -m venv /tmp/dh-venv && /tmp/dh-venv/bin/pip install django-helpdesk gunicorn 'psycopg[binary]'
    .venv/bin/python benchmarks/vs_django_helpdesk.py /tmp/dh-venv [--pg postgresql://postgres@127.0.0.1:5432/postgres]
        [--n 3000] [--concurrency 16]

Each side gets a fresh database on the server, 2 worker processes (gunicorn -w 2 / `kefu serve --workers 2`) and
token authentication (DRF TokenAuthentication / kefu bearer token). The sides run alternately for `--rounds` rounds
(the load of a shared machine drifts; alternating spreads it over both) and each round prints tickets/s, p50/p95
latency and CPU milliseconds per ticket spent by the server's processes and by the PostgreSQL backends serving its
database (read from /proc: the part of the comparison that does not depend on what else the machine is doing).
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
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql", "NAME": __NAME__, "USER": __USER__, "HOST": __HOST__,
    "PORT": __PORT__, "CONN_MAX_AGE": 600,
}}
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


def wait_http(url: str, ok: Callable[[int], bool], timeout: float = 60) -> None:
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
def database(admin_url: str) -> Iterator[str]:
    """A fresh database on the server of admin_url; dropped afterwards."""
    import psycopg

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


def cpu_seconds(server_pid: int, database: str) -> tuple[float, float]:
    """CPU seconds so far of the server's process tree and of the PostgreSQL backends connected to `database`."""
    stats = _proc_stats()
    tree, frontier = {server_pid}, [server_pid]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _, _) in stats.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    server = sum(stats[pid][1] for pid in tree if pid in stats)
    # PostgreSQL titles each backend "postgres: USER DATABASE HOST(PORT) STATE".
    pg = sum(cpu for _, cpu, cmd in stats.values() if cmd.startswith("postgres: ") and f" {database} " in cmd)
    return server, pg


async def drive(
    url: str, headers: dict[str, str], body: Callable[[int], dict[str, Any]], n: int, c: int
) -> dict[str, Any]:
    """POST n tickets with c concurrent clients; returns throughput and latency percentiles."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as client:

        async def one_client() -> None:
            for i in counter:
                t0 = time.perf_counter()
                r = await client.post(url, json=body(i))
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 201:
                    errors.append(f"{r.status_code} {r.text[:200]}")

        for i in range(c):  # warm up connections and caches
            await client.post(url, json=body(-1 - i))
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


def _measured(server: subprocess.Popen[bytes], database: str, run: Callable[[int], dict[str, Any]]) -> Round:
    """Wrap a load run with the CPU accounting of the server tree and its database backends."""

    def one_round(n: int) -> dict[str, Any]:
        server0, pg0 = cpu_seconds(server.pid, database)
        result = run(n)
        server1, pg1 = cpu_seconds(server.pid, database)
        result["server_cpu_ms"] = 1000 * (server1 - server0) / n
        result["pg_cpu_ms"] = 1000 * (pg1 - pg0) / n
        return result

    return one_round


@contextmanager
def helpdesk(venv: Path, admin_url: str, c: int, work: Path) -> Iterator[Round]:
    """A Django project with django-helpdesk, migrated, served by gunicorn -w 2; yields a round runner."""
    from urllib.parse import urlsplit

    py = venv / "bin" / "python"
    proj = work / "dh"
    (proj / "benchproj").mkdir(parents=True)
    with database(admin_url) as url:
        u = urlsplit(url)
        (proj / "benchproj" / "__init__.py").write_text("")
        values = {"__NAME__": u.path.lstrip("/"), "__USER__": u.username or "postgres"}
        values |= {"__HOST__": u.hostname or "127.0.0.1", "__PORT__": str(u.port or 5432)}
        settings = SETTINGS
        for key, value in values.items():
            settings = settings.replace(key, repr(value))
        (proj / "benchproj" / "settings.py").write_text(settings)
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
            yield _measured(server, u.path.lstrip("/"), lambda n: asyncio.run(drive(base, headers, body, n, c)))


@contextmanager
def kefu(admin_url: str, c: int, work: Path) -> Iterator[Round]:
    """kefu served by `kefu serve --workers 2` on a fresh database; yields a round runner (POST /api/v1/tickets)."""
    from kefu.auth.service import create_agent, create_token
    from kefu.brands.service import create_brand
    from kefu.core.db import Database
    from kefu.core.migrate import upgrade

    with database(admin_url) as url:
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
                "KEFU_DATA_DIR": str(work / "kefu-data"),
            }
        )
        port = free_port()
        cmd = [sys.executable, "-m", "kefu", "serve", "--port", str(port), "--workers", "2"]
        with serving(cmd, env, ROOT, work / "kefu.log") as server:
            wait_http(f"http://127.0.0.1:{port}/healthz", lambda s: s == 200)

            def body(i: int) -> dict[str, Any]:
                return {"brand_id": brand_id, "subject": f"工單 {i}", "description": "商品還沒到，請協助查詢。"}

            headers = {"Authorization": f"Bearer {token}"}
            target = f"http://127.0.0.1:{port}/api/v1/tickets"
            yield _measured(server, url.rsplit("/", 1)[1], lambda n: asyncio.run(drive(target, headers, body, n, c)))


def _line(name: str, r: dict[str, Any]) -> str:
    return (
        f"  {name:16s} {r['rate']:7.1f} tickets/s  p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  "
        f"CPU/ticket: server {r['server_cpu_ms']:5.2f} ms + PostgreSQL {r['pg_cpu_ms']:5.2f} ms"
    )


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("venv", type=Path, help="virtualenv with django-helpdesk, gunicorn and psycopg installed")
    ap.add_argument("--pg", default=os.environ.get("KEFU_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--n", type=int, default=2000, help="tickets per side per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16)
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
    print(
        f"ticket creation over HTTP: {args.rounds} alternating rounds of {args.n} tickets per side, "
        f"{args.concurrency} concurrent clients, PostgreSQL, 2 server processes each, {os.cpu_count()} CPUs"
    )
    results: dict[str, list[dict[str, Any]]] = {"django-helpdesk": [], "kefu": []}
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        with helpdesk(args.venv, args.pg, args.concurrency, work) as dh, kefu(args.pg, args.concurrency, work) as kf:
            for i in range(args.rounds):
                for name, run in (("django-helpdesk", dh), ("kefu", kf)):
                    r = run(args.n)
                    results[name].append(r)
                    print(f"round {i + 1}:" + _line(name, r))
    print("median over rounds:")
    med = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in results.items()}
    for name, r in med.items():
        print(_line(name, r))
    ratios = [k["rate"] / h["rate"] for h, k in zip(results["django-helpdesk"], results["kefu"], strict=True)]
    dh_cpu = med["django-helpdesk"]["server_cpu_ms"] + med["django-helpdesk"]["pg_cpu_ms"]
    kf_cpu = med["kefu"]["server_cpu_ms"] + med["kefu"]["pg_cpu_ms"]
    print(f"  throughput ratio kefu / django-helpdesk per round: {', '.join(f'{x:.2f}x' for x in ratios)}")
    print(f"  median throughput ratio {statistics.median(ratios):.2f}x (target >= 10x)")
    print(
        f"  CPU per ticket (server + PostgreSQL): django-helpdesk {dh_cpu:.2f} ms, kefu {kf_cpu:.2f} ms "
        f"-> {dh_cpu / kf_cpu:.2f}x less CPU per ticket"
    )


if __name__ == "__main__":
    main()
