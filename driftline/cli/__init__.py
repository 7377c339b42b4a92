"""The ``driftline`` command line. Subcommands live in their subsystems and load lazily."""
