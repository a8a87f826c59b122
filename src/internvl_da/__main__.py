"""`python -m internvl_da` is the same as the `internvl-da` command."""

from internvl_da.cli import main

raise SystemExit(main())
