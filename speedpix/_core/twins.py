"""The blocking and the async method of one public operation, written once.

A public operation (``Client.run``, ``Predictions.create``, ``Prediction.wait``…) is a
builder: it checks its arguments and returns what to drive — a runner (the client's
handle) and a flow. :func:`sync_and_async` makes its two public twins from it: the
blocking one drives the flow with ``runner.run_sync``, the async one with
``runner.run_async``. So a signature and its docstring are written once, not twice.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

if TYPE_CHECKING:
    from .effects import Flow

__all__ = ["Runner", "sync_and_async"]

T = TypeVar("T")
P = ParamSpec("P")


class Runner(Protocol):
    """What drives a flow: a client's handle (``speedpix._flows.handle.Handle``)."""

    def run_sync(self, flow: Flow[T]) -> T: ...

    async def run_async(self, flow: Flow[T]) -> T: ...


def sync_and_async(
    build: Callable[P, tuple[Runner, Flow[T]]], async_doc: str | None = None
) -> tuple[Callable[P, T], Callable[P, Coroutine[Any, Any, T]]]:
    """``run, async_run = sync_and_async(_run)``: both show ``_run``'s signature; ``run``
    its docstring, ``async_run`` ``async_doc`` (or "Async :meth:`run`.")."""
    name = build.__name__.lstrip("_")
    signature = inspect.signature(build).replace(return_annotation=inspect.Signature.empty)

    def blocking(*args: P.args, **kwargs: P.kwargs) -> T:
        runner, flow = build(*args, **kwargs)
        return runner.run_sync(flow)

    async def awaitable(*args: P.args, **kwargs: P.kwargs) -> T:
        runner, flow = build(*args, **kwargs)
        return await runner.run_async(flow)

    twins = ((blocking, name, build.__doc__), (awaitable, f"async_{name}", async_doc or f"Async :meth:`{name}`."))
    for method, method_name, doc in twins:
        functools.update_wrapper(method, build)
        method.__name__ = method_name
        method.__qualname__ = f"{build.__qualname__.rpartition('.')[0]}.{method_name}"
        method.__doc__ = doc
        method.__signature__ = signature  # type: ignore[union-attr]
    return blocking, awaitable
