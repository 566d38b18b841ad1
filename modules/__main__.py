"""`python -m llmc`: the same as the `llmc` command."""
from .CommandLine import run

run()
