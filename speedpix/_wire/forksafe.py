"""After ``fork()``, a child drops (never closes) the connections and locks it inherited.

Closing an inherited socket would end the parent's connection; sending on it would mix
the two processes' requests. What was dropped stays referenced, so that the garbage
collector never closes it either.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

_holders: weakref.WeakSet[Any] = weakref.WeakSet()
_inherited: list[object] = []


def track(holder: Any) -> None:
    """Have ``holder.drop_inherited()`` called in every child forked from now on."""
    _holders.add(holder)


def _after_fork_in_child() -> None:
    for holder in list(_holders):
        _inherited.append(holder.drop_inherited())


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)
