"""The emulator's ASGI application: the gateway, the four ``/scc/`` endpoints, storage.

A raw ASGI callable, no framework: it has to answer thousands of signed requests per
second on a small machine so that it is never the bottleneck of a benchmark.

Request flow, for every path: count it, take a pending fault if one matches, record
it (``emu.requests``), then either the gateway (``/scc/...``: signature checks, then
the endpoint, answered in the JSON envelope) or storage (``/storage/...``: presigned
PUT and GET, answered like OSS). Every response carries ``X-Ca-Request-Id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import os
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from . import _gateway
from ._faults import Fault, FaultQueue
from ._moderation import AUDIT_FAILED, AUDIT_FAILED_MESSAGE, is_refused
from ._quota import RATE, Quota, QuotaGate
from ._storage import FILES_PREFIX, UPLOAD_PREFIX, Storage, StorageError, StoredFile
from ._tasks import MAX_STEPS, TaskBoard, TaskRecord
from ._workflows import ResolveError, TaskFailed, WorkflowContext, WorkflowRegistry

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# The scope extension through which our uvicorn protocol lets the app close the
# connection without a response (see _server.py); ASGI itself has no way to do it.
ABORT_EXTENSION = "speedpix.abort_connection"
RECORDED_BODY_LIMIT = 64 * 1024
MAX_GATEWAY_BODY = 32 * 1024 * 1024
RECENT_REQUESTS = 1000

JSON_CONTENT_TYPE = b"application/json; charset=utf-8"
SERVICE_ERROR = "B_API_ServiceError"
SERVICE_ERROR_MESSAGE = "The downstream service returned an error"
FLOW_CONTROL = "B_API_CauseFlowControl"

HTML_ERROR_PAGE = """<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html>
<head><title>{status} {reason}</title></head>
<body>
<center><h1>{status} {reason}</h1></center>
<hr><center>Tengine</center>
</body>
</html>
"""


@dataclass(slots=True)
class RecordedRequest:
    """A request as the emulator received it (``emu.requests``).

    ``headers`` has lower-case names; ``body`` is cut at 64 KiB; ``status`` is the
    HTTP status sent, or ``None`` when the connection was dropped without a response.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    request_id: str = ""


@dataclass(slots=True)
class Stats:
    """Counters for tests (``emu.stats``)."""

    requests_by_path: Counter[str] = field(default_factory=Counter)
    tasks_created: int = 0
    #: Submissions refused by the quota (``Emulator(max_submissions_per_second=...)``).
    throttled: int = 0
    #: Submissions refused by the content-security check (``Emulator(sensitive_words=...)``);
    #: like ``throttled``, injected faults are not counted.
    moderated: int = 0


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    # Large bodies (files) are sent chunk by chunk from this iterator instead.
    stream: Iterator[bytes] | None = None


