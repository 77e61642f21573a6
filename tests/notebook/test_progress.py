"""The public progress display: the notebook bundle (pure) and the terminal modes."""

from __future__ import annotations

import io

import pytest

import speedpix
from speedpix import Client, Prediction
from speedpix._apps.notebook import progress_bundle
from speedpix.progress import ProgressDisplay


def _prediction(client: Client, status: str, progress: float | None = None) -> Prediction:
    prediction = Prediction(client._handle, "task-1", status=status)
    prediction.progress = progress
    return prediction


def test_public_names() -> None:
    assert speedpix.ProgressDisplay is ProgressDisplay
    assert "ProgressDisplay" in speedpix.__all__ and "show" in speedpix.__all__


@pytest.mark.parametrize(
    ("status", "progress", "bar"),
    [
        ("waiting", None, '<progress max="1"'),  # no value: indeterminate
        ("running", 0.42, '<progress value="0.420" max="1"'),
        ("succeeded", 1.0, '<progress value="1" max="1"'),
        ("failed", None, "✗"),
    ],
)
def test_notebook_bundle_has_a_bar_and_the_line(client: Client, status: str, progress: float | None, bar: str) -> None:
    line = f"task task-1 · {status} <b>"
    bundle = progress_bundle(_prediction(client, status, progress), line)
    assert bundle["text/plain"] == line
    assert bar in bundle["text/html"]
    assert "task task-1 · " + status + " &lt;b&gt;" in bundle["text/html"]  # escaped


def test_outside_a_notebook_it_is_todays_line_display(client: Client) -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream)
    display(_prediction(client, "waiting"))
    display(_prediction(client, "running", 0.5))
    display(_prediction(client, "succeeded", 1.0))
    lines = stream.getvalue().splitlines()
    assert [line.split(" · ")[1] for line in lines] == ["queued", "running 50%", "succeeded"]


def test_default_stream_outside_a_notebook_is_stderr(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    display = ProgressDisplay()
    display(_prediction(client, "running", 0.3))
    assert "running 30%" in capsys.readouterr().err


def test_run_with_the_display_on_a_terminal_rewrites_one_line(client: Client) -> None:
    stream = io.StringIO()
    client.run("demo-txt2img", {"prompt": "p"}, on_progress=ProgressDisplay(stream, tty=True))
    text = stream.getvalue()
    assert text.startswith("\r\x1b[K") and "\n" not in text
    assert "succeeded" in text.rsplit("\r\x1b[K", 1)[-1]
