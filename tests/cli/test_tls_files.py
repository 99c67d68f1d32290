"""TLS files that cannot serve are refused in one line naming the files, before anything
starts: a key that is not its certificate's, a certificate file that holds a key, a file that
cannot be read; for `ikasched dashboard` (--tls-cert-file/--tls-key-file) and for the CLI's own
--tls-cert/--tls-key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ikasched_common.tls import Pki, generate_pki

from .conftest import assert_one_line_error, clean_env, run


@pytest.fixture(scope="module")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pki, Pki]:
    root = tmp_path_factory.mktemp("pki")
    return generate_pki(root / "one"), generate_pki(root / "two")


def _dashboard(tmp_path: Path, cert: Path, key: Path) -> list[str]:
    return [
        "dashboard",
        "--data-dir",
        str(tmp_path / "data"),
        "--listen",
        "127.0.0.1:0",
        "--tls-cert-file",
        str(cert),
        "--tls-key-file",
        str(key),
    ]


def test_dashboard_refuses_a_key_that_is_not_its_certificates(
    tmp_path: Path, pkis: tuple[Pki, Pki]
) -> None:
    one, two = pkis
    result = run(
        _dashboard(tmp_path, one.server_cert, two.server_key), cwd=tmp_path, env=clean_env()
    )
    assert_one_line_error(result, rc=1, contains="tls_key_file")
    assert str(two.server_key) in result.err and str(one.server_cert) in result.err
    assert "not the private key of the certificate" in result.err
    assert not (tmp_path / "data").exists()  # refused before anything was created


def test_dashboard_refuses_a_certificate_file_that_holds_no_certificate(
    tmp_path: Path, pkis: tuple[Pki, Pki]
) -> None:
    one, _ = pkis
    result = run(
        _dashboard(tmp_path, one.server_key, one.server_key), cwd=tmp_path, env=clean_env()
    )
    assert_one_line_error(result, rc=1, contains=f"tls_cert_file: {one.server_key} holds no PEM")


def test_cli_refuses_its_own_mismatched_client_key(tmp_path: Path, pkis: tuple[Pki, Pki]) -> None:
    one, two = pkis
    base = ["--dashboard", "127.0.0.1:1", "--tls-ca", str(one.ca_cert)]
    mismatched = [*base, "--tls-cert", str(one.client_cert), "--tls-key", str(two.client_key)]
    result = run([*mismatched, "plan", "list"], cwd=tmp_path, env=clean_env())
    assert_one_line_error(result, rc=2, contains="--tls-key")
    assert str(two.client_key) in result.err and str(one.client_cert) in result.err
    missing = [*base, "--tls-cert", str(one.client_cert), "--tls-key", str(tmp_path / "nope.pem")]
    result = run([*missing, "plan", "list"], cwd=tmp_path, env=clean_env())
    assert_one_line_error(result, rc=2, contains="cannot read")
