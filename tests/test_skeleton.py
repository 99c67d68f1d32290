"""The installed package layout: SDK modules import, the console script answers."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PROTOS = sorted(Path(__file__).resolve().parent.parent.joinpath("protos").rglob("*.proto"))


@pytest.mark.parametrize("proto", PROTOS, ids=lambda p: p.name)
def test_every_proto_module_imports_from_the_installed_sdk(proto: Path) -> None:
    module = importlib.import_module(f"ikasched.v1.{proto.stem}_pb2")
    assert module.DESCRIPTOR.package == "ikasched.v1"
    importlib.import_module(f"ikasched.v1.{proto.stem}_pb2_grpc")


def test_console_script_version_and_help() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "ikasched_cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.startswith("ikasched ")
    helptext = subprocess.run(
        [sys.executable, "-m", "ikasched_cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "usage: ikasched" in helptext.stdout
