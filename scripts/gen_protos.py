"""Regenerate the Python SDK under generated/ from protos/ (the only way generated code is made).

Run: python scripts/gen_protos.py        (CI runs it and fails if git sees a difference)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "generated"
PACKAGE = OUT / "ikasched"

INIT_TEXT = '"""Generated from protos/ by scripts/gen_protos.py; do not edit."""\n'


def main() -> int:
    from grpc_tools import protoc  # imported here: only this script needs grpcio-tools

    if PACKAGE.exists():
        shutil.rmtree(PACKAGE)
    PACKAGE.mkdir(parents=True)
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    if not sources:
        print("no .proto files under protos/", file=sys.stderr)
        return 1
    include = str(Path(protoc.__file__).resolve().parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{include}",
        f"--python_out={OUT}",
        f"--pyi_out={OUT}",
        f"--grpc_python_out={OUT}",
        *sources,
    ]
    rc = protoc.main(args)
    if rc != 0:
        print(f"protoc failed with exit code {rc}", file=sys.stderr)
        return int(rc)
    for directory in [PACKAGE, *(d for d in PACKAGE.rglob("*") if d.is_dir())]:
        (directory / "__init__.py").write_text(INIT_TEXT)
        (directory / "py.typed").write_text("")
    print(f"generated {len(sources)} proto files into {PACKAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
