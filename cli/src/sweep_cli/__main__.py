"""`python -m sweep_cli` is the `sweep` command."""

from sweep_cli.main import main

main()
