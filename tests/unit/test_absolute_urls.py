"""AbsoluteURLs joins a client's base URL with a relative URL exactly as httpx does."""

from __future__ import annotations

import httpx
import pytest

from speedpix._wire.guards import AbsoluteURLs

BASES = ["http://127.0.0.1:8080", "https://gw.example/prefix", "https://gw.example/prefix/", "http://[::1]:9/a/b"]
URLS = ["/scc/comfy_prompt", "scc/comfy_get_result", "/x?a=1&b=%20", "/sp%20ace/ü", "https://other.example/abs?q=1"]


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("url", URLS)
def test_joins_as_httpx_does(base: str, url: str) -> None:
    expected = httpx.Client(base_url=base).build_request("POST", url).url
    urls = AbsoluteURLs()
    base_url = httpx.Client(base_url=base).base_url
    assert urls.join(base_url, url) == expected
    assert urls.join(base_url, url) == expected  # and again, from what it kept


def test_a_replaced_base_url_is_not_joined_with_the_old_one() -> None:
    urls = AbsoluteURLs()
    first = httpx.URL("http://127.0.0.1:1/")
    second = httpx.URL("http://127.0.0.1:2/v2/")
    assert urls.join(first, "/scc/x") == httpx.URL("http://127.0.0.1:1/scc/x")
    assert urls.join(second, "/scc/x") == httpx.URL("http://127.0.0.1:2/v2/scc/x")


def test_keeps_a_bounded_number_of_urls() -> None:
    urls = AbsoluteURLs()
    base = httpx.URL("http://127.0.0.1:1/")
    for i in range(1000):
        assert urls.join(base, f"/p{i}") == httpx.URL(f"http://127.0.0.1:1/p{i}")
    assert len(urls._joined) <= AbsoluteURLs._LIMIT


def test_the_clients_use_it() -> None:
    # A SpeedPix client's httpx clients build the same URLs as a plain httpx client.
    import speedpix

    client = speedpix.Client("k", "s", endpoint="https://gw.example/prefix")
    http = client.api.get_httpx_client()
    assert http.build_request("POST", "/scc/comfy_prompt").url == httpx.URL(
        "https://gw.example/prefix/scc/comfy_prompt"
    )
    client.close()
