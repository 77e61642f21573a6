"""An account's quota, per app key: how fast it may submit, how many tasks it may have.

``submissions_per_second`` is a token bucket (a second's worth of burst, then that
rate), as the API gateway's per-app flow control: a ``comfy_prompt`` beyond it is
refused with HTTP 403 ``Throttled by APP Flow Control``, before it reaches the service.
``running_tasks`` bounds the unfinished (waiting or running) tasks of the key: a
submission beyond it is refused by the business gateway, ``B_API_CauseFlowControl``.
Refused submissions create nothing; the gateway counts them against the rate all the
same (it counts requests, not tasks), as a real one does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Final

from ._tasks import TaskRecord

RATE: Final = "rate"
RUNNING: Final = "running"


@dataclass(frozen=True)
class Quota:
    submissions_per_second: float | None = None
    running_tasks: int | None = None

    def __post_init__(self) -> None:
        rate, running = self.submissions_per_second, self.running_tasks
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0):
            raise ValueError(f"submissions_per_second must be a positive number, got {rate!r}")
        if running is not None and (isinstance(running, bool) or not isinstance(running, int) or running < 1):
            raise ValueError(f"running_tasks must be a positive integer, got {running!r}")


@dataclass
class _Account:
    tokens: float
    refilled_at: float
    open_tasks: list[TaskRecord] = field(default_factory=list)


class QuotaGate:
    """Admits or refuses submissions, per app key, under the configured :class:`Quota`."""

    def __init__(self, quota: Quota | None = None) -> None:
        self.quota = quota or Quota()
        self._accounts: dict[str, _Account] = {}
        self._lock = threading.Lock()

    def set(self, quota: Quota) -> None:
        with self._lock:
            self.quota = quota
            self._accounts.clear()

    def reset(self) -> None:
        """Forget usage (a full bucket, no tasks); the limits stay."""
        with self._lock:
            self._accounts.clear()

    def admit(self, app_key: str, now: float) -> str | None:
        """None to let the submission through, else why not: :data:`RATE` or :data:`RUNNING`."""
        quota = self.quota
        if quota.submissions_per_second is None and quota.running_tasks is None:
            return None
        with self._lock:
            rate = quota.submissions_per_second
            capacity = max(rate, 1.0) if rate is not None else 0.0
            account = self._accounts.get(app_key)
            if account is None:
                account = self._accounts[app_key] = _Account(tokens=capacity, refilled_at=now)
            if rate is not None:
                account.tokens = min(capacity, account.tokens + (now - account.refilled_at) * rate)
                account.refilled_at = now
                if account.tokens < 1.0:
                    return RATE
                account.tokens -= 1.0  # counted even if refused below, or by the service
            if quota.running_tasks is not None:
                account.open_tasks = [task for task in account.open_tasks if task.phase(now) != "finished"]
                if len(account.open_tasks) >= quota.running_tasks:
                    return RUNNING
            return None

    def created(self, app_key: str, task: TaskRecord) -> None:
        """A submission admitted by :meth:`admit` created ``task``."""
        if self.quota.running_tasks is None:
            return
        with self._lock:
            account = self._accounts.get(app_key)
            if account is not None:
                account.open_tasks.append(task)
