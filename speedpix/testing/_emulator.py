"""The public :class:`Emulator`: a local SpeedPix served over loopback."""

from __future__ import annotations

import concurrent.futures
import importlib
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from ._app import EmulatorApp, RecordedRequest, Stats
from ._faults import Fault
from ._moderation import sensitive_words as checked_words
from ._quota import Quota
from ._server import ServerThread, require_uvicorn
from ._storage import Storage
from ._tasks import TaskRecord
from ._workflows import WorkflowFn, WorkflowRegistry, register_builtins


class Emulator:
    """A faithful local SpeedPix: API gateway, task API, storage and faults.

    ::

        with Emulator() as emu:
            client = emu.client()
            ...

    It serves on ``host:port`` (port 0 picks a free one) from a background thread;
    ``endpoint`` is its base URL. Credentials default to ``test-app-key`` /
    ``test-app-secret``. Three workflows are built in: ``demo-txt2img``,
    ``demo-echo`` and, where Pillow is installed (``speedpix[images]``), ``demo-img2img``; :meth:`register` adds more.

    A quota, per app key, as an account has: ``max_submissions_per_second`` (a token
    bucket; beyond it ``comfy_prompt`` gets the API gateway's HTTP 403 ``Throttled by APP
    Flow Control``) and ``max_running_tasks`` (unfinished tasks; beyond it the business
    gateway's ``B_API_CauseFlowControl``). Refused submissions create nothing and are
    counted in ``stats.throttled``; :meth:`set_quota` changes it while running.

    A content-security check: a submission whose inputs contain one of
    ``sensitive_words`` (in any text value, ignoring case; file URLs and data URIs are
    not read as text) is refused as the business gateway refuses content: HTTP 200,
    envelope ``status`` 20, ``errCode`` ``B_API_AuditFailed`` (the client raises
    ``ContentModerationError``). It creates nothing and is counted in
    ``stats.moderated``; :meth:`set_sensitive_words` changes the words while running.
    """

    def __init__(
        self,
        app_key: str = "test-app-key",
        app_secret: str = "test-app-secret",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_submissions_per_second: float | None = None,
        max_running_tasks: int | None = None,
        sensitive_words: Iterable[str] = (),
    ) -> None:
        self._quota = Quota(max_submissions_per_second, max_running_tasks)  # checked before anything starts
        self._sensitive_words = checked_words(sensitive_words)
        require_uvicorn()  # fail here, with a one-line message, not on first use
        self.app_key = app_key
        self.app_secret = app_secret
        self.host = host
        self._requested_port = port
        self._registry = WorkflowRegistry()
        register_builtins(self._registry)
        self._tmpdir: str | None = None
        self._server: ServerThread | None = None
        self._app: EmulatorApp | None = None
        self._lock = threading.Lock()
        self._pending_offset = 0.0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Emulator:
        """Start serving (done by ``with``). Returns self."""
        with self._lock:
            if self._server is not None:
                return self
            self._tmpdir = tempfile.mkdtemp(prefix="speedpix-emulator-")
            storage = Storage(self._tmpdir)
            app = EmulatorApp(
                credentials={self.app_key: self.app_secret},
                storage=storage,
                registry=self._registry,
                quota=self._quota,
                sensitive_words=self._sensitive_words,
            )
            app.clock_offset = self._pending_offset
            try:
                server = ServerThread(app, self.host, self._requested_port)
                storage.endpoint = f"http://{_url_host(self.host)}:{server.port}"
                server.start()
            except BaseException:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
                raise
            self._app, self._server = app, server
        return self

    def stop(self) -> None:
        """Stop serving and delete the stored files. Safe to call twice."""
        with self._lock:
            server, self._server = self._server, None
            if server is not None:
                server.stop()
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
                self._tmpdir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.endpoint if self._server is not None else "stopped"
        return f"<Emulator {state} app_key={self.app_key!r}>"

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def endpoint(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        return self._started_app().storage.endpoint

    @property
    def port(self) -> int:
        server = self._server
        if server is None:
            raise RuntimeError("the emulator is not running: use `with Emulator() as emu:`")
        return server.port

    def client(self, **kwargs: Any) -> Any:
        """A ``speedpix.Client`` for this emulator (``kwargs`` go to the client)."""
        # Imported late: the emulator must not depend on the façade to load.
        speedpix: Any = importlib.import_module("speedpix")
        return speedpix.Client(self.app_key, self.app_secret, endpoint=self.endpoint, **kwargs)

    # -- workflows ----------------------------------------------------------------------

    def register(
        self,
        workflow_id: str,
        fn: WorkflowFn | Callable[..., dict[str, Any]],
        *,
        versions: Iterable[str] = ("v1",),
        aliases: Mapping[str, str] | None = None,
        **options: Any,
    ) -> None:
        """Register (or replace) a workflow: ``fn(ctx, inputs) -> result dict``.

        ``aliases`` defaults to ``{"main": <first version>}``. Options: ``duration``
        (running seconds, default 0.05), ``queue_time`` (waiting seconds before
        running), ``fail`` (True, or ``fn(inputs) -> message | None``),
        ``output_size`` (outputs become generated files of this many bytes),
        ``eta_error`` (e.g. 0.5 reports ETAs 50% too long, -0.5 too short),
        ``max_concurrency`` (tasks beyond it wait for a free slot). A task's timings
        are fixed when it is submitted.
        """
        self._registry.register(workflow_id, fn, versions=versions, aliases=aliases, **options)

    @property
    def workflows(self) -> list[str]:
        """The ids of the registered workflows, built-in ones included."""
        return self._registry.names()

    def configure(self, workflow_id: str, **options: Any) -> None:
        """Change options of a registered workflow (same names as :meth:`register`)."""
        self._registry.configure(workflow_id, **options)

    # -- faults and time ----------------------------------------------------------------

    def inject(self, path: str, kind: str, count: int = 1, **params: Any) -> Fault:
        """Give the next ``count`` requests to ``path`` (exact, or a prefix ending in
        ``*``) the fault ``kind``: ``http_error`` (status=503, retry_after, body),
        ``throttle`` (retry_after), ``flow_control`` (detail), ``slow`` (delay),
        ``moderation`` (message: ``B_API_AuditFailed``, as for a sensitive word),
        ``drop_before``, ``drop_after``, ``malformed_json``, ``html_error`` (status=502),
        ``not_found``."""
        return self._running_app().faults.inject(path, kind, count, **params)

    def set_quota(
        self, *, max_submissions_per_second: float | None = None, max_running_tasks: int | None = None
    ) -> None:
        """Replace the quota (None: no limit) and forget its usage so far."""
        self._quota = Quota(max_submissions_per_second, max_running_tasks)
        if self._app is not None:
            self._app.quota.set(self._quota)

    @property
    def sensitive_words(self) -> list[str]:
        """The words the content-security check refuses (case-folded)."""
        return list(self._sensitive_words)

    def set_sensitive_words(self, words: Iterable[str]) -> None:
        """Replace the words the content-security check refuses (empty: refuse nothing).
        Takes effect on the next submission; kept across :meth:`reset`."""
        self._sensitive_words = checked_words(words)
        if self._app is not None:
            self._app.sensitive_words = self._sensitive_words

    @property
    def clock_offset(self) -> float:
        """Seconds added to the emulator's clock (to test timestamp skew, expiry)."""
        return self._app.clock_offset if self._app is not None else self._pending_offset

    @clock_offset.setter
    def clock_offset(self, value: float) -> None:
        self._pending_offset = float(value)
        if self._app is not None:
            self._app.clock_offset = float(value)

    # -- inspection ---------------------------------------------------------------------

    @property
    def result_before_finish(self) -> str:
        """What ``comfy_get_result`` answers for an unfinished task (undocumented upstream):
        ``"status"`` (default) its status, or ``"error"`` a ``B_API_ServiceError``."""
        return self._running_app().result_before_finish

    @result_before_finish.setter
    def result_before_finish(self, value: str) -> None:
        if value not in ("status", "error"):
            raise ValueError("result_before_finish must be 'status' or 'error'")
        self._running_app().result_before_finish = value

    @property
    def open_connections(self) -> int:
        """How many client connections are open to the emulator now: a test can check
        that its code closes what it opens. Exact: a connection its client has closed
        is not counted, even before the server has noticed the close."""
        server = self._server
        return 0 if server is None else server.open_connections

    @property
    def stats(self) -> Stats:
        return self._started_app().stats

    @property
    def tasks(self) -> list[TaskRecord]:
        return self._started_app().board.all()

    @property
    def requests(self) -> list[RecordedRequest]:
        """The most recent requests (up to 1000), oldest first."""
        return list(self._started_app().requests)

    def reset(self) -> None:
        """Clear stats, recorded requests, tasks, faults, nonces and the clock offset.
        Registered workflows and stored files are kept."""
        app = self._started_app()
        self._pending_offset = 0.0
        server = self._server
        loop = server.loop if server is not None else None
        if loop is None or loop.is_closed():
            app.reset()
            return
        # On the event loop, so it never interleaves with a request being handled.
        future: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            try:
                app.reset()
                future.set_result(None)
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        future.result(timeout=10)

    def _started_app(self) -> EmulatorApp:
        """The app of the running or last run server (inspection works after stop)."""
        if self._app is None:
            raise RuntimeError("the emulator was never started: use `with Emulator() as emu:`")
        return self._app

    def _running_app(self) -> EmulatorApp:
        app = self._app
        if app is None or self._server is None:
            raise RuntimeError("the emulator is not running: use `with Emulator() as emu:`")
        return app


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
