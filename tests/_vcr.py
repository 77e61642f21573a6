"""vcrpy configuration for the recorded-traffic tests of the generated client.

Kept out of ``conftest.py`` on purpose: import :func:`make_vcr` where it is needed.

- Cassettes live in ``tests/cassettes/``.
- ``record_mode="none"``: a request that matches no recorded interaction fails with
  ``CannotOverwriteExistingCassetteException`` instead of reaching the network.
- Requests match on method, full URI, JSON body (compared parsed, so key order and
  whitespace do not matter) and the ``X-SP-RESOURCE-CONFIG-ID`` header.
- Signature material is filtered *before* anything is written or matched, so a future
  recording (``make_vcr(record_mode="once")``) cannot leak it either: ``x-ca-signature``
  and ``x-ca-nonce`` (and any ``authorization``) never reach a cassette. ``x-ca-key`` is
  an identifier, not a secret, and is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import vcr
from vcr.request import Request as VcrRequest

CASSETTE_DIR = Path(__file__).parent / "cassettes"
BASE_URL = "https://openai.edu-aliyun.com"

# The only credentials the tests ever use. The secret must never appear in a cassette.
TEST_APP_KEY = "test-app-key"
TEST_APP_SECRET = "test-app-secret"

# Request headers that are removed before a request is recorded or matched.
FILTERED_REQUEST_HEADERS = ("x-ca-signature", "x-ca-nonce", "authorization")

RESOURCE_CONFIG_HEADER = "X-SP-RESOURCE-CONFIG-ID"

MATCH_ON = ("method", "uri", "body", "resource_config_id")


def match_resource_config_id(r1: VcrRequest, r2: VcrRequest) -> None:
    """vcrpy matcher: both requests carry the same ``X-SP-RESOURCE-CONFIG-ID`` (or neither)."""
    v1 = r1.headers.get(RESOURCE_CONFIG_HEADER)
    v2 = r2.headers.get(RESOURCE_CONFIG_HEADER)
    if v1 != v2:
        raise AssertionError(f"{RESOURCE_CONFIG_HEADER}: {v1!r} != {v2!r}")


def make_vcr(**overrides: Any) -> vcr.VCR:
    """A ``vcr.VCR`` with the project's cassette conventions; keyword arguments override."""
    options: dict[str, Any] = {
        "cassette_library_dir": str(CASSETTE_DIR),
        "serializer": "yaml",
        "record_mode": "none",
        "match_on": MATCH_ON,
        "filter_headers": FILTERED_REQUEST_HEADERS,
    }
    options.update(overrides)
    recorder = vcr.VCR(**options)
    recorder.register_matcher("resource_config_id", match_resource_config_id)
    return recorder
