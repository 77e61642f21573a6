"""The blocking and the async method of one public operation, written once as a builder."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

if TYPE_CHECKING:
    from .effects import Flow

T = TypeVar("T")
P = ParamSpec("P")


class Runner(Protocol):
    """What drives a flow: a client's handle."""

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

    for method, method_name in ((blocking, name), (awaitable, f"async_{name}")):
        functools.update_wrapper(method, build)
        method.__name__ = method_name
        method.__qualname__ = f"{build.__qualname__.rpartition('.')[0]}.{method_name}"
        method.__signature__ = signature  # type: ignore[union-attr]
    awaitable.__doc__ = async_doc or f"Async :meth:`{name}`."
    return blocking, awaitable
