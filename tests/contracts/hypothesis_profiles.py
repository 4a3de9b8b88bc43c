"""Hypothesis settings profiles for the stateful contract tests, registered in this one place.

INFERA_HYPOTHESIS_PROFILE picks one: "quick" (the default, what `make test` runs) or "soak" (what
`make soak` runs: many more examples, longer sequences). The profiles are looked up by name and
passed to the test explicitly, never loaded as Hypothesis's global default, so the other
property tests in the same session keep their own settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE_ENV = "INFERA_HYPOTHESIS_PROFILE"
DEFAULT_PROFILE = "quick"

# Every example drives a real chain: no per-example deadline, no example database (the chain's
# draws and wall-clock deadlines make replays differ), and the test runs inside one pytest
# function that uses session fixtures.
_COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}

settings.register_profile("quick", max_examples=25, stateful_step_count=40, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("soak", max_examples=200, stateful_step_count=50, **_COMMON)  # type: ignore[arg-type]


def profile_name() -> str:
    """The profile chosen by INFERA_HYPOTHESIS_PROFILE (default "quick")."""
    return os.environ.get(PROFILE_ENV, DEFAULT_PROFILE)


def stateful_settings() -> settings:
    """The chosen profile's settings; an unknown name fails loudly (InvalidArgument)."""
    return settings.get_profile(profile_name())
