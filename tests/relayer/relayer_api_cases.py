"""Client mistakes and the 4xx error each must get: (name, what to send, status, error code). Shared by
the in-process API tests and the end-to-end test, which sends them to a real relayer process."""

from __future__ import annotations

from typing import Any

CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("no key", {"auth": None, "json": {}}, 401, "missing_api_key"),
    ("malformed key", {"auth": "Bearer nope", "json": {}}, 401, "invalid_api_key"),
    ("unknown key", {"auth": "Bearer ifr_0011223344556677_secret", "json": {}}, 401, "invalid_api_key"),
    ("wrong content type", {"data": b"{}", "ctype": "text/plain"}, 415, "unsupported_media_type"),
    ("no content type", {"data": b"{}", "ctype": None}, 415, "unsupported_media_type"),
    ("malformed JSON", {"data": b'{"model": ', "ctype": "application/json"}, 400, "malformed_json"),
    ("body not UTF-8", {"data": b'{"model": "\xff"}', "ctype": "application/json"}, 400, "invalid_utf8"),
    ("JSON not an object", {"json": ["a"]}, 422, "invalid_request"),
    ("missing texts", {"json": {"model": "all-MiniLM-L6-v2"}}, 422, "invalid_request"),
    ("no texts", {"json": {"model": "all-MiniLM-L6-v2", "texts": []}}, 422, "invalid_request"),
    ("empty text", {"json": {"model": "all-MiniLM-L6-v2", "texts": ["ok", ""]}}, 422, "invalid_request"),
    ("text over 2048 bytes", {"json": {"model": "all-MiniLM-L6-v2", "texts": ["é" * 1025]}}, 422, "invalid_request"),
    ("lone surrogate (no UTF-8 exists)", {"data": b'{"model": "all-MiniLM-L6-v2", "texts": ["\\ud800"]}',
                                          "ctype": "application/json"}, 422, "invalid_request"),
    ("text not a string", {"json": {"model": "all-MiniLM-L6-v2", "texts": [5]}}, 422, "invalid_request"),
    ("too many texts", {"json": {"model": "all-MiniLM-L6-v2", "texts": ["a"] * 65}}, 422, "invalid_request"),
    ("unknown field", {"json": {"model": "all-MiniLM-L6-v2", "texts": ["a"], "fee": 1}}, 422, "invalid_request"),
    ("unknown model", {"json": {"model": "gpt-9", "texts": ["a"]}}, 422, "unknown_model"),
    ("body over the size limit", {"data": b'{"texts": ["' + b"a" * 2_000_000 + b'"]}',
                                  "ctype": "application/json"}, 413, "body_too_large"),
]


def case_headers(auth: dict[str, str], send: dict[str, Any]) -> dict[str, str]:
    """The request headers of one case: the valid key unless the case replaces or drops it."""
    headers = dict(auth)
    if "auth" in send:
        headers.pop("Authorization")
        if send["auth"] is not None:
            headers["Authorization"] = send["auth"]
    return headers
