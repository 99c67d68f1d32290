"""`python -m ikasched_common.cli` (how `ikasched up` starts its dashboard and agent)."""

from ikasched_common.cli import main

raise SystemExit(main())