class _Ids:
    """Cheap unique ids in the shapes the real services use."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        # A UUID-shaped X-Ca-Request-Id: a random per-emulator prefix, a counter suffix.
        self._request_prefix = str(uuid.uuid4()).upper()[:23]
        self._invoke_prefix = os.urandom(5).hex()

    def request_id(self) -> str:
        return f"{self._request_prefix}-{next(self._counter) & 0xFFFFFFFFFFFF:012X}"

    def invoke_id(self) -> str:
        # Like "i_66c587a7c6fd500028c10e78": seconds, a random part and a counter.
        count = next(self._counter) & 0xFFFFFF
        return f"i_{int(time.time()) & 0xFFFFFFFF:08x}{self._invoke_prefix}{count:06x}"


class EmulatorApp:
    """The emulator's state and its ASGI entry point."""

    def __init__(
        self,
        *,
        credentials: dict[str, str],
        storage: Storage,
        registry: WorkflowRegistry,
        quota: Quota | None = None,
        sensitive_words: tuple[str, ...] = (),
    ) -> None:
        self.credentials = credentials
        # Case-folded (see _moderation); replaced whole, so a request reads one list.
        self.sensitive_words = sensitive_words
        self.quota = QuotaGate(quota)
        self.storage = storage
        self.registry = registry
        self.clock_offset = 0.0
        # What comfy_get_result says of a task that has not finished; the real service's
        # behaviour is undocumented: "status" answers with the task's status (as the zh
        # docs' status table suggests), "error" refuses with a B_API_ServiceError.
        self.result_before_finish = "status"
        self.board = TaskBoard(self.clock)
        self.faults = FaultQueue()
        self.nonces = _gateway.NonceCache()
        self.stats = Stats()
        self.requests: deque[RecordedRequest] = deque(maxlen=RECENT_REQUESTS)
        self._ids = _Ids()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None
        self._routes: dict[str, Callable[[dict[str, Any], dict[str, str]], Awaitable[Response]]]
        self._routes = {
            "/scc/comfy_prompt": self._comfy_prompt,
            "/scc/comfy_get_progress": self._comfy_get_progress,
            "/scc/comfy_get_result": self._comfy_get_result,
            "/scc/sp_create_temp_file_upload_sign": self._upload_sign,
        }

    def clock(self) -> float:
        """The emulator's clock: wall time plus ``clock_offset`` (to test skew)."""
        return time.time() + self.clock_offset

    # -- lifecycle (called on the server's event loop) ---------------------------------

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._closing = asyncio.Event()

    def begin_shutdown(self) -> None:
        """Wake requests sleeping in a ``slow`` fault so the server can stop promptly."""
        if self._closing is not None:
            self._closing.set()

    def reset(self) -> None:
        """Forget everything but workflows and stored files. Runs on the event loop."""
        for task in self.board.clear():
            if task.run_handle is not None:
                task.run_handle.cancel()
        self.stats.requests_by_path.clear()
        self.stats.tasks_created = 0
        self.stats.throttled = 0
        self.stats.moderated = 0
        self.quota.reset()
        self.requests.clear()
        self.faults.clear()
        self.nonces.clear()
        self.clock_offset = 0.0
        self.result_before_finish = "status"

    # -- ASGI --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan or websocket support needed
        path: str = scope["path"]
        self.stats.requests_by_path[path] += 1
        fault = self.faults.take(path)
        record = RecordedRequest(
            method=scope["method"],
            path=path,
            query=scope["query_string"].decode("latin-1"),
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            body=b"",
            request_id=self._ids.request_id(),
        )
        self.requests.append(record)

        if fault is not None:
            if fault.kind == "drop_before":
                await _drain(receive)
                await self._drop(scope, receive)
                return
            if fault.kind == "slow":
                await self._sleep(float(fault.params["delay"]))

        if path.startswith("/storage/"):
            response = await self._storage_request(record, receive, fault)
        else:
            response = await self._gateway_request(record, receive, fault)
        if response is None:  # the client went away mid-request
            return

        if fault is not None:
            if fault.kind == "drop_after":
                await self._drop(scope, receive)
                return
            if fault.kind == "malformed_json":
                body = response.body or b'{"status":10,"data":{}}'
                response.body = body[: len(body) // 2]
        record.status = response.status
        response.headers.append((b"x-ca-request-id", record.request_id.encode()))
        await _send(send, response, head=record.method == "HEAD")

    async def _drop(self, scope: Scope, receive: Receive) -> None:
        abort: Callable[[], None] | None = (scope.get("extensions") or {}).get(ABORT_EXTENSION)
        if abort is None:
            raise RuntimeError("drop faults need the emulator's own server (speedpix.testing)")
        abort()
        # Wait until the server has seen the connection go, so it doesn't complain that
        # the app returned without a response.
        while (await receive())["type"] != "http.disconnect":
            pass

    async def _sleep(self, delay: float) -> None:
        if self._closing is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), delay)

    # -- faults ------------------------------------------------------------------------

    def _fault_response(self, fault: Fault, storage: bool) -> Response | None:
        """The response replacing normal handling, for the faults that do that."""
        kind, params = fault.kind, fault.params
        if kind == "http_error":
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            if params["retry_after"] is not None:
                headers.append((b"retry-after", str(params["retry_after"]).encode()))
            return Response(int(params["status"]), headers, str(params["body"]).encode())
        if kind == "throttle":
            response = _gateway_refusal(_gateway.Refusal(403, "Throttled by APP Flow Control"))
            if params["retry_after"] is not None:
                response.headers.append((b"retry-after", str(params["retry_after"]).encode()))
            return response
        if kind == "flow_control":
            message = f"业务网关层触发限流:{params['detail']}"
            return self._envelope(None, status=20, err_code=FLOW_CONTROL, err_message=message)
        if kind == "moderation":
            return self._envelope(None, status=20, err_code=AUDIT_FAILED, err_message=str(params["message"]))
        if kind == "html_error":
            status = int(params["status"])
            reason = _reason(status)
            page = HTML_ERROR_PAGE.format(status=status, reason=reason).encode()
            return Response(status, [(b"content-type", b"text/html")], page)
        if kind == "not_found":
            if storage:
                return _storage_error(StorageError(404, "NoSuchKey", "The specified key does not exist."))
            return _gateway_refusal(_gateway.Refusal(404, "Invalid Url"))
        return None

    # -- the gateway -------------------------------------------------------------------

    async def _gateway_request(self, record: RecordedRequest, receive: Receive, fault: Fault | None) -> Response | None:
        body = await _read_body(receive, MAX_GATEWAY_BODY)
        if body is None:
            return None
        record.body = body[:RECORDED_BODY_LIMIT]
        if fault is not None and (response := self._fault_response(fault, storage=False)):
            return response
        if len(body) > MAX_GATEWAY_BODY:
            return _gateway_refusal(_gateway.Refusal(413, "Request Body Too Large"))
        handler = self._routes.get(record.path)
        if handler is None:
            return _gateway_refusal(_gateway.Refusal(404, "Invalid Url"))
        if record.method != "POST":
            # The message format of the gateway's I405UM error.
            response = _gateway_refusal(_gateway.Refusal(405, f"Unsupported Method `{record.method}`"))
            response.headers.append((b"allow", b"POST"))
            return response
        refusal = _gateway.verify(
            method=record.method,
            path=record.path,
            query=record.query,
            headers=record.headers,
            body=body,
            now_ms=int(self.clock() * 1000),
            secrets=self.credentials,
            nonces=self.nonces,
        )
        if refusal is not None:
            return _gateway_refusal(refusal)
        if record.path == "/scc/comfy_prompt" and (over := self.quota.admit(record.headers["x-ca-key"], self.clock())):
            self.stats.throttled += 1
            if over == RATE:
                return _gateway_refusal(_gateway.Refusal(403, "Throttled by APP Flow Control"))
            limit = self.quota.quota.running_tasks
            return self._envelope(
                None, status=20, err_code=FLOW_CONTROL, err_message=f"业务网关层触发限流:running tasks limit {limit}"
            )
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return self._invalid("The request body must be a JSON object.")
        words = self.sensitive_words
        if words and record.path == "/scc/comfy_prompt" and is_refused(payload.get("inputs"), words):
            # The business gateway's content check, in front of the application: nothing is created.
            self.stats.moderated += 1
            return self._envelope(None, status=20, err_code=AUDIT_FAILED, err_message=AUDIT_FAILED_MESSAGE)
        return await handler(payload, record.headers)

    def _envelope(
        self,
        data: Any,
        *,
        status: int = 10,
        err_code: str | None = None,
        err_message: str | None = None,
        sub_err_code: str | None = None,
        sub_err_message: str | None = None,
    ) -> Response:
        envelope = {
            "status": status,
            "apiInvokeId": self._ids.invoke_id(),
            "data": data,
            "errCode": err_code,
            "errMessage": err_message,
            "subErrCode": sub_err_code,
            "subErrMessage": sub_err_message,
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        return Response(200, [(b"content-type", JSON_CONTENT_TYPE)], body)

    def _service_error(self, sub_err_code: str, message: str, data: Any = None) -> Response:
        return self._envelope(
            data,
            status=20,
            err_code=SERVICE_ERROR,
            err_message=SERVICE_ERROR_MESSAGE,
            sub_err_code=sub_err_code,
            sub_err_message=message,
        )

    def _invalid(self, message: str) -> Response:
        return self._service_error("InvalidParameter", message)

    # -- /scc endpoints ----------------------------------------------------------------

    async def _comfy_prompt(self, body: dict[str, Any], headers: dict[str, str]) -> Response:
        workflow_id = body.get("workflow_id")
        inputs = body.get("inputs")
        alias_id = body.get("alias_id")
        version_id = body.get("version_id")
        if not isinstance(workflow_id, str) or not workflow_id:
            return self._invalid("'workflow_id' is required and must be a non-empty string.")
        if not isinstance(inputs, dict):
            return self._invalid("'inputs' is required and must be an object.")
        for name, value in (("alias_id", alias_id), ("version_id", version_id)):
            if value is not None and not isinstance(value, str):
                return self._invalid(f"'{name}' must be a string.")
        for name in ("randomise_seeds", "return_temp_files"):
            if body.get(name) is not None and not isinstance(body[name], bool):
                return self._invalid(f"'{name}' must be a boolean.")
        resolved = self.registry.resolve(workflow_id, alias_id, version_id)
        if isinstance(resolved, ResolveError):
            return self._service_error(resolved.sub_err_code, resolved.message)
        workflow, version = resolved
        task = self.board.create(
            workflow_id=workflow_id,
            version=version,
            alias_id=None if version_id is not None else (alias_id or "main"),
            inputs=inputs,
            resource_config_id=headers.get("x-sp-resource-config-id"),
            options=workflow.options,
            fn=workflow.fn,
        )
        self.stats.tasks_created += 1
        self.quota.created(headers["x-ca-key"], task)
        self._schedule(task)
        data = {
            "taskId": task.task_id,
            "status": "waiting",
            "estimatedDurationInSeconds": task.estimated_duration(),
        }
        return self._envelope(data)

    def _task(self, body: dict[str, Any]) -> TaskRecord | Response:
        task_id = body.get("taskId")
        if not isinstance(task_id, str) or not task_id:
            return self._invalid("'taskId' is required and must be a non-empty string.")
        task = self.board.get(task_id)
        if task is None:
            return self._service_error("TaskNotFound", f"Task {task_id!r} does not exist.")
        return task

    async def _comfy_get_progress(self, body: dict[str, Any], headers: dict[str, str]) -> Response:
        task = self._task(body)
        if isinstance(task, Response):
            return task
        now = await self._settle(task)
        status = task.status_at(now)
        progress = task.progress_at(now)
        queue_ahead = self.board.queue_ahead(task, now) if status == "waiting" else 0
        state: dict[str, Any] | None
        if status == "waiting":
            state = None
            message = f"Waiting in queue, {queue_ahead} task(s) ahead"
        elif status == "running":
            step = min(int(progress * MAX_STEPS), MAX_STEPS)
            state = {"nodeLabel": "KSampler", "step": step, "maxSteps": MAX_STEPS}
            message = f"Running KSampler, step {step}/{MAX_STEPS}"
        else:
            state = {"nodeLabel": "SaveImage", "step": MAX_STEPS, "maxSteps": MAX_STEPS}
            message = "Task succeeded" if status == "succeeded" else f"Task failed: {task.error}"
        data = {
            "taskId": task.task_id,
            "status": status,
            "progress": round(progress, 4),
            "lastQueueRemaining": queue_ahead,
            "etaRelative": task.eta_at(now),
            "message": message,
            "state": state,
        }
        return self._envelope(data)

    async def _comfy_get_result(self, body: dict[str, Any], headers: dict[str, str]) -> Response:
        task = self._task(body)
        if isinstance(task, Response):
            return task
        now = await self._settle(task)
        status = task.status_at(now)
        data: dict[str, Any] = {
            "taskId": task.task_id,
            "status": status,
            "taskDuration": None,
            "taskBeginTime": task.begin_ms if status != "waiting" else None,
            "taskEndTime": None,
            "images": None,
            "result": None,
        }
        if status in ("succeeded", "failed"):
            data["taskDuration"] = task.duration_ms
            data["taskEndTime"] = task.end_ms
        if status == "failed":
            return self._service_error("TaskFailed", task.error or "Task failed", data)
        if status not in ("succeeded", "failed") and self.result_before_finish == "error":
            return self._service_error("TaskNotFinished", f"Task {task.task_id} is still {status}", None)
        if status == "succeeded":
            data["result"] = task.result
            data["images"] = _file_urls(task.result)
        return self._envelope(data)

    async def _upload_sign(self, body: dict[str, Any], headers: dict[str, str]) -> Response:
        filename = body.get("originalFilename")
        content_type = body.get("contentType")
        size = body.get("size")
        if not isinstance(filename, str) or not filename:
            return self._invalid("'originalFilename' is required and must be a non-empty string.")
        if not isinstance(content_type, str) or not content_type:
            return self._invalid("'contentType' is required and must be a non-empty string.")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            return self._invalid("'size' must be a non-negative integer.")
        return self._envelope(self.storage.sign_upload(filename, content_type, self.clock(), size))

    # -- running workflows -------------------------------------------------------------

    def _schedule(self, task: TaskRecord) -> None:
        """Start the task's callable when it is due to start running."""
        assert self._loop is not None
        delay = max(task.begin_at - self.clock(), 0.0)
        task.run_handle = self._loop.call_later(delay, self._start, task)

    def _start(self, task: TaskRecord) -> asyncio.Future[None]:
        if task.run_future is None:
            assert self._loop is not None
            task.run_future = self._loop.run_in_executor(None, self._execute, task)
        future: asyncio.Future[None] = task.run_future
        return future

    async def _settle(self, task: TaskRecord) -> float:
        """The time to report at; if the task is due to have finished, first wait for
        its callable (started now if the clock jumped past its schedule)."""
        now = self.clock()
        if task.phase(now) == "finished" and not task.finished:
            await asyncio.shield(self._start(task))
        return now

    def _execute(self, task: TaskRecord) -> None:
        """Run a task's workflow callable (in a worker thread) and keep its outcome."""
        options = task.options
        try:
            if options.fail is True:
                raise TaskFailed(f"Workflow {task.workflow_id!r} failed (configured to fail)")
            if callable(options.fail):
                message = options.fail(copy.deepcopy(task.inputs))
                if message:
                    raise TaskFailed(str(message))
            ctx = WorkflowContext(
                storage=self.storage,
                task_id=task.task_id,
                workflow_id=task.workflow_id,
                version=task.version,
                output_size=options.output_size,
                now=self.clock,
            )
            result = task.fn(ctx, copy.deepcopy(task.inputs))
            if not isinstance(result, dict):
                raise TypeError(f"the workflow returned {type(result).__name__}, not a dict")
            json.dumps(result)  # fail the task now rather than the result call later
            task.result = result
        except TaskFailed as exc:
            task.error = str(exc) or "Task failed"
        except Exception as exc:
            task.error = f"{type(exc).__name__}: {exc}"
        task.finished = True

    # -- storage -----------------------------------------------------------------------

    async def _storage_request(self, record: RecordedRequest, receive: Receive, fault: Fault | None) -> Response | None:
        if fault is not None and (response := self._fault_response(fault, storage=True)):
            if not await _drain(receive):
                return None
            return response
        method, path = record.method, record.path
        if method == "PUT" and path.startswith(UPLOAD_PREFIX):
            return await self._upload(record, receive)
        if method in ("GET", "HEAD") and path.startswith(FILES_PREFIX):
            if not await _drain(receive):
                return None
            return self._download(record)
        if not await _drain(receive):
            return None
        if path.startswith((UPLOAD_PREFIX, FILES_PREFIX)):
            message = "The specified method is not allowed against this resource."
            response = _storage_error(StorageError(405, "MethodNotAllowed", message))
            allowed = b"PUT" if path.startswith(UPLOAD_PREFIX) else b"GET, HEAD"
            response.headers.append((b"allow", allowed))
            return response
        return _storage_error(StorageError(404, "NoSuchKey", "The specified key does not exist."))

    async def _upload(self, record: RecordedRequest, receive: Receive) -> Response | None:
        key = self.storage.key_from_path(record.path, UPLOAD_PREFIX)
        content_type = record.headers.get("content-type", "")
        error = self.storage.check("PUT", key, record.query, content_type, self.clock())
        if error is not None:
            if not await _drain(receive):
                return None
            return _storage_error(error)
        # Past the size the URL was signed for, nothing more is read: the connection is
        # closed after the refusal, as a storage service does.
        limit = self.storage.upload_limit(record.query)
        declared = record.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return _too_large(limit)
        # Stream straight to disk. Plain blocking writes are fine here: each chunk is at
        # most ~64 KiB (uvicorn's flow control) and lands in the page cache.
        part_path = self.storage.new_disk_path() + ".part"
        size = 0
        head = bytearray()
        too_large = False
        try:
            with open(part_path, "wb") as file:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        os.remove(part_path)
                        return None
                    chunk = message.get("body", b"")
                    if size + len(chunk) > limit:
                        too_large = True
                        break
                    if chunk:
                        file.write(chunk)
                        size += len(chunk)
                        if len(head) < RECORDED_BODY_LIMIT:
                            head += chunk[: RECORDED_BODY_LIMIT - len(head)]
                    if not message.get("more_body", False):
                        break
        except BaseException:
            if os.path.exists(part_path):
                os.remove(part_path)
            raise
        if too_large:
            os.remove(part_path)
            return _too_large(limit)
        record.body = bytes(head)
        final_path = part_path[: -len(".part")]
        os.replace(part_path, final_path)
        filename = key.rsplit("/", 1)[-1]
        self.storage.add(StoredFile(key, content_type, filename, size, final_path))
        etag = f'"{uuid.uuid4().hex.upper()}"'.encode()
        return Response(200, [(b"etag", etag), (b"content-length", b"0")])

    def _download(self, record: RecordedRequest) -> Response:
        key = self.storage.key_from_path(record.path, FILES_PREFIX)
        error = self.storage.check("GET", key, record.query, "", self.clock())
        if error is not None:
            return _storage_error(error)
        stored = self.storage.get(key)
        if stored is None:
            return _storage_error(StorageError(404, "NoSuchKey", "The specified key does not exist."))
        headers = [
            (b"content-type", stored.content_type.encode("latin-1", "replace")),
            (b"content-length", str(stored.size).encode()),
        ]
        return Response(200, headers, stream=self.storage.iter_content(stored))


# -- helpers ---------------------------------------------------------------------------


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body (reading stops counting past ``limit``); ``None`` if
    the client disconnected."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if size <= limit:
            chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks) if len(chunks) != 1 else bytes(chunks[0])


