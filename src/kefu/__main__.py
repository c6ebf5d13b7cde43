"""`python -m kefu` runs the CLI."""

from kefu.cli import main

main()
