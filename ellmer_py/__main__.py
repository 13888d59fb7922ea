"""``python -m ellmer_py "prompt"``, or the chat console with no prompt: see ``ellmer_py._cli``."""

from ellmer_py._cli import main

raise SystemExit(main())
