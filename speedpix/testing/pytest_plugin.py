"""pytest fixtures for testing code that uses SpeedPix, against a local emulator.

Installed with the ``testing`` extra (``pip install '.[testing]'``), this plugin is registered
automatically (entry point ``pytest11``); nothing to add to ``conftest.py``.

``speedpix_emulator``
    A fresh :class:`speedpix.testing.Emulator` for each test::

        def test_generates_an_image(speedpix_emulator):
            client = speedpix_emulator.client()
            output = client.run("demo-txt2img", {"prompt": "a cat"})
            assert output["images"]["url"].read().startswith(b"\\x89PNG")

    Pass constructor arguments with a marker:
    ``@pytest.mark.speedpix_emulator(app_key="k", app_secret="s")``.

``speedpix_emulator_session``
    One emulator shared by the whole session (faster when many tests need one). It is
    reset before each test that uses it (stats, requests, tasks, faults, nonces,
    clock offset); workflows registered on it stay registered.

To point code that reads the environment at the emulator, use ``monkeypatch``::

    monkeypatch.setenv("SPEEDPIX_ENDPOINT", speedpix_emulator.endpoint)
    monkeypatch.setenv("SPEEDPIX_APP_KEY", speedpix_emulator.app_key)
    monkeypatch.setenv("SPEEDPIX_APP_SECRET", speedpix_emulator.app_secret)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from speedpix.testing import Emulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "speedpix_emulator(**kwargs): arguments for the speedpix_emulator fixture's Emulator",
    )


@pytest.fixture
def speedpix_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A running SpeedPix emulator, fresh for this test."""
    from speedpix.testing import Emulator  # imported late: collection stays cheap

    marker = request.node.get_closest_marker("speedpix_emulator")
    kwargs = dict(marker.kwargs) if marker is not None else {}
    with Emulator(**kwargs) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def _speedpix_shared_emulator() -> Iterator[Emulator]:
    from speedpix.testing import Emulator

    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def speedpix_emulator_session(_speedpix_shared_emulator: Emulator) -> Emulator:
    """The session's shared SpeedPix emulator, reset for this test."""
    _speedpix_shared_emulator.reset()
    return _speedpix_shared_emulator
