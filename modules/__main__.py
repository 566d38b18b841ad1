"""`python -m llmc`: the same as the `llmc` command."""
from .cli.CommandLine import run

run()
