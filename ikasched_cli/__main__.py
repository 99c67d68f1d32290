"""`python -m ikasched_cli` (how `ikasched up` starts its dashboard and agent)."""

from ikasched_cli import main

raise SystemExit(main())
