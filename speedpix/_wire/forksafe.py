"""After ``fork()``, a child never touches its parent's connections or event-loop state.

A forked child inherits the parent's memory: its keep-alive sockets, its pools' locks
(possibly held by a thread that does not exist in the child), its event loops' state.
A child that sent a request on an inherited socket would interleave its bytes with the
parent's, and could read another request's answer — another task's output. So every
holder of such state registers here, and in the child, right after ``fork()`` (one
thread, nothing else running yet), each holder drops what it inherited.

Dropped, not closed: closing an inherited socket would send a TLS ``close_notify`` on
the parent's connection. What was dropped stays referenced here for the child's
lifetime, so that the garbage collector never finalizes it either (a collected socket
is closed, with a ResourceWarning; a collected async generator schedules its cleanup
on the parent's event loop, through the parent's self-pipe).
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol


class ForkHolder(Protocol):
    def drop_inherited(self) -> object:
        """Forget the parent's state, without closing it; return what was forgotten."""


_holders: weakref.WeakSet[ForkHolder] = weakref.WeakSet()
_inherited: list[object] = []


def track(holder: ForkHolder) -> None:
    """Have ``holder.drop_inherited()`` called in every child forked from now on."""
    _holders.add(holder)


def _after_fork_in_child() -> None:
    for holder in list(_holders):
        _inherited.append(holder.drop_inherited())


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork()
    os.register_at_fork(after_in_child=_after_fork_in_child)
