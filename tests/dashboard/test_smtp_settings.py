"""The dashboard's SMTP settings (docs/semantics.md §15.5): the password is read from a file or
an environment variable before the dashboard starts, a missing one is refused naming the field,
and neither the settings' repr nor an unconfigured send shows or needs it; mailto: addresses
round-trip to their to and cc recipients."""

from __future__ import annotations

from pathlib import Path

import pytest

from ikasched_common.config import DashboardConfig
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.email_channel import mailto_address, recipients, send_email
from ikasched_dashboard.notifier import smtp_settings


def test_password_from_a_file_or_env_never_in_repr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert smtp_settings(DashboardConfig()) is None
    pw = tmp_path / "pw"
    pw.write_text("hunter2\n")
    got = smtp_settings(DashboardConfig(smtp_host="mx", smtp_password_file=str(pw)))
    assert got is not None and got.password == "hunter2" and got.effective_port == 587
    assert "hunter2" not in repr(got) and "hunter2" not in str(got)
    monkeypatch.setenv("IKA_SMTP_PW", "from-env")
    env = smtp_settings(
        DashboardConfig(smtp_host="mx", smtp_security="tls", smtp_password_env="IKA_SMTP_PW")
    )
    assert env is not None and env.password == "from-env" and env.effective_port == 465
    with pytest.raises(InvalidArgument, match="smtp_password_file"):
        smtp_settings(DashboardConfig(smtp_host="mx", smtp_password_file=str(tmp_path / "no")))
    monkeypatch.delenv("IKA_SMTP_PW")
    with pytest.raises(InvalidArgument, match="IKA_SMTP_PW"):
        smtp_settings(DashboardConfig(smtp_host="mx", smtp_password_env="IKA_SMTP_PW"))


def test_config_refuses_bad_smtp_fields() -> None:
    with pytest.raises(InvalidArgument, match="smtp_security"):
        DashboardConfig(smtp_security="ssl3").validate()
    with pytest.raises(InvalidArgument, match="smtp_port"):
        DashboardConfig(smtp_port=70000).validate()
    with pytest.raises(InvalidArgument, match="smtp_password_env"):
        DashboardConfig(smtp_password_file="f", smtp_password_env="E").validate()


def test_mailto_round_trip_and_unconfigured_send() -> None:
    address = mailto_address({"to": ["a@b.c", "d@e.f"], "cc": ["g@h.i"]})
    assert recipients(address) == (["a@b.c", "d@e.f"], ["g@h.i"])
    assert recipients(mailto_address({"to": "x@y.z"})) == (["x@y.z"], [])
    assert send_email(None, address, '{"kind": "TEST"}', "k") == (
        "no SMTP server configured (smtp_host)"
    )
