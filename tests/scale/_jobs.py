"""Jobs run in other processes (pools, Dask workers): importable by name, so that a
spawned process can find them."""

from __future__ import annotations

import asyncio
import os
from typing import Any

ECHO = "echo-prompt"


def echo_workflow(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """The emulator's side: each run's output names its own input, so a run that got
    another task's answer is caught."""
    return {"text": inputs["prompt"], "task": ctx.task_id}


def prompt(i: int) -> str:
    return f"job-{i}"


def run_job(client: Any, i: int) -> tuple[int, str, str]:
    output = client.run(ECHO, {"prompt": prompt(i)}, timeout=60)
    return i, output["text"], output["task"]


async def async_run_job(client: Any, i: int) -> tuple[int, str, str]:
    output = await client.async_run(ECHO, {"prompt": prompt(i)}, timeout=60)
    return i, output["text"], output["task"]


def asyncio_run_job(client: Any, i: int) -> tuple[int, str, str]:
    return asyncio.run(async_run_job(client, i))


def run_job_in(client: Any, i: int) -> tuple[int, tuple[int, str, str]]:
    """:func:`run_job`, with the id of the process that ran it."""
    return os.getpid(), run_job(client, i)
