"""Files named in batch inputs: {"$file": ...}, {"$text": ...}, and typos refused before any submission."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from speedpix.batch import BatchInputError, load_jobs, run_batch
from speedpix.testing import Emulator
from speedpix.testing._serve import _parser as emulator_parser

from .conftest import ROOT, emulator_env, run_cli

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64))


def _docs_batch_example() -> tuple[str, list[str], dict[str, str]]:
    """The jsonl block, the `speedpix batch` command and the exported variables of docs/cli.md."""
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text[text.index("## Batches") :]
    jobs = re.search(r"```jsonl\n(.*?)```", section, flags=re.S)
    commands = re.search(r"```sh\n(.*?)```", section, flags=re.S)
    assert jobs and commands
    lines = commands.group(1).splitlines()
    exported = dict(
        item.split("=", 1) for line in lines if line.startswith("export ") for item in shlex.split(line)[1:]
    )
    batch = next(shlex.split(line) for line in lines if line.startswith("speedpix batch"))
    return jobs.group(1), batch, exported


def test_the_docs_batch_example_runs_as_written(tmp_path: Path) -> None:
    jobs, command, exported = _docs_batch_example()
    # The variables it exports are what `speedpix emulator` accepts by default.
    defaults = emulator_parser().parse_args([])
    assert exported["SPEEDPIX_APP_KEY"] == defaults.app_key
    assert exported["SPEEDPIX_APP_SECRET"] == defaults.app_secret
    (tmp_path / "jobs.jsonl").write_text(jobs)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "17.jpg").write_bytes(JPEG)
    with Emulator(app_key=defaults.app_key, app_secret=defaults.app_secret) as emu:
        env = emulator_env(emu)  # the same key and secret; the endpoint on a free port
        result = run_cli(*command[1:], env=env, cwd=tmp_path, timeout=60)
        assert result.returncode == 0, result.stderr
        assert emu.stats.tasks_created == 3
    results = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [r["status"] for r in results] == ["succeeded"] * 3, results
    echoed = next(r for r in results if r["id"] == "shot-17")
    assert [Path(f).read_bytes() for f in echoed["files"]] == [JPEG]  # the local file went up, and came back


def test_files_that_do_not_exist_are_refused_by_line_before_anything_is_submitted(
    speedpix_emulator: Emulator, tmp_path: Path
) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "17.jpg").write_bytes(JPEG)
    (tmp_path / "empty.png").write_bytes(b"")
    lines = [
        {"id": "ok", "workflow_id": "demo-echo", "input": {"image": {"$file": "photos/17.jpg"}}},
        {"id": "typo", "workflow_id": "demo-echo", "input": {"image": {"$file": "photoz/17.jpg"}}},
        {"id": "plain-typo", "workflow_id": "demo-echo", "input": {"image": "photoz/18.png"}},
        {"id": "nested", "workflow_id": "demo-echo", "input": {"frames": [{"$file": "photos"}]}},
        {"id": "empty", "workflow_id": "demo-echo", "input": {"image": {"$file": "empty.png"}}},
        {"id": "mixed", "workflow_id": "demo-echo", "input": {"image": {"$file": "photos/17.jpg", "x": 1}}},
        {"id": "not-a-path", "workflow_id": "demo-echo", "input": {"image": {"$file": 17}}},
    ]
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run_cli("batch", "jobs.jsonl", "-o", "out", env=emulator_env(speedpix_emulator), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    errors = result.stderr
    assert "line 1" not in errors
    assert re.search(r"line 2: input\['image'\]: no such file: photoz/17\.jpg", errors), errors
    assert re.search(r"line 3: input\['image'\]: \"photoz/18\.png\" looks like a media file", errors), errors
    assert '{"$file": "photoz/18.png"}' in errors and '{"$text": "photoz/18.png"}' in errors
    assert re.search(r"line 4: input\['frames'\]\[0\]: is not a regular file: photos", errors), errors
    assert "line 5: input['image']: empty.png is empty" in errors
    assert "line 6: input['image']: {'$file': ...} takes no other key" in errors
    assert "line 7: input['image']: {\"$file\": ...} needs a non-empty string" in errors
    assert speedpix_emulator.stats.tasks_created == 0
    assert speedpix_emulator.stats.requests_by_path["/scc/sp_create_temp_file_upload_sign"] == 0
    assert not (tmp_path / "out").exists()


def test_text_is_sent_as_it_is_and_an_existing_file_as_a_file(
    speedpix_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = speedpix_emulator
    emu.register("record", lambda ctx, inputs: {"seen": inputs})
    monkeypatch.chdir(tmp_path)
    (tmp_path / "here.png").write_bytes(JPEG)
    (tmp_path / "notes.bin").write_bytes(b"not media")
    jobs = [
        {
            "id": "a",
            "workflow_id": "record",
            "input": {
                "server_name": {"$text": "here.png"},  # exists locally, but sent as the text
                "missing_name": {"$text": "on-the-server.png"},
                "plain": "here.png",  # an existing media file: uploaded, as everywhere in the SDK
                "explicit": {"$file": "notes.bin"},  # explicit: uploaded whatever its type
                "prompt": "a prompt that mentions a photo",
                "other": {"$ref": "kept", "n": [1, {"k": "v"}]},  # other objects pass through
            },
        }
    ]
    with emu.client() as client:
        summary = run_batch(jobs, tmp_path / "out", client=client)
    assert summary.ok, summary.results
    seen = emu.tasks[0].inputs
    assert seen["server_name"] == "here.png" and seen["missing_name"] == "on-the-server.png"
    assert seen["plain"].startswith("http://127.0.0.1") and seen["explicit"].startswith("http://127.0.0.1")
    assert seen["prompt"] == "a prompt that mentions a photo"
    assert seen["other"] == {"$ref": "kept", "n": [1, {"k": "v"}]}
    assert emu.stats.requests_by_path["/scc/sp_create_temp_file_upload_sign"] == 2


def test_strings_as_text_sends_a_missing_media_name_unchecked(speedpix_emulator: Emulator, tmp_path: Path) -> None:
    emu = speedpix_emulator
    emu.register("record", lambda ctx, inputs: {"seen": inputs})
    (tmp_path / "here.png").write_bytes(JPEG)
    job = {"id": "a", "workflow_id": "record", "input": {"image": "on-the-server.png", "local": "here.png"}}
    (tmp_path / "jobs.jsonl").write_text(json.dumps(job) + "\n")
    env = emulator_env(emu)
    refused = run_cli("batch", "jobs.jsonl", "-o", "out", env=env, cwd=tmp_path)
    assert refused.returncode == 2 and "--strings-as-text" in refused.stderr
    result = run_cli("batch", "jobs.jsonl", "-o", "out", "--strings-as-text", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert emu.tasks[0].inputs == {"image": "on-the-server.png", "local": "here.png"}  # both as text


def test_load_jobs_reports_every_missing_file_of_a_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    line = {"id": "a", "workflow_id": "w", "input": {"a": {"$file": "one.jpg"}, "b": ["two.mp4"]}}
    with pytest.raises(BatchInputError) as caught:
        load_jobs([line])
    assert "input['a']: no such file: one.jpg" in str(caught.value)
    assert "input['b'][0]: \"two.mp4\" looks like a media file" in str(caught.value)
    # Without file detection, a plain string is text: only the explicit file is checked.
    with pytest.raises(BatchInputError) as caught:
        load_jobs([line], detect_file_paths=False)
    assert "one.jpg" in str(caught.value) and "two.mp4" not in str(caught.value)


def test_a_json_error_names_one_line_and_its_column() -> None:
    with pytest.raises(BatchInputError) as caught:
        load_jobs(['{"id": "a", "workflow_id": "w"}', '{"id": "b",, "workflow_id": "w"}'])
    message = str(caught.value)
    assert "line 2: not valid JSON (Expecting property name enclosed in double quotes at column 12)" in message
    assert "line 1" not in message and "char" not in message


def test_a_line_nested_too_deeply_to_parse_is_reported_by_line() -> None:
    deep = '{"id": "a", "workflow_id": "w", "input": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    with pytest.raises(BatchInputError) as caught:
        load_jobs(['{"id": "b", "workflow_id": "w"}', deep])
    assert "line 2: not valid JSON (nested deeper than 256 levels)" in str(caught.value)


def test_a_duplicate_id_is_found_when_its_first_line_is_invalid() -> None:
    with pytest.raises(BatchInputError) as caught:
        load_jobs(['{"id": "a", "input": {}}', '{"id": "a", "workflow_id": "w"}'])
    message = str(caught.value)
    assert "line 1" in message and "workflow_id" in message
    assert "line 2: duplicate id 'a' (first on line 1)" in message
