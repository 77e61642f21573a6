"""The shape of the package: public names pinned, no import cycle, only public parts of
the HTTP libraries. (The layers themselves are import-linter's contract in pyproject.toml.)"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "speedpix"

# What each public module exports. A change here is a change of the public API: review it.
PUBLIC = {
    "speedpix.client": ["DEFAULT_ENDPOINT", "Client"],
    "speedpix.predictions": ["Prediction", "Predictions", "ProgressCallback"],
    "speedpix.files": ["File", "Files", "UploadRecord"],
    "speedpix.output": ["FileNode", "FileOutput"],
    "speedpix.progress": ["ProgressDisplay"],
    "speedpix.errors": [
        "APIConnectionError",
        "APIError",
        "APITimeoutError",
        "AuthenticationError",
        "ClockSkewError",
        "ConfigurationError",
        "ContentModerationError",
        "FileTransferError",
        "InvalidInputError",
        "MalformedResponseError",
        "PredictionError",
        "PredictionTimeoutError",
        "RateLimitError",
        "ServerError",
        "ServiceError",
        "SignatureError",
        "SpeedPixError",
        "SpeedPixException",
    ],
}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_modules_export_only_their_public_names(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(PUBLIC[name])
    # Classes and functions defined in the module are its API: each is exported, or private.
    defined = {
        key
        for key, value in vars(module).items()
        if not key.startswith("_") and getattr(value, "__module__", None) == name
    }
    assert defined <= set(module.__all__), f"{name} defines public names outside __all__: {sorted(defined)}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package modules ``path`` imports when run, inside functions included (not
    under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text())
    type_only = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for node in ast.walk(branch)
    }
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def test_no_import_cycle_counting_imports_inside_functions() -> None:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    # The package's own __init__ imports its public modules lazily, for users: not a layer.
    graph = {name: _imports(path, modules) - {"speedpix"} for name, path in paths.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


# Private parts of the HTTP libraries: reaching into them pins their versions.
_PRIVATE_REACH = re.compile(
    r"(httpx|httpcore|aiohttp|httpx_aiohttp)\._\w|\._(network_backend|factory|retry_connection|transport_for_url)\b|_pool\._"
    r"|_init_(proxy_)?transport|client_proto|BaseClient"
)


def test_only_public_parts_of_the_http_libraries() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in PACKAGE.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if _PRIVATE_REACH.search(line)
    ]
    assert not found, "\n".join(found)
