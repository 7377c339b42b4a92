"""``python -m driftline.cli`` — same as the ``driftline`` console script."""

from driftline.cli.main import main

main()
