"""``python -m ellmer_py "prompt"``: see ``ellmer_py._cli``."""

from ellmer_py._cli import main

raise SystemExit(main())
