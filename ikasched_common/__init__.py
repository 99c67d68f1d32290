"""Code both the dashboard and the agent need: journal, sequenced link, Quartz time, config, CLI."""

__version__ = "0.1.0"
