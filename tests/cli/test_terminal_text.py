"""The CLI never writes what the service sent raw to a terminal (issue 20): task ids,
statuses, error messages and outputs from a hostile emulator reach stdout and stderr
with CR, LF, ESC and the other control characters escaped (``\\r``, ``\\n``, ``\\x1b``)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from speedpix.testing import Emulator, TaskFailed, WorkflowContext, _tasks

from .conftest import emulator_env, run_cli

CLI = Callable[..., subprocess.CompletedProcess[str]]

HOSTILE = "evil\r\n\x1b[31mred\x1b[0m\x9b2J\x07"
ESCAPED = r"evil\r\n\x1b[31mred\x1b[0m\x9b2J\x07"
# Any control character but the newline that ends our own lines.
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def hostile_failure(ctx: WorkflowContext, inputs: dict[str, Any]) -> dict[str, Any]:
    raise TaskFailed(HOSTILE)


def echo_inputs(ctx: WorkflowContext, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"echo": inputs}


@pytest.fixture(scope="module", autouse=True)
def workflows(module_emulator: Emulator) -> None:
    module_emulator.register("hostile-failure", hostile_failure)
    module_emulator.register("echo-inputs", echo_inputs)
    module_emulator.register("slow", echo_inputs, duration=30)
    module_emulator.register("hostile-versions", echo_inputs, versions=(HOSTILE,))


@pytest.fixture
def hostile_task_ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The emulator (in this process) hands out task ids that carry control characters."""
    issued = _tasks.new_task_id
    prefix = "t\r\n\x1b[31m"
    monkeypatch.setattr(_tasks, "new_task_id", lambda now: prefix + issued(now))
    yield prefix


def assert_inert(*texts: str) -> None:
    for text in texts:
        assert not RAW_CONTROL.search(text), repr(text)


def test_a_failed_task_s_message_is_escaped(cli: CLI) -> None:
    result = cli("run", "hostile-failure")
    assert result.returncode == 1, result.stderr
    assert ESCAPED in result.stderr
    assert_inert(result.stdout, result.stderr)


def test_json_output_keeps_the_message_and_stays_inert(cli: CLI) -> None:
    result = cli("run", "hostile-failure", "--json")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["error"] == HOSTILE
    assert "\\u001b" in result.stdout and "\\u009b" in result.stdout
    assert ESCAPED in result.stderr
    assert_inert(result.stdout, result.stderr)


def test_a_task_id_from_the_service_is_escaped(cli: CLI, hostile_task_ids: str) -> None:
    result = cli("run", "echo-inputs", "-i", "prompt=x")
    assert result.returncode == 0, result.stderr
    assert r"submitted task t\r\n\x1b[31m" in result.stderr
    assert_inert(result.stdout, result.stderr)

    failed = cli("run", "hostile-failure")
    assert failed.returncode == 1
    assert r"error: task t\r\n\x1b[31m" in failed.stderr and ESCAPED in failed.stderr
    assert_inert(failed.stdout, failed.stderr)


def test_a_timeout_s_resume_line_escapes_the_task_id(cli: CLI, hostile_task_ids: str) -> None:
    result = cli("run", "slow", "--timeout", "0.5")
    assert result.returncode == 4, result.stderr
    assert r"resume with: speedpix get t\r\n\x1b[31m" in result.stderr
    assert_inert(result.stdout, result.stderr)


def test_an_output_s_strings_are_escaped_on_stdout(cli: CLI) -> None:
    result = cli("run", "echo-inputs", "-i", "prompt=" + HOSTILE.replace("\r\n", ""))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["echo"]["prompt"] == HOSTILE.replace("\r\n", "")
    assert_inert(result.stdout, result.stderr)


def test_a_service_error_s_message_is_escaped_on_one_line(cli: CLI) -> None:
    # The service lists the workflow's versions, as they are, when asked for another.
    result = cli("run", "hostile-versions", "--version", "v9")
    assert result.returncode == 3, result.stderr
    assert ESCAPED in result.stderr
    assert result.stderr.count("\n") == 1  # one line: nothing of the service's starts another
    assert_inert(result.stdout, result.stderr)

    as_json = cli("run", "hostile-versions", "--version", "v9", "--json")
    assert HOSTILE in json.loads(as_json.stdout)["error"]
    assert_inert(as_json.stdout, as_json.stderr)


def test_batch_lines_and_summary_are_escaped(emu: Emulator, tmp_path: Path, hostile_task_ids: str) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        json.dumps({"id": "ok", "workflow_id": "echo-inputs", "input": {"prompt": "x"}})
        + "\n"
        + json.dumps({"id": "bad", "workflow_id": "hostile-failure", "input": {}})
        + "\n"
    )
    result = run_cli("batch", str(jobs), "-o", "out", env=emulator_env(emu), cwd=tmp_path, timeout=60)
    assert result.returncode == 1, result.stderr
    assert ESCAPED in result.stderr and r"(task t\r\n\x1b[31m" in result.stderr
    assert_inert(result.stdout, result.stderr)
    # The files keep what the service said, as it said it.
    results = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert {r["id"]: r["error"] for r in results}["bad"] == HOSTILE


def test_printable_keeps_any_script_and_escapes_like_repr() -> None:
    from speedpix._apps.terminal import json_text, printable

    assert printable("猫 · café ✓") == "猫 · café ✓"
    assert printable(HOSTILE) == ESCAPED
    assert printable("\t\x00\x7f\u2028") == r"\t\x00\x7f\u2028"
    text = json_text({"a": HOSTILE + "\u2028猫"}, indent=2)
    assert json.loads(text) == {"a": HOSTILE + "\u2028猫"} and "猫" in text
    assert_inert(text)
