"""Code both the dashboard and the agent need: journal, sequenced link, Quartz time, config, clock,
errors, TLS and tokens."""

__version__ = "0.1.0"
