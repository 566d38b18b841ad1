"""llmc: a terminal chat client for OpenAI-compatible providers."""
__version__ = "0.1.0"
