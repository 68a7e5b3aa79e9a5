"""``python -m flowyard``: the same as the ``flowyard`` command."""

from flowyard.cli import main

main()
