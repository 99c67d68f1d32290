"""Every RPC of the generated SDK has a CLI command: the table in ikasched_cli/rpc_commands.py
names one for each method of each service descriptor, and that command exists in the parser."""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import ikasched.v1
from ikasched_cli.main import build_parser
from ikasched_cli.rpc_commands import RPC_COMMANDS


def _sdk_rpcs() -> set[str]:
    found: set[str] = set()
    for info in pkgutil.iter_modules(ikasched.v1.__path__):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"ikasched.v1.{info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                found.add(f"{service.full_name}/{method.name}")
    return found


def _commands(parser: argparse.ArgumentParser, path: str = "") -> set[str]:
    out: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                full = f"{path} {name}".strip()
                out.add(full)
                out |= _commands(child, full)
    return out


def test_every_rpc_has_a_cli_command() -> None:
    rpcs = _sdk_rpcs()
    assert len(rpcs) > 40  # the walk found the services
    missing = sorted(rpcs - set(RPC_COMMANDS))
    assert not missing, f"RPCs without a CLI command: {missing}"
    stale = sorted(set(RPC_COMMANDS) - rpcs)
    assert not stale, f"table names RPCs the SDK does not have: {stale}"
    commands = _commands(build_parser())
    absent = sorted({c for c in RPC_COMMANDS.values() if c not in commands})
    assert not absent, f"commands the parser does not have: {absent}"
