"""Values sent as headers are checked before any request (issue 12, case 5).

A CR, LF, NUL or non-ASCII character in ``app_key``, ``user_agent`` or
``resource_config_id``, or a value of megabytes, used to reach httpx, which refused it
once the request was on its way: reported as a connection error after which "a task
may have been created", and retried. Now: InvalidInputError, and nothing sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import speedpix
from speedpix import ConfigurationError, InvalidInputError
from speedpix._core.validate import MAX_HEADER_VALUE, check_header_values

from ._server import HostileServer
from .conftest import FAST, MODES, call

pytestmark = pytest.mark.timeout(30)

BAD = {
    "crlf": "value\r\nX-Injected: 1",
    "lf": "value\n",
    "nul": "val\x00ue",
    "non-ascii": "clé",
    "delete": "val\x7fue",
    "huge": "x" * (MAX_HEADER_VALUE + 1),
}


@pytest.mark.parametrize("name", ["app_key", "user_agent"])
@pytest.mark.parametrize("case", list(BAD))
def test_client_settings_sent_as_headers_are_checked_at_construction(name: str, case: str) -> None:
    settings = {"app_key": "key", "app_secret": "secret", name: BAD[case]}
    with pytest.raises(ConfigurationError, match=name) as caught:
        speedpix.Client(endpoint="http://127.0.0.1:9", **settings)
    assert isinstance(caught.value, InvalidInputError)
    assert BAD[case][:100] not in str(caught.value) or case == "huge"  # the position is named, not the value


@pytest.fixture
def gateway(server: HostileServer) -> Iterator[speedpix.Client]:
    with speedpix.Client("key", "secret", endpoint=server.origin, **FAST) as c:
        yield c


@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.parametrize("method", ["run", "create"])
@pytest.mark.parametrize("mode", MODES)
def test_resource_config_id_is_checked_before_anything_is_sent(
    case: str, method: str, mode: str, gateway: speedpix.Client, server: HostileServer
) -> None:
    owner = gateway if method == "run" else gateway.predictions
    with pytest.raises(InvalidInputError, match="resource_config_id"):
        call(mode, owner, method, "wf", {"prompt": "x"}, resource_config_id=BAD[case])
    assert server.requests == []


def test_the_rule() -> None:
    check_header_values(a="printable ASCII, with\ttabs", b=None, c="x" * MAX_HEADER_VALUE)
    with pytest.raises(InvalidInputError, match=r"'\\r' at position 5"):
        check_header_values(v="value\r\n")
    with pytest.raises(InvalidInputError, match=r"U\+00E9"):
        check_header_values(v="é")
    with pytest.raises(ConfigurationError):
        check_header_values(error=ConfigurationError, v="x" * (MAX_HEADER_VALUE + 1))


@pytest.mark.parametrize("mode", MODES)
def test_good_values_still_reach_the_service(mode: str, emu: speedpix.testing.Emulator) -> None:
    with emu.client(user_agent="my-app/1.0 (tests)") as client:
        output = call(mode, client, "run", "demo-txt2img", {"prompt": "ok"}, resource_config_id="rc-1")
    assert output["images"]["url"].startswith("http://127.0.0.1")
    submitted = [r for r in emu.requests if r.path == "/scc/comfy_prompt"][-1]
    assert submitted.headers["user-agent"] == "my-app/1.0 (tests)"
    assert "rc-1" in submitted.headers.values()