async def _drain(receive: Receive) -> bool:
    """Read and discard the request body; ``False`` if the client disconnected."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return False
        if not message.get("more_body", False):
            return True


async def _send(send: Send, response: Response, *, head: bool = False) -> None:
    headers = response.headers
    if response.stream is None and not any(name == b"content-length" for name, _ in headers):
        headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if response.stream is not None and not head:
        for chunk in response.stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    body = b"" if head else response.body
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _gateway_refusal(refusal: _gateway.Refusal) -> Response:
    # The gateway answers refusals with an empty body: the reason is in the header.
    return Response(
        refusal.status,
        [(b"x-ca-error-message", refusal.message.encode("utf-8", "replace"))],
    )


def _storage_error(error: StorageError) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{error.code}</Code>\n  <Message>{_xml_escape(error.message)}</Message>\n"
        "  <HostId>speedpix-emulator</HostId>\n</Error>\n"
    ).encode()
    return Response(error.status, [(b"content-type", b"application/xml")], body)


def _too_large(limit: int) -> Response:
    message = f"Your proposed upload exceeds the maximum allowed size of {limit} bytes signed for this URL."
    response = _storage_error(StorageError(400, "EntityTooLarge", message))
    response.headers.append((b"connection", b"close"))  # the rest of the body is never read
    return response


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _file_urls(result: Any) -> list[str]:
    """URLs of the file nodes (dicts with a string ``url``) in a result, in order."""
    urls: list[str] = []
    if isinstance(result, dict):
        if isinstance(result.get("url"), str):
            urls.append(result["url"])
        for value in result.values():
            if isinstance(value, dict | list):
                urls.extend(_file_urls(value))
    elif isinstance(result, list):
        for item in result:
            urls.extend(_file_urls(item))
    return urls
