"""Configuration precedence (flags > env > TOML > defaults) and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ikasched_common.config import AgentConfig, DashboardConfig, load_config
from ikasched_common.errors import InvalidArgument


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ikasched.toml"
    path.write_text(text)
    return path


def test_defaults_when_nothing_is_given(tmp_path: Path) -> None:
    config = load_config(DashboardConfig, section="dashboard", env={}, file=write(tmp_path, ""))
    assert config == DashboardConfig()
    assert config.effective_database_url == "sqlite:///ikasched-data/dashboard.sqlite"


def test_flags_beat_env_beat_file_beat_defaults(tmp_path: Path) -> None:
    file = write(
        tmp_path,
        '[dashboard]\nlisten = "127.0.0.1:7000"\nlog_level = "debug"\n'
        'journal_durability = "power"\ninsecure = true\n',
    )
    env = {"IKASCHED_LISTEN": "127.0.0.1:8000", "IKASCHED_LOG_LEVEL": "warning"}
    config = load_config(
        DashboardConfig,
        section="dashboard",
        flags={"listen": "127.0.0.1:9000", "log_level": None},
        env=env,
        file=file,
    )
    assert config.listen == "127.0.0.1:9000"  # flag
    assert config.log_level == "warning"  # env, the flag was not given
    assert config.journal_durability == "power"  # file
    assert config.insecure is True  # file
    assert config.heartbeat_interval_ms == 5_000  # default


def test_env_values_are_coerced_to_the_field_type(tmp_path: Path) -> None:
    env = {
        "IKASCHED_NAME": "a1",
        "IKASCHED_MAX_CONCURRENT_JOBS": "4",
        "IKASCHED_LABELS": "site=ldn, os=linux",
        "IKASCHED_DATA_DIR": "/var/lib/x",
    }
    config = load_config(AgentConfig, section="agent", env=env, file=write(tmp_path, ""))
    assert config.max_concurrent_jobs == 4
    assert config.labels == {"site": "ldn", "os": "linux"}
    assert config.data_dir == Path("/var/lib/x")


@pytest.mark.parametrize(
    ("env", "file_text", "expected"),
    [
        (
            {"IKASCHED_MAX_CONCURRENT_JOBS": "many"},
            "",
            "IKASCHED_MAX_CONCURRENT_JOBS: expected an integer",
        ),
        ({}, "[agent]\nmax_concurrent_jobs = -1\n", "max_concurrent_jobs: must not be negative"),
        (
            {},
            "[agent]\njournal_durability = 'disk'\n",
            "journal_durability: must be one of crash, power",
        ),
        ({}, "[agent]\ndashboard = 'nohost'\n", "dashboard: expected HOST:PORT"),
        ({}, "[agent]\nmax_jobs = 3\n", "[agent]: unknown setting(s): max_jobs"),
        ({}, "[agent\n", "not valid TOML"),
    ],
)
def test_bad_values_name_the_field_and_source(
    tmp_path: Path, env: dict[str, str], file_text: str, expected: str
) -> None:
    env = {"IKASCHED_NAME": "a1", **env}
    with pytest.raises(InvalidArgument) as info:
        load_config(AgentConfig, section="agent", env=env, file=write(tmp_path, file_text))
    assert expected in str(info.value)


def test_agent_needs_a_name(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="name"):
        load_config(AgentConfig, section="agent", env={}, file=write(tmp_path, ""))


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="config file not found"):
        load_config(DashboardConfig, section="dashboard", env={}, file=tmp_path / "nope.toml")
