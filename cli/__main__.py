"""`python -m auger`: the same command as the `auger` console script."""

from auger.cli import run_command

run_command()
