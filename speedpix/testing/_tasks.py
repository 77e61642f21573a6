"""Tasks and their simulated lifecycle.

A task's timeline is fixed when it is submitted: it waits until ``begin`` (its queue
time, plus the wait for a free slot when the workflow has ``max_concurrency``), runs
until ``end`` (``duration`` later), then has succeeded or failed. Status, progress
and ETA are computed from the clock when asked, so nothing ticks in the background.
The workflow callable itself runs once, in a worker thread, when the task starts
running; the reported ``taskEndTime`` stays the scheduled end, so a benchmark can
measure exactly how late a client noticed completion.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._workflows import WorkflowOptions

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
MAX_STEPS = 20


def new_task_id(now: float) -> str:
    """A ULID in lower case (26 characters), the shape of real SpeedPix task ids."""
    value = (int(now * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


@dataclass(eq=False)
class TaskRecord:
    """One submitted task, as the emulator sees it (``emu.tasks``).

    Times are emulator-clock seconds (``created_at``, ``begin_at``, ``end_at``) and the
    same in milliseconds since the epoch (``created_ms``, ``begin_ms``, ``end_ms``).
    """

    task_id: str
    workflow_id: str
    version: str
    alias_id: str | None
    inputs: dict[str, Any]
    resource_config_id: str | None
    options: WorkflowOptions
    created_at: float
    begin_at: float
    end_at: float
    result: dict[str, Any] | None = None
    error: str | None = None
    finished: bool = False  # the callable has run (result or error is set)
    # The workflow callable, captured at submission (re-registering does not change it).
    fn: Any = field(default=None, repr=False)
    # Set by the app: the scheduled start of the callable, and its completion.
    run_handle: Any = field(default=None, repr=False)
    run_future: Any = field(default=None, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)

    @property
    def created_ms(self) -> int:
        return int(self.created_at * 1000)

    @property
    def begin_ms(self) -> int:
        return int(self.begin_at * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end_at * 1000)

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.begin_ms

    def phase(self, now: float) -> str:
        """``waiting``, ``running`` or ``finished`` at time ``now``."""
        if now < self.begin_at:
            return "waiting"
        if now < self.end_at:
            return "running"
        return "finished"

    def status_at(self, now: float) -> str:
        phase = self.phase(now)
        if phase != "finished":
            return phase
        if not self.finished:
            return "running"  # past its end but the callable is still working
        return "failed" if self.error is not None else "succeeded"

    @property
    def status(self) -> str:
        return self.status_at(self.clock())

    def progress_at(self, now: float) -> float:
        phase = self.phase(now)
        if phase == "waiting":
            return 0.0
        if phase == "finished":
            return 1.0 if self.finished else 0.99
        return min(max((now - self.begin_at) / (self.end_at - self.begin_at), 0.0), 1.0)

    def eta_at(self, now: float) -> float:
        """Remaining seconds, misreported by the workflow's ``eta_error``."""
        return round(max(self.end_at - now, 0.0) * (1 + self.options.eta_error), 3)

    def estimated_duration(self) -> float:
        """``estimatedDurationInSeconds`` at submission: the expected time to the end
        (queue included, since that is what a client waits), misreported by ``eta_error``."""
        return round((self.end_at - self.created_at) * (1 + self.options.eta_error), 3)


class TaskBoard:
    """All tasks, their schedule and the waiting queue."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._tasks: dict[str, TaskRecord] = {}
        # Tasks not yet started, in submission order (pruned lazily from the front).
        self._waiting: deque[TaskRecord] = deque()
        # Per workflow with max_concurrency: when each of its slots is next free.
        self._slots: dict[str, list[float]] = {}
        self.created = 0

    def __len__(self) -> int:
        return len(self._tasks)

    def all(self) -> list[TaskRecord]:
        return list(self._tasks.values())

    def get(self, task_id: str) -> TaskRecord | None:
        return self._tasks.get(task_id)

    def create(
        self,
        *,
        workflow_id: str,
        version: str,
        alias_id: str | None,
        inputs: dict[str, Any],
        resource_config_id: str | None,
        options: WorkflowOptions,
        fn: Any,
    ) -> TaskRecord:
        now = self.clock()
        begin = now + options.queue_time
        if options.max_concurrency is not None:
            slots = self._slots.setdefault(workflow_id, [])
            slots.extend([0.0] * (options.max_concurrency - len(slots)))
            free = min(range(options.max_concurrency), key=slots.__getitem__)
            begin = max(begin, slots[free])
            slots[free] = begin + options.duration
        task = TaskRecord(
            task_id=new_task_id(now),
            workflow_id=workflow_id,
            version=version,
            alias_id=alias_id,
            inputs=inputs,
            resource_config_id=resource_config_id,
            options=options,
            created_at=now,
            begin_at=begin,
            end_at=begin + options.duration,
            fn=fn,
            clock=self.clock,
        )
        self._tasks[task.task_id] = task
        if begin > now:
            self._waiting.append(task)
        self.created += 1
        return task

    def queue_ahead(self, task: TaskRecord, now: float) -> int:
        """How many tasks submitted before ``task`` are still waiting."""
        waiting = self._waiting
        while waiting and waiting[0].begin_at <= now:
            waiting.popleft()
        ahead = 0
        for other in waiting:
            if other is task:
                break
            if other.begin_at > now:
                ahead += 1
        return ahead

    def clear(self) -> list[TaskRecord]:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        self._waiting.clear()
        self._slots.clear()
        self.created = 0
        return tasks
