"""``DIR/report.html``: self-contained (no script, nothing remote), every job present, every
linked file there, and everything from inputs, the service and errors escaped."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from speedpix.batch import run_batch
from speedpix.testing import Emulator, TaskFailed

from .conftest import emulator_env, run_cli

HOSTILE = '<script>alert("x")</script> & "quotes" <img src=x onerror=alert(1)>'


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def refuses(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    raise TaskFailed(f"cannot draw {inputs['prompt']}")


def check_report(out: Path, job_ids: list[str]) -> Page:
    report = out / "report.html"
    html = report.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html and "//" not in html.replace("://", "")
    page = parse(report)
    assert not [tag for tag, _ in page.tags if tag in ("script", "link", "iframe", "object", "embed", "base")]
    assert not [attrs for _, attrs in page.tags if any(name.startswith("on") for name in attrs)]
    cards = [attrs for tag, attrs in page.tags if tag == "div" and (attrs.get("class") or "").startswith("job ")]
    assert len(cards) == len(job_ids)
    ids = [text for text in page.text if text in job_ids]
    assert set(ids) == set(job_ids)
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            if name in attrs and tag != "meta":
                link = attrs[name] or ""
                parts = urlsplit(link)
                assert not parts.scheme and not parts.netloc and not link.startswith("/"), link
                assert (out / unquote(parts.path)).is_file(), link
    return page


def test_report_structure_and_escaping(emu: Emulator, tmp_path: Path) -> None:
    emu.register("refuses", refuses, duration=0.01)
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    jobs = [
        {"id": "plain", "workflow_id": "demo-txt2img", "input": {"prompt": "a fox", "width": 32}},
        {"id": "odd & name's #1", "workflow_id": "demo-txt2img", "input": {"prompt": HOSTILE, "width": 32}},
        {"id": "bad", "workflow_id": "refuses", "input": {"prompt": HOSTILE}},
        {"id": "typo", "workflow_id": "no-such-workflow", "input": {"text": {"$text": "first text input"}}},
        {"id": "video", "workflow_id": "demo-echo", "input": {"image": {"$file": "clip.mp4"}}},
    ]
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(job) + "\n" for job in jobs))
    result = run_cli("batch", "jobs.jsonl", "-o", "out", "--json", env=emulator_env(emu), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    out = tmp_path / "out"
    assert json.loads(result.stdout)["report_path"] == str(Path("out") / "report.html")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<img src=x" not in html and "<script" not in html.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in html
    page = check_report(out, [job["id"] for job in jobs])
    text = "".join(page.text)
    assert "cannot draw " + HOSTILE in text  # the error, in words, unescaped by the parser
    assert "first text input" in text
    # Failures come first, then the contact sheet; counts by kind at the top.
    assert html.index("Failures (2)") < html.index("All jobs (5)")
    assert "1 refused as bad input" in html and "1 task failed" in html and "3 succeeded" in html
    tags = [tag for tag, _ in page.tags]
    assert tags.count("img") == 2 and tags.count("video") == 1
    imgs = [attrs for tag, attrs in page.tags if tag == "img"]
    assert all(attrs.get("loading") == "lazy" for attrs in imgs)
    (video,) = [attrs for tag, attrs in page.tags if tag == "video"]
    assert video.get("preload") == "metadata" and "controls" in video

    # `speedpix report DIR` rebuilds it from the journal alone.
    (out / "report.html").unlink()
    rebuilt = run_cli("report", "out", env=emulator_env(emu), cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.strip() == str(Path("out") / "report.html")
    check_report(out, [job["id"] for job in jobs])


def test_report_of_a_directory_without_a_batch(emu: Emulator, tmp_path: Path) -> None:
    result = run_cli("report", str(tmp_path), env=emulator_env(emu), cwd=tmp_path)
    assert result.returncode == 2 and "no batch journal" in result.stderr
    assert not (tmp_path / "report.html").exists()


def test_run_batch_writes_the_report_too(emu: Emulator, tmp_path: Path) -> None:
    jobs = [{"id": f"j{n}", "workflow_id": "demo-txt2img", "input": {"prompt": f"p{n}", "width": 32}} for n in range(3)]
    summary = run_batch(jobs, tmp_path / "out", client=emu.client())
    assert summary.report_path == tmp_path / "out" / "report.html"
    check_report(tmp_path / "out", ["j0", "j1", "j2"])
