"""Where a served request's time goes (benchmarks/sqlite_tail.py --trace): loaded as `sitecustomize` when on PYTHONPATH.

Active only with KEFU_TRACE_DIR set. Once `kefu.web.app` is imported (not before: uvicorn's worker must answer its
supervisor's pings while the app imports), it records per process, as JSON lines in KEFU_TRACE_DIR/trace-PID.jsonl:
SQLite write turns (asked, granted, released, the holder's thread, its CPU while holding, the kefu frames that took
it), WAL checkpoints, garbage collections (generation, wall, CPU), each HTTP request's time inside the app and the
event loop's lag (a 5 ms sleep's overshoot), and the loop thread's stacks sampled every 2 ms by a watchdog thread
while the loop's heartbeat is over 20 ms late ("stall" rows). Diagnosis only: never imported by kefu itself.
"""

from __future__ import annotations

import os

if os.environ.get("KEFU_TRACE_DIR"):
    import gc
    import importlib.abc
    import importlib.util
    import json
    import sys
    import threading
    import time
    import traceback
    from typing import Any

    _rows: list[Any] = []
    _file = open(os.path.join(os.environ["KEFU_TRACE_DIR"], f"trace-{os.getpid()}.jsonl"), "a")  # noqa: SIM115
    _started: list[int] = []

    def _flush() -> None:
        while _rows:
            _file.write(json.dumps(_rows.pop(0)) + "\n")
        _file.flush()

    def _flusher() -> None:
        while True:
            time.sleep(0.5)
            _flush()

    def rec(*row: Any) -> None:
        """Keep one trace row (written by a background thread every 0.5 s)."""
        _rows.append(row)
        if not _started:
            _started.append(1)
            threading.Thread(target=_flusher, daemon=True).start()

    _beat = [0.0]

    def _stack(frame: Any) -> str:
        """The loop thread's innermost frames, innermost first (file:function:line)."""
        out = []
        while frame is not None and len(out) < 14:
            code = frame.f_code
            out.append(f"{'/'.join(code.co_filename.rsplit('/', 2)[-2:])}:{code.co_name}:{frame.f_lineno}")
            frame = frame.f_back
        return " < ".join(out)

    def _watch(loop_ident: int) -> None:
        """A watchdog thread: while the loop's 5 ms heartbeat is over 20 ms late, sample the loop thread's stack."""

        def run() -> None:
            samples: list[str] = []
            began = 0.0
            while True:
                time.sleep(0.002)
                now = time.perf_counter()
                late = now - _beat[0] - 0.005
                if late > 0.020:
                    if not samples:
                        began = _beat[0]
                    frame = sys._current_frames().get(loop_ident)
                    samples.append(_stack(frame) if frame is not None else "?")
                elif samples:
                    counts: dict[str, int] = {}
                    for st in samples:
                        counts[st] = counts.get(st, 0) + 1
                    top = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
                    rec("stall", began, now - began, len(samples), top)
                    samples = []

        threading.Thread(target=run, daemon=True, name="loop-watchdog").start()

    def _install() -> None:
        from kefu.core import db

        gate_cls, local = db.WriterGate, threading.local()
        acquire, release = gate_cls.acquire, gate_cls.release

        def traced_acquire(self: Any, timeout: float) -> bool:
            t0 = time.perf_counter()
            ok = acquire(self, timeout)
            local.t0, local.t1, local.cpu = t0, time.perf_counter(), time.thread_time()
            frames = traceback.extract_stack(limit=40)
            local.where = " < ".join(
                f"{f.filename.rsplit('/', 2)[-2]}/{f.filename.rsplit('/', 1)[-1]}:{f.name}"
                for f in reversed(frames)
                if "/kefu/" in f.filename and "core/db.py" not in f.filename
            )[:300]
            return ok

        def traced_release(self: Any, *, file_lock: bool = True) -> None:
            t2 = time.perf_counter()
            release(self, file_lock=file_lock)
            cpu = time.thread_time() - getattr(local, "cpu", time.thread_time())
            where, name = getattr(local, "where", ""), threading.current_thread().name
            rec("gate", getattr(local, "t0", t2), getattr(local, "t1", t2), t2, where, cpu, name)

        gate_cls.acquire, gate_cls.release = traced_acquire, traced_release  # type: ignore[method-assign]
        checkpoint = db.Checkpointer.checkpoint

        def traced_checkpoint(self: Any, conn: Any) -> None:
            t0 = time.perf_counter()
            checkpoint(self, conn)
            rec("ckpt", t0, time.perf_counter())

        db.Checkpointer.checkpoint = traced_checkpoint  # type: ignore[method-assign]
        collecting: dict[str, float] = {}

        def on_gc(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                collecting["t"], collecting["cpu"] = time.perf_counter(), time.thread_time()
            elif "t" in collecting:
                cpu = time.thread_time() - collecting["cpu"]
                rec("gc", info["generation"], collecting["t"], time.perf_counter(), cpu)

        gc.callbacks.append(on_gc)
        app_module = sys.modules["kefu.web.app"]
        create_app = app_module.create_app

        def traced_create_app(*args: Any, **kwargs: Any) -> Any:
            app = create_app(*args, **kwargs)
            build, lag_task = app.build_middleware_stack, []

            async def lag() -> None:
                import asyncio

                _beat[0] = time.perf_counter()
                _watch(threading.get_ident())
                while True:
                    t = time.perf_counter()
                    _beat[0] = t
                    await asyncio.sleep(0.005)
                    rec("lag", t, time.perf_counter() - t - 0.005)

            def traced_build() -> Any:
                inner = build()

                async def traced(scope: Any, receive: Any, send: Any) -> None:
                    if scope["type"] != "http":
                        await inner(scope, receive, send)
                        return
                    if not lag_task:
                        import asyncio

                        lag_task.append(asyncio.get_running_loop().create_task(lag()))
                    t0 = time.perf_counter()
                    try:
                        await inner(scope, receive, send)
                    finally:
                        rec("req", scope["method"], scope["path"], t0, time.perf_counter())

                return traced

            app.build_middleware_stack = traced_build
            return app

        app_module.create_app = traced_create_app

    class _AfterApp(importlib.abc.MetaPathFinder):
        """Installs the probes right after kefu.web.app has been executed."""

        busy = False

        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            if name != "kefu.web.app" or self.busy:
                return None
            self.busy = True
            try:
                spec = importlib.util.find_spec(name)
            finally:
                self.busy = False
            if spec is None or spec.loader is None:
                return spec
            exec_module = spec.loader.exec_module

            def exec_then_install(module: Any) -> None:
                exec_module(module)
                _install()

            spec.loader.exec_module = exec_then_install  # type: ignore[method-assign]
            sys.meta_path.remove(self)
            return spec

    sys.meta_path.insert(0, _AfterApp())
