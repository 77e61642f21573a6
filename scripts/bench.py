"""Side-by-side benchmark: this SDK against the original (``speedpix==1.0.4``).

    uv run python scripts/bench.py            # the full run (a few minutes)
    uv run python scripts/bench.py --quick    # smaller sizes and fewer runs

One emulator process (``_bench_emulator.py``) serves both SDKs; each SDK runs in worker
subprocesses of its own interpreter (``_bench_ours_worker.py`` in this venv,
``_bench_original_worker.py`` in ``.bench/original-venv``, which this script creates
and fills from PyPI with ``speedpix==1.0.4`` and ``dataclass-wizard<1``). Nothing but
127.0.0.1 is contacted, apart from PyPI for that install. What each line measures is
described in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
BENCH_DIR = ROOT / ".bench"
ORIGINAL_VENV = BENCH_DIR / "original-venv"
RUNTIME_VENV = BENCH_DIR / "runtime-venv"
ORIGINAL_REQUIREMENTS = ["speedpix==1.0.4", "dataclass-wizard<1"]
MiB = 1024 * 1024

LAG_DURATIONS = (0.3, 1.25, 2.5)
ETA_ERRORS = (0.0, 0.5, -0.5)


# -- the original SDK's venv ---------------------------------------------------------------


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def original_python() -> Path:
    """The interpreter of the venv holding the original SDK; created on first use."""
    python = _venv_python(ORIGINAL_VENV)
    check = "import importlib.metadata as m; assert m.version('speedpix') == '1.0.4'; import dataclass_wizard"
    if python.exists() and _quiet([str(python), "-c", check], cwd=tempfile.gettempdir()):
        return python
    print(f"installing {' '.join(ORIGINAL_REQUIREMENTS)} into {ORIGINAL_VENV.relative_to(ROOT)} ...", flush=True)
    shutil.rmtree(ORIGINAL_VENV, ignore_errors=True)
    base = sys.executable
    uv = shutil.which("uv")
    if uv:
        subprocess.run([uv, "venv", "-q", "--python", base, str(ORIGINAL_VENV)], check=True)
        subprocess.run([uv, "pip", "install", "-q", "--python", str(python), *ORIGINAL_REQUIREMENTS], check=True)
    else:
        subprocess.run([base, "-m", "venv", str(ORIGINAL_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *ORIGINAL_REQUIREMENTS], check=True)
    if not _quiet([str(python), "-c", check], cwd=tempfile.gettempdir()):
        raise SystemExit("the original SDK's venv could not be set up")
    return python


def runtime_python() -> Path:
    """A venv with only this SDK's runtime dependencies (at the versions of the project's
    venv), for timing ``import speedpix`` as a user would see it: the project's venv also
    holds dev tools (rich, click...) that httpx imports when they are present."""
    from importlib.metadata import version

    names = ["httpx", "httpcore", "anyio", "h11", "idna", "certifi", "attrs", "httpx-aiohttp", "aiohttp"]
    names += ["aiohappyeyeballs", "aiosignal", "frozenlist", "multidict", "propcache", "yarl"]
    pins = [f"{name}=={version(name)}" for name in names]
    python = _venv_python(RUNTIME_VENV)
    stamp = RUNTIME_VENV / "pins.txt"
    if python.exists() and stamp.exists() and stamp.read_text() == "\n".join(pins):
        return python
    print(f"installing {' '.join(pins)} into {RUNTIME_VENV.relative_to(ROOT)} ...", flush=True)
    shutil.rmtree(RUNTIME_VENV, ignore_errors=True)
    uv = shutil.which("uv")
    if uv:
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(RUNTIME_VENV)], check=True)
        subprocess.run([uv, "pip", "install", "-q", "--python", str(python), *pins], check=True)
    else:
        subprocess.run([sys.executable, "-m", "venv", str(RUNTIME_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True)
    stamp.write_text("\n".join(pins))
    return python


def _quiet(command: list[str], cwd: str | None = None) -> bool:
    return subprocess.run(command, cwd=cwd, capture_output=True).returncode == 0


# -- the emulator process -----------------------------------------------------------------


class EmulatorProcess:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPTS / "_bench_emulator.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        hello = self._read()
        self.endpoint: str = hello["endpoint"]
        self.app_secret: str = hello["app_secret"]
        self.keys: dict[str, str] = hello["keys"]
        if not self.endpoint.startswith("http://127.0.0.1:"):
            raise SystemExit(f"unexpected emulator endpoint {self.endpoint}")

    def _read(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("the emulator process stopped")
        return json.loads(line)

    def command(self, cmd: str, **fields: Any) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.process.stdin.flush()
        return self._read()

    def register(self, workflow_id: str, **options: Any) -> None:
        self.command("register", id=workflow_id, options=options)

    def tasks(self, ids: list[str]) -> dict[str, dict[str, float]]:
        reply: dict[str, dict[str, float]] = self.command("tasks", ids=ids)
        missing = set(ids) - set(reply)
        if missing:
            raise SystemExit(f"emulator has no record of tasks {sorted(missing)[:3]}")
        return reply

    def close(self) -> None:
        with contextlib.suppress(OSError, SystemExit, ValueError):
            self.command("quit")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# -- workers ----------------------------------------------------------------------------


@dataclass
class Side:
    name: str  # "ours" or "original"
    python: str
    worker: Path


def run_worker(side: Side, emu: EmulatorProcess, kind: str, env: dict[str, str] | None = None, **job: Any) -> Any:
    payload = {
        "kind": kind,
        "endpoint": emu.endpoint,
        "app_key": emu.keys[side.name],
        "app_secret": emu.app_secret,
        **job,
    }
    # cwd outside the repository: the original's `import speedpix` must not find ours.
    completed = subprocess.run(
        [side.python, str(side.worker)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        timeout=900,
        env={**os.environ, **(env or {})},
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"{side.name} worker failed on job {kind!r}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def import_times(python: str, codes: dict[str, str], runs: int, pythonpath: str | None = None) -> dict[str, float]:
    """Median wall time (ms) of fresh ``python -c code`` runs for each of ``codes``, after one
    warm-up run each; the codes take turns, so a slow spell of the machine hits them alike.

    Bytecode caching is on (PYTHONDONTWRITEBYTECODE removed), as for an installed
    package: the warm-up run writes the ``.pyc`` files the measured runs use.
    """
    cwd = tempfile.gettempdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    times: dict[str, list[float]] = {name: [] for name in codes}
    for code in codes.values():
        subprocess.run([python, "-c", code], cwd=cwd, env=env, check=True)
    for _ in range(runs):
        for name, code in codes.items():
            started = time.perf_counter()
            subprocess.run([python, "-c", code], cwd=cwd, env=env, check=True)
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


# -- data files -------------------------------------------------------------------------


def data_file(name: str, size: int) -> str:
    path = BENCH_DIR / "data" / name
    if not path.exists() or path.stat().st_size != size:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as file:
            left = size
            block = os.urandom(MiB)
            while left > 0:
                file.write(block[: min(left, MiB)])
                left -= MiB
    return str(path)


# -- the table --------------------------------------------------------------------------


@dataclass
class Line:
    name: str
    ours: str
    original: str
    ratio: str
    target: str
    met: bool | None  # None: reported, no target


def _ratio(ours: float, original: float) -> str:
    return f"{ours / original:.2f}" if original else "-"


def print_table(lines: list[Line], markdown: bool) -> None:
    headers = ["line", "ours", "original", "ratio", "target", "met?"]
    rows = [
        [line.name, line.ours, line.original, line.ratio, line.target, {True: "yes", False: "NO", None: "-"}[line.met]]
        for line in lines
    ]
    if markdown:
        print("| " + " | ".join(headers) + " |")
        print("|" + "|".join(["---"] + ["---:"] * 3 + ["---", ":---:"]) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(
            "  ".join(
                str(c).ljust(w) if i in (0, 4) else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


# -- the benchmark ----------------------------------------------------------------------


def lag_workflow(duration: float, eta_error: float) -> str:
    return f"lag-{duration}-eta{eta_error:+.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller files (about a minute)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--json", metavar="PATH", help="also write all raw measurements to PATH")
    args = parser.parse_args()
    quick = args.quick

    runs_exact = 3 if quick else 10
    runs_skewed = 2 if quick else 6
    concurrent_n = 50 if quick else 200
    big = (32 if quick else 256) * MiB
    multi_n, multi_size = 8, 4 * MiB
    import_runs = 5 if quick else 10

    ours = Side("ours", sys.executable, SCRIPTS / "_bench_ours_worker.py")
    original = Side("original", str(original_python()), SCRIPTS / "_bench_original_worker.py")
    raw: dict[str, Any] = {"quick": quick, "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    lines: list[Line] = []

    def note(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    # Import time first, while the machine is quiet.
    note("import time")
    # Ours from its source tree, in a venv holding only its runtime dependencies.
    source_path = os.pathsep.join([str(ROOT), str(ROOT / "generated")])
    import_sides = [("ours", str(runtime_python()), source_path), ("original", original.python, None)]
    codes = {"speedpix": "import speedpix", "client": "from speedpix import Client", "httpx": "import httpx"}
    codes["pass"] = "pass"
    imports = {name: import_times(python, codes, import_runs, path) for name, python, path in import_sides}
    raw["import_ms"] = imports

    emu = EmulatorProcess()
    try:
        small = 1024  # small generated outputs: the emulator draws no PNG
        emu.register("warm", duration=0.05, output_size=small)
        for duration in LAG_DURATIONS:
            for eta_error in ETA_ERRORS:
                emu.register(
                    lag_workflow(duration, eta_error), duration=duration, eta_error=eta_error, output_size=small
                )
        emu.register("concurrent", duration=1.0, output_size=small)
        emu.register("many", duration=3.0, output_size=small)
        emu.register("big-output", duration=0.05, output_size=big)
        emu.register("multi", duration=0.1, output_size=small)

        note("signing cost")
        sign = {side.name: run_worker(side, emu, "sign", number=2000 if quick else 10000) for side in (ours, original)}
        raw["sign"] = sign

        note("CPU per async predictions.async_get")
        get_n = 100 if quick else 400
        get_cpu = {
            side.name: run_worker(side, emu, "async_get_cpu", warmup="warm", n=get_n) for side in (ours, original)
        }
        raw["async_get_cpu"] = get_cpu

        # Completion lag: both SDKs at once (sequential runs each, mostly asleep), each
        # with its own app key so that the emulator tells their requests apart.
        note("completion lag (both SDKs side by side)")
        workflows = []
        for eta_error in ETA_ERRORS:
            for duration in LAG_DURATIONS:
                workflows.append([lag_workflow(duration, eta_error), runs_exact if eta_error == 0 else runs_skewed])
        with ThreadPoolExecutor(2) as pool:
            futures = {
                side.name: pool.submit(run_worker, side, emu, "lag", warmup="warm", workflows=workflows)
                for side in (ours, original)
            }
            lag_raw = {name: future.result() for name, future in futures.items()}
        raw["lag"] = lag_raw
        lag: dict[str, dict[str, tuple[float, float]]] = {}
        for name, result in lag_raw.items():
            lag[name] = {}
            for workflow, rows in result["runs"].items():
                tasks = emu.tasks([row["task"] for row in rows])
                lags = [row["returned"] - tasks[row["task"]]["end"] for row in rows]
                requests = [tasks[row["task"]]["requests"] for row in rows]
                lag[name][workflow] = (statistics.mean(lags), statistics.mean(requests))
        for eta_error in ETA_ERRORS:
            for duration in LAG_DURATIONS:
                workflow = lag_workflow(duration, eta_error)
                (o_lag, o_req), (g_lag, g_req) = lag["ours"][workflow], lag["original"][workflow]
                eta = "exact ETA" if eta_error == 0 else f"ETA {eta_error:+.0%}"
                lines.append(
                    Line(
                        f"lag, {duration} s task, {eta} (mean ms; API req/task)",
                        f"{o_lag:.0f} ms; {o_req:.1f}",
                        f"{g_lag:.0f} ms; {g_req:.1f}",
                        _ratio(o_lag, g_lag),
                        "≤ 100 ms; req ≤ original",
                        o_lag <= 100 and o_req <= g_req,
                    )
                )

        # The async path must not depend on the environment: with NO_PROXY alone set (common
        # on company machines and CI) urllib's getproxies() is not empty.
        configs = [("no proxy variables", {}), ("NO_PROXY set", {"NO_PROXY": "127.0.0.1,localhost"})]
        clean_env = {"HTTP_PROXY": "", "HTTPS_PROXY": "", "ALL_PROXY": "", "NO_PROXY": ""}
        for config, extra in configs:
            env = {**clean_env, **extra}
            note(f"{concurrent_n} concurrent async_run, {config}")
            concurrent: dict[str, tuple[float, float, int]] = {}
            for side in (ours, original):
                result = run_worker(
                    side, emu, "concurrent", env=env, warmup="warm", workflow="concurrent", n=concurrent_n
                )
                raw.setdefault("concurrent", {}).setdefault(config, {})[side.name] = result
                tasks = emu.tasks([row["task"] for row in result["rows"]])
                lags = [row["returned"] - tasks[row["task"]]["end"] for row in result["rows"]]
                wall = (result["ended"] - result["started"]) / 1000
                concurrent[side.name] = (wall, statistics.mean(lags) if lags else 0.0, len(result["errors"]))
            (o_wall, o_lag, o_err), (g_wall, g_lag, g_err) = concurrent["ours"], concurrent["original"]
            lines.append(
                Line(
                    f"{concurrent_n} × async_run of 1 s tasks, {config}: wall; errors",
                    f"{o_wall:.2f} s; {o_err}",
                    f"{g_wall:.2f} s; {g_err}",
                    _ratio(o_wall, g_wall),
                    "≤ 1.5 s; 0",
                    o_wall <= 1.5 and o_err == 0,
                )
            )
            lines.append(
                Line(
                    f"{concurrent_n} × async_run of 1 s tasks, {config}: mean lag",
                    f"{o_lag:.0f} ms",
                    f"{g_lag:.0f} ms",
                    _ratio(o_lag, g_lag),
                    "≤ 150 ms",
                    o_lag <= 150,
                )
            )
            many = 500 if quick else 2000
            note(f"{many} concurrent async_run of 3 s tasks, {config} (ours; the original only once)")
            sides = [ours, original] if config == configs[0][0] else [ours]
            walls: dict[str, str] = {"original": "see above"}
            errors = 0
            for side in sides:
                result = run_worker(side, emu, "concurrent", env=env, warmup="warm", workflow="many", n=many)
                raw.setdefault("many", {}).setdefault(config, {})[side.name] = result
                wall = (result["ended"] - result["started"]) / 1000
                errs = result["errors"]
                walls[side.name] = f"{wall:.1f} s; {len(errs)}" + (f" ({errs[0]})" if errs else "")
                if side is ours:
                    o_many, errors = wall, len(errs)
            lines.append(
                Line(
                    f"{many} × async_run of 3 s tasks, one client, {config}: wall; errors",
                    walls["ours"],
                    walls["original"],
                    "-",
                    "≤ 6 s; 0",
                    o_many <= 6 and errors == 0,
                )
            )

        size_label = f"{big // MiB} MiB"
        upload_path = data_file(f"upload-{big // MiB}MiB.bin", big)
        note(f"{size_label}: bare httpx PUT (floor) and files.create, interleaved; then memory of both SDKs")
        repeats = 3 if quick else 5
        floor = run_worker(ours, emu, "upload_speed", upload_path=upload_path, repeats=repeats)
        memory = {
            side.name: run_worker(
                side,
                emu,
                "memory",
                upload_path=upload_path,
                upload_repeats=1,
                workflow="big-output",
                save_dir=str(BENCH_DIR / "data"),
            )
            for side in (ours, original)
        }
        raw["floor"], raw["memory"] = floor, memory
        for side_name, result in memory.items():
            if result["saved_bytes"] != big:
                raise SystemExit(f"{side_name} saved {result['saved_bytes']} bytes, not {big}")
        o_peak = memory["ours"]["peak_above_baseline_kib"] / 1024
        g_peak = memory["original"]["peak_above_baseline_kib"] / 1024
        lines.append(
            Line(
                f"{size_label} upload + {size_label} save: peak RSS above baseline",
                f"{o_peak:.1f} MiB",
                f"{g_peak:.0f} MiB",
                _ratio(o_peak, g_peak),
                "≤ 32 MiB",
                o_peak <= 32,
            )
        )
        floor_s = statistics.median(floor["floor_seconds"])
        o_up, g_up = statistics.median(floor["upload_seconds"]), min(memory["original"]["upload_seconds"])
        lines.append(
            Line(
                f"{size_label} files.create (median of {repeats}; floor {floor_s:.2f} s)",
                f"{o_up:.2f} s",
                f"{g_up:.2f} s",
                _ratio(o_up, g_up),
                f"≤ 1.3 × floor = {1.3 * floor_s:.2f} s",
                o_up <= 1.3 * floor_s,
            )
        )
        o_save, g_save = memory["ours"]["save_seconds"], memory["original"]["save_seconds"]
        lines.append(
            Line(
                f"{size_label} output .save()", f"{o_save:.2f} s", f"{g_save:.2f} s", _ratio(o_save, g_save), "-", None
            )
        )

        note(f"async_run with {multi_n} input files of {multi_size // MiB} MiB")
        paths = [data_file(f"input-{i}.png", multi_size) for i in range(multi_n)]
        multi = {
            side.name: run_worker(
                side, emu, "multi", warmup="warm", workflow="multi", paths=paths, repeats=2 if quick else 3
            )
            for side in (ours, original)
        }
        raw["multi"] = multi
        o_multi = statistics.median(multi["ours"]["wall_seconds"])
        g_multi = statistics.median(multi["original"]["wall_seconds"])
        lines.append(
            Line(
                f"async_run, {multi_n} × {multi_size // MiB} MiB file inputs: wall (median)",
                f"{o_multi:.2f} s",
                f"{g_multi:.2f} s",
                _ratio(o_multi, g_multi),
                "≤ 0.4 × original",
                o_multi <= 0.4 * g_multi,
            )
        )
    finally:
        emu.close()

    o_imp, g_imp = imports["ours"]["speedpix"], imports["original"]["speedpix"]
    lines.append(
        Line(
            f"python -c 'import speedpix' (median of {import_runs})",
            f"{o_imp:.0f} ms",
            f"{g_imp:.0f} ms",
            _ratio(o_imp, g_imp),
            "≤ 0.5 × original",
            o_imp <= 0.5 * g_imp,
        )
    )
    o_cli, g_cli = imports["ours"]["client"], imports["original"]["client"]
    o_httpx = imports["ours"]["httpx"]
    lines.append(
        Line(
            f"python -c 'from speedpix import Client' (median of {import_runs}; import httpx {o_httpx:.0f} ms)",
            f"{o_cli:.0f} ms",
            f"{g_cli:.0f} ms",
            _ratio(o_cli, g_cli),
            f"≤ 1.5 × import httpx = {1.5 * o_httpx:.0f} ms",
            o_cli <= 1.5 * o_httpx,
        )
    )
    o_pass, g_pass = imports["ours"]["pass"], imports["original"]["pass"]
    lines.append(Line("python -c pass (reference)", f"{o_pass:.0f} ms", f"{g_pass:.0f} ms", "-", "-", None))
    for key, label in (
        ("sign_only", "sign one request (headers only)"),
        ("build_and_sign", "build + sign one API request"),
    ):
        o_us, g_us = sign["ours"][f"{key}_us"], sign["original"][f"{key}_us"]
        lines.append(Line(f"CPU: {label}", f"{o_us:.1f} µs", f"{g_us:.1f} µs", _ratio(o_us, g_us), "-", None))

    for key, label in (("sequential_us", "one after the other"), ("concurrent_us", f"{get_n} at once")):
        o_us, g_us = get_cpu["ours"][key], get_cpu["original"][key]
        lines.append(
            Line(
                f"CPU: async predictions.get of a finished task (2 API calls), {label}",
                f"{o_us:.0f} µs",
                f"{g_us:.0f} µs",
                _ratio(o_us, g_us),
                "-",
                None,
            )
        )

    print()
    print_table(lines, args.markdown)
    missed = [line.name for line in lines if line.met is False]
    print()
    print(
        f"{os.cpu_count()} CPUs, Python {raw['python']}{', --quick' if quick else ''}: "
        + (f"{len(missed)} target(s) missed" if missed else "every target met")
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"lines": [line.__dict__ for line in lines], "raw": raw}, indent=1))


if __name__ == "__main__":
    main()
