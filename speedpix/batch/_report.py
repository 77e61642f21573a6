"""``DIR/report.html`` from the journal alone: counts, failures, then a contact sheet of every job's
files, in one page with no script and no network."""

from __future__ import annotations

import contextlib
import json
import os
from html import escape
from pathlib import Path, PurePosixPath
from typing import Final
from urllib.parse import quote

from .._apps.saving import is_storage_url
from ._jobs import JOURNAL_NAME, REPORT_NAME, TEXT_KEY, BatchInputError
from ._journal import DONE, STATUS_OF_STATE, Journal, Row, write_atomically
from ._results import FAILURE_KINDS, failures_by_kind, known_kind, utc_now

_IMAGES: Final = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".avif", ".svg"})
_VIDEOS: Final = frozenset({".mp4", ".webm", ".mov", ".m4v", ".ogv"})
_AUDIO: Final = frozenset({".mp3", ".wav", ".ogg", ".flac", ".m4a", ".aac", ".opus"})

_STYLE: Final = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.5em 0 .5em}
.counts span{display:inline-block;margin:0 .4em .4em 0;padding:.2em .6em;border-radius:1em;background:#e8e8e8}
.counts .failed{background:#f6d5d5}.counts .succeeded{background:#d7f0d7}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
td.error{color:#a00;white-space:pre-wrap;word-break:break-word}
.sheet{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px}
.job{background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px;overflow:hidden}
.job.failed{border-color:#d88}.job img,.job video{width:100%;height:180px;object-fit:contain;background:#eee}
.job audio{width:100%}.id{font-weight:600;word-break:break-all}
.prompt{color:#444;max-height:4.2em;overflow:hidden;word-break:break-word}
.meta{color:#777;font-size:12px}.err{color:#a00;font-size:12px;word-break:break-word}
.url{font:12px ui-monospace,monospace;word-break:break-all;padding:.2em 0}
.none{height:180px;display:flex;align-items:center;justify-content:center;background:#f0f0f0;color:#888}
"""


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _prompt(row: Row) -> str:
    """The job's prompt: its ``prompt`` input, else its first text input ('' if none)."""
    try:
        inputs = dict(json.loads(row.spec)["input"])
    except (ValueError, TypeError, KeyError):
        return ""
    values = [inputs["prompt"]] if "prompt" in inputs else list(inputs.values())
    for value in values:
        if isinstance(value, dict) and set(value) == {TEXT_KEY}:
            value = value[TEXT_KEY]
        if isinstance(value, str) and value:
            return value
    return ""


def _media(name: str) -> str:
    if is_storage_url(name):
        # In object storage (s3://…): no browser opens it, so the URL is shown as text.
        return f'<div class="url">{escape(name)}</div>'
    href = escape(quote(PurePosixPath(name).as_posix()), quote=True)  # relative to the report
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in _IMAGES:
        return f'<a href="{href}"><img src="{href}" loading="lazy" alt="{escape(name, quote=True)}"></a>'
    if suffix in _VIDEOS:
        return f'<video controls preload="metadata" src="{href}"></video>'
    if suffix in _AUDIO:
        return f'<audio controls preload="none" src="{href}"></audio>'
    return f'<a href="{href}">{escape(PurePosixPath(name).name)}</a>'


def _duration(row: Row) -> str:
    ms = row.provenance.get("duration_ms")
    if not isinstance(ms, int | float):
        return ""
    return f"{ms / 1000:.1f} s" if ms < 60_000 else f"{ms / 60_000:.1f} min"


def write_report(out_dir: str | os.PathLike[str], *, journal: Journal | None = None) -> Path:
    """Write ``out_dir/report.html`` from the batch's journal (atomically); its path.

    :class:`BatchInputError` if ``out_dir`` holds no batch journal."""
    directory = Path(out_dir)
    if journal is not None:
        rows = list(journal.rows().values())
    elif (directory / JOURNAL_NAME).is_file():
        with contextlib.closing(Journal(directory / JOURNAL_NAME)) as own:
            rows = list(own.rows().values())
    else:
        raise BatchInputError(f"no batch journal in {directory} ({JOURNAL_NAME} not found)")
    title = f"SpeedPix batch: {directory.resolve().name}"
    statuses = [STATUS_OF_STATE.get(row.state, "incomplete") for row in rows]
    failed = [row for row, status in zip(rows, statuses, strict=True) if status == "failed"]
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        # No request leaves the page: no script, no remote resource, whatever a file says.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src 'self' file:; media-src 'self' file:; style-src 'unsafe-inline'\">",
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{len(rows)} jobs; report written {escape(utc_now())}</p>',
        '<p class="counts">',
    ]
    for status in ("succeeded", "failed", "unknown", "incomplete"):
        count = statuses.count(status)
        if count or status in ("succeeded", "failed"):
            parts.append(f'<span class="{status}">{count} {status}</span>')
    for kind, count in failures_by_kind(row.failure_kind for row in failed).items():
        parts.append(f'<span class="failed">{count} {escape(FAILURE_KINDS[kind])}</span>')
    parts.append("</p>")

    if failed:
        parts.append(f"<h2>Failures ({len(failed)})</h2><table><thead><tr>")
        parts.append(
            "<th>job</th><th>kind</th><th>error</th><th>code</th><th>task</th><th>prompt</th></tr></thead><tbody>"
        )
        for row in failed:
            # The kind in words; its name, as results.jsonl's failure_kind has it, on hover.
            name = known_kind(row.failure_kind)
            kind = FAILURE_KINDS[name]
            parts.append(
                f'<tr id="failed-{escape(row.id, quote=True)}"><td>{escape(row.id)}</td>'
                f'<td title="{escape(name, quote=True)}">{escape(kind)}</td>'
                f'<td class="error">{escape(_short(row.error or "", 2000))}</td>'
                f"<td>{escape(row.error_code or '')}</td><td>{escape(row.task_id or '')}</td>"
                f"<td>{escape(_short(_prompt(row)))}</td></tr>"
            )
        parts.append("</tbody></table>")

    parts.append(f'<h2>All jobs ({len(rows)})</h2><div class="sheet">')
    for row, status in zip(rows, statuses, strict=True):
        files = row.files if row.state == DONE else []
        parts.append(f'<div class="job {status}">')
        if files:
            parts.extend(_media(name) for name in files)
        else:
            parts.append(f'<div class="none">{escape(status)}</div>')
        meta = " · ".join(part for part in (status, _duration(row), f"{len(files)} file(s)" if files else "") if part)
        parts.append(
            f'<div class="id">{escape(row.id)}</div>'
            f'<div class="prompt">{escape(_short(_prompt(row)))}</div>'
            f'<div class="meta">{escape(meta)}</div>'
        )
        if status != "succeeded" and row.error:
            parts.append(f'<div class="err">{escape(_short(row.error))}</div>')
        parts.append("</div>")
    parts.append("</div></body></html>\n")
    write_atomically(directory / REPORT_NAME, "\n".join(parts))
    return directory / REPORT_NAME
