"""``python -m sweeper``: the command line, for environments without the ``sweeper`` script on PATH."""

from sweeper.cli import main

main()
