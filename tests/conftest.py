"""Suite-wide settings. Property tests run on a shared 2-core box next to subprocess-heavy
tests: timing-based Hypothesis checks (deadlines, "generation too slow") would fail on load,
not on behaviour, so they are off everywhere; each test still sets its own example counts."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ikasched",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile("ikasched")
