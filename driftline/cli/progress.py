"""The progress bar every long CLI command shows (produce, simulate, bench): rich, on stderr.

On a terminal it redraws in place and disappears when done; when stderr is not a terminal (a
pipe, a log file, CI) rich prints nothing for it, so captured output holds no control codes.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["progress_bar"]


def progress_bar(transient: bool = True) -> Progress:
    """A rich ``Progress`` on stderr: spinner, description, bar, done/total, elapsed time.

    >>> with progress_bar() as bar:
    ...     task = bar.add_task("sending", total=3)
    ...     bar.advance(task, 3)
    ...     bar.tasks[0].finished
    True
    """
    console = Console(stderr=True)
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
        disable=not console.is_terminal,
    )
