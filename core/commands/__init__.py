"""Command-line subcommands. Each module exposes ``configure(parser)`` and ``run(args) -> int``."""
