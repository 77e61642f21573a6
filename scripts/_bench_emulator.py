"""The benchmark's emulator process: one ``speedpix.testing.Emulator``, steered over stdin.

Started by ``scripts/bench.py`` in the project's venv, so that neither client under test
shares a GIL with the server. It prints one JSON line (endpoint and credentials), then
answers one JSON command per stdin line with one JSON line on stdout:

- ``{"cmd": "register", "id": ..., "options": {...}}``: a workflow like
  ``demo-txt2img`` (``output_size``, ``duration``, ``eta_error``... as in
  ``Emulator.register``).
- ``{"cmd": "counts"}``: gateway requests so far, per app key and path.
- ``{"cmd": "tasks", "ids": [...]}``: scheduled begin/end times (ms since the epoch,
  as floats) of those tasks, and the API requests made for each (its submit plus
  every progress and result call that named it).
- ``{"cmd": "quit"}``.

Each SDK signs with its own app key, so the two clients can run side by side and the
request counts still tell them apart.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from typing import Any

try:
    from speedpix.testing import Emulator
except ImportError:  # before the package exports it
    from speedpix.testing._emulator import Emulator
from speedpix.testing._workflows import demo_txt2img

SECOND_KEY = "bench-original-key"


TASK_PATHS = ("/scc/comfy_get_progress", "/scc/comfy_get_result")


def _install_counter(emu: Any) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """Count requests per (x-ca-key, path), and progress/result calls per task id,
    inside the emulator's ASGI app."""
    app = emu._app
    counts: Counter[tuple[str, str]] = Counter()
    per_task: Counter[str] = Counter()
    base = type(app)

    class CountingApp(base):  # type: ignore[misc, valid-type]
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope.get("type") != "http":
                await super().__call__(scope, receive, send)
                return
            key = ""
            for name, value in scope["headers"]:
                if name == b"x-ca-key":
                    key = value.decode("latin-1")
                    break
            path = scope["path"]
            counts[(key, path)] += 1
            if path not in TASK_PATHS:
                await super().__call__(scope, receive, send)
                return
            body = bytearray()

            async def peek() -> Any:
                message = await receive()
                if message.get("type") == "http.request" and len(body) < 4096:
                    body.extend(message.get("body", b""))
                return message

            await super().__call__(scope, peek, send)
            with contextlib.suppress(ValueError, KeyError, TypeError):
                per_task[str(json.loads(bytes(body))["taskId"])] += 1

    app.__class__ = CountingApp
    return counts, per_task


def main() -> None:
    with Emulator() as emu:
        emu._app.credentials[SECOND_KEY] = emu.app_secret
        counts, per_task = _install_counter(emu)
        hello = {
            "endpoint": emu.endpoint,
            "app_secret": emu.app_secret,
            "keys": {"ours": emu.app_key, "original": SECOND_KEY},
        }
        print(json.dumps(hello), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            cmd = command["cmd"]
            reply: Any
            if cmd == "register":
                emu.register(command["id"], demo_txt2img, **command.get("options", {}))
                reply = {"ok": True}
            elif cmd == "counts":
                reply = [[key, path, n] for (key, path), n in list(counts.items())]
            elif cmd == "tasks":
                wanted = set(command["ids"])
                reply = {
                    t.task_id: {
                        "created": t.created_at * 1000,
                        "begin": t.begin_at * 1000,
                        "end": t.end_at * 1000,
                        # the submit, plus every progress and result call naming the task
                        "requests": 1 + per_task[t.task_id],
                    }
                    for t in emu.tasks
                    if t.task_id in wanted
                }
            elif cmd == "quit":
                print(json.dumps({"ok": True}), flush=True)
                return
            else:
                reply = {"error": f"unknown command {cmd!r}"}
            print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
