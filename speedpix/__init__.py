"""SpeedPix Python SDK: run Alibaba Cloud 智作工坊 (AIGC Service Lab) ComfyUI workflows.

>>> import speedpix
>>> client = speedpix.Client()  # SPEEDPIX_APP_KEY / SPEEDPIX_APP_SECRET from the environment
>>> output = client.run("your-workflow-id", {"prompt": "a mountain lake"})
>>> output["images"].save("result.png")
>>> speedpix.show(output)  # in Jupyter: the images inline (elsewhere: one line per file)

The typed low-level client generated from the OpenAPI spec is :mod:`speedpix_api`;
``client.api`` is one with signing attached. The local emulator is
:mod:`speedpix.testing`.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from . import errors
from ._core.lazy import lazy_attributes
from ._version import __version__
from .errors import *  # noqa: F403 (the exceptions, listed once: errors.__all__)

if TYPE_CHECKING:
    from ._apps.notebook import show
    from .client import DEFAULT_ENDPOINT, Client
    from .files import File
    from .output import FileNode, FileOutput
    from .predictions import Prediction
    from .progress import ProgressDisplay

# Imported on first use (PEP 562): they pull in httpx and the generated client.
_LAZY = {
    "DEFAULT_ENDPOINT": ".client",
    "Client": ".client",
    "File": ".files",
    "FileNode": ".output",
    "FileOutput": ".output",
    "Prediction": ".predictions",
    "ProgressDisplay": ".progress",
    "show": "._apps.notebook",
}


__getattr__, __dir__ = lazy_attributes(__name__, globals(), _LAZY)


__all__ = [
    "DEFAULT_ENDPOINT",
    "Client",
    "File",
    "FileNode",
    "FileOutput",
    "Prediction",
    "ProgressDisplay",
    "__version__",
    "async_run",
    "default_client",
    "run",
    "show",
    *errors.__all__,
]

_default_client: Client | None = None
_default_lock = threading.Lock()


def _new_lock_in_child() -> None:
    # A thread of the parent may have held it at fork().
    global _default_lock
    _default_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def default_client() -> Client:
    """The client ``speedpix.run`` uses when given none: built once, from the environment."""
    global _default_client
    from .client import Client  # on first use: keeps `import speedpix` cheap

    with _default_lock:
        if _default_client is None:
            _default_client = Client()
        return _default_client


def run(workflow_id: str, input: Any = None, client: Client | None = None, **kwargs: Any) -> Any:
    """Run a workflow with ``client`` (default: :func:`default_client`). See :meth:`Client.run`."""
    return (client or default_client()).run(workflow_id, input, **kwargs)


async def async_run(workflow_id: str, input: Any = None, client: Client | None = None, **kwargs: Any) -> Any:
    """Async :func:`run`."""
    return await (client or default_client()).async_run(workflow_id, input, **kwargs)
