"""``python -m reconwatch.cli``: the same command as ``reconwatch``."""

from reconwatch.cli import main

main()
