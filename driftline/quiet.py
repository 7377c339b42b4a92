"""Third-party warnings that say nothing to a driftline user, filtered where they arise.

Each entry names the library module that warns and why the warning is not ours to act on; a
warning from driftline's own code is never filtered here (fix the code instead). The ``driftline``
command installs these at start (its monitor and retrainer processes too); pytest installs the
same list, and only it, from ``filterwarnings`` in ``pyproject.toml`` (``tests/unit/test_quiet.py``
checks that the two are equal and that a warning from anywhere else is shown).

>>> import warnings
>>> with warnings.catch_warnings(record=True) as seen:
...     warnings.simplefilter("always")
...     quiet_third_party()
...     warnings.warn_explicit("fetch_arrow_table() is deprecated", DeprecationWarning,
...                            "x.py", 1, module="ibis.backends.duckdb")
>>> seen
[]
"""

from __future__ import annotations

import warnings

__all__ = ["THIRD_PARTY_WARNINGS", "quiet_third_party"]

#: (module regex, category, message regex) triples. ``warnings`` matches a module regex at the
#: start of the module's name only, so each ends in ``\Z``: ``mode`` must not take ``models``.
THIRD_PARTY_WARNINGS: list[tuple[str, type[Warning], str]] = [
    # ibis 12 calls duckdb 2's deprecated fetch_arrow_table() inside Feast's offline reads.
    (r"ibis(\..*)?\Z", DeprecationWarning, ""),
    # Feast and its dependencies announce their own upcoming API changes.
    (r"feast(\..*)?\Z", DeprecationWarning, ""),
    (r"feast(\..*)?\Z", FutureWarning, ""),
    # faust / mode / aiokafka use asyncio APIs deprecated since Python 3.10.
    (r"(faust|mode|aiokafka)(\..*)?\Z", DeprecationWarning, ""),
]


def quiet_third_party() -> None:
    """Install the filters of :data:`THIRD_PARTY_WARNINGS` (idempotent)."""
    for module, category, message in THIRD_PARTY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
