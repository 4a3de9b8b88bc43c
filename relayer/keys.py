"""API keys and per-key rate limits.

A key reads `ifr_<key id>_<secret>`. Only the sha256 of the secret is stored: the secret is 32
random bytes, so a fast hash is enough (a slow password hash guards guessable secrets, and these
are not guessable), and checking it costs nothing per request. The key id is public, so logs and
the database name a key without holding anything that authenticates.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

PREFIX = "ifr"


class MalformedKey(ValueError):
    """The text is not shaped like one of our API keys."""


@dataclass(frozen=True)
class NewKey:
    key_id: str
    secret_hash: str
    plaintext: str  # shown to the operator once, never stored


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key() -> NewKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, hash_secret(secret), f"{PREFIX}_{key_id}_{secret}")


def parse_key(text: str) -> tuple[str, str]:
    """(key id, secret) of a presented key, or MalformedKey."""
    parts = text.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        raise MalformedKey("an API key reads ifr_<id>_<secret>")
    return parts[1], parts[2]


def secret_matches(secret: str, stored_hash: str) -> bool:
    # Constant time, so response timing tells nothing about how much of a guess was right.
    return hmac.compare_digest(hash_secret(secret), stored_hash)


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """A token bucket per key: `rate_per_minute` requests a minute, bursts up to the same number.
    Kept in memory: several instances each allow the rate (an operator divides it among them);
    the quota, which must hold across instances, lives in the database."""

    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, key_id: str, rate_per_minute: int) -> float:
        """0 when the request may go ahead (a token is spent), else seconds until it may."""
        now = self.clock()
        capacity = float(rate_per_minute)
        per_second = rate_per_minute / 60.0
        bucket = self._buckets.setdefault(key_id, _Bucket(capacity, now))
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) * per_second)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / per_second
