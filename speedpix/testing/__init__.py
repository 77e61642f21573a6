"""A local SpeedPix emulator for tests, demos and benchmarks.

::

    from speedpix.testing import Emulator

    with Emulator() as emu:                      # serves on 127.0.0.1, a free port
        client = emu.client()                    # a speedpix.Client pointed at it
        emu.register("my-flow", lambda ctx, inputs: {"text": inputs["text"].upper()})
        emu.inject("/scc/comfy_prompt", "throttle")   # the next submit is throttled

It emulates the Alibaba Cloud API gateway in front of SpeedPix (signature, Content-MD5,
timestamp window, nonce replay, app keys, its error headers), the four ``/scc/``
endpoints with simulated task timing, presigned uploads and output downloads, and
faults on demand. Workflows are Python callables: see :meth:`Emulator.register`.
pytest users get the ``speedpix_emulator`` fixtures (see ``speedpix.testing.pytest_plugin``).
Run it standalone with ``speedpix emulator`` or ``python -m speedpix.testing``.

Where the real service is undocumented, the emulator decides, and says so here:

- ``comfy_prompt`` with neither ``alias_id`` nor ``version_id`` uses alias ``main``;
  with both, ``version_id`` wins. A malformed body, an unknown workflow, alias,
  version or task is an application error (envelope ``status`` 20,
  ``B_API_ServiceError``, ``subErrCode`` ``InvalidParameter``, ``WorkflowNotFound``,
  ``AliasNotFound``, ``VersionNotFound``, ``TaskNotFound``).
- ``comfy_get_result`` on an unfinished task answers ``status`` 10 with the task's
  status and a null ``result``; on a failed task ``status`` 20, ``subErrCode``
  ``TaskFailed``, the message in ``subErrMessage`` and the task in ``data``.
- ``estimatedDurationInSeconds`` is the expected time from submission to the end,
  queue included; ``images`` lists the URLs of the file nodes of ``result``.
- The content-security check (``Emulator(sensitive_words=[...])``, off by default)
  runs at the business gateway, after the signature and quota checks and before the
  application: a ``comfy_prompt`` with a sensitive word in a text value of ``inputs``
  (ignoring case; URLs and data URIs are files, not text) gets envelope ``status`` 20,
  ``errCode`` ``B_API_AuditFailed``, ``data`` null and an ``errMessage`` that does not
  name the word (the real message is undocumented).
- Gateway refusals have an empty body (the reason is in ``X-Ca-Error-Message``).
  ``X-Ca-Timestamp`` and ``X-Ca-Nonce`` are required (the real gateway tolerates
  their absence; every SpeedPix SDK sends them, so losing one is a bug to catch).
- Upload and output URLs are presigned by the emulator (``Expires``/``Signature``
  query, OSS style); storage errors are OSS-like XML documents.
- An injected fault takes effect before the gateway's checks, except ``slow``
  (delays, then normal handling), ``drop_after`` and ``malformed_json`` (applied to
  the response of a normally handled request).

It needs the ``testing`` extra (``pip install '.[testing]'`` in a clone of this SDK). Importing this
package is cheap: the server machinery loads when an ``Emulator`` is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core.lazy import lazy_attributes

if TYPE_CHECKING:
    from ._app import RecordedRequest, Stats
    from ._emulator import Emulator
    from ._faults import Fault
    from ._server import MissingExtraError
    from ._tasks import TaskRecord
    from ._workflows import TaskFailed, WorkflowContext

__all__ = [
    "Emulator",
    "Fault",
    "MissingExtraError",
    "RecordedRequest",
    "Stats",
    "TaskFailed",
    "TaskRecord",
    "WorkflowContext",
]

_HOMES = {
    "Emulator": "._emulator",
    "Fault": "._faults",
    "MissingExtraError": "._server",
    "RecordedRequest": "._app",
    "Stats": "._app",
    "TaskFailed": "._workflows",
    "TaskRecord": "._tasks",
    "WorkflowContext": "._workflows",
}


# Lazy, so that `import speedpix.testing` (e.g. by the pytest plugin) costs nothing.
__getattr__, __dir__ = lazy_attributes(__name__, globals(), _HOMES)
