"""The optional extras of the ``driftline`` distribution, and the error a missing one gives.

``pip install driftline`` is the light SDK (:class:`driftline.Client` and the commands that only
talk to Kafka); ``driftline[monitor]`` adds the streaming monitor and the dashboard,
``driftline[retrain]`` the retrainer, the model registry and the feature store, ``driftline[all]``
both. :data:`EXTRAS` lists the top-level modules each extra brings (its own requirements and the
ones they pull in that driftline imports); ``tests/unit/test_extras.py`` checks it against
``pyproject.toml``.

>>> extra_of("torch.nn")
'retrain'
>>> extra_of("faust"), extra_of("json")
('monitor', None)
>>> str(MissingExtraError("monitor", "faust", "driftline monitor"))
"driftline monitor needs the 'monitor' extra (faust is not installed): pip install 'driftline[monitor]'"
"""

from __future__ import annotations

import importlib.util
import sys

from driftline.errors import MissingExtraError

__all__ = ["EXTRAS", "MissingExtraError", "extra_of", "missing_extra", "missing_module"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "monitor": (
        "faust",
        "mode",  # faust-streaming's service framework
        "aiokafka",
        "cramjam",
        "rocksdict",
        "river",
        "scipy",
        "datasketches",
        "fastapi",
        "starlette",  # fastapi's
        "uvicorn",
        "plotly",
    ),
    "retrain": (
        "torch",
        "safetensors",
        "feast",
        "pyarrow",  # feast's
        "duckdb",  # feast[duckdb]
        "redis",  # feast[redis]
        "sqlalchemy",
        "alembic",
        "psycopg",
        "numpy",
        "pandas",
    ),
}
"""Each extra → the top-level modules it installs that driftline's code imports (the one an error
names first when several are missing)."""

ALL = "all"
"""The extra that installs every other one."""


def extra_of(module: str) -> str | None:
    """The extra that installs ``module`` (a dotted name: its top level decides), else ``None``."""
    top = module.partition(".")[0]
    return next((extra for extra, names in EXTRAS.items() if top in names), None)


def missing_module(extra: str) -> str | None:
    """The first module of ``extra`` (``"all"``: of every extra) that is not installed, else ``None``.

    Found without importing anything (:func:`importlib.util.find_spec` of top-level names).
    """
    extras = sorted(EXTRAS) if extra == ALL else [extra]
    for name in extras:
        for module in EXTRAS[name]:
            if not _installed(module):
                return module
    return None


def _installed(module: str) -> bool:
    if sys.modules.get(module) is not None:  # imported (faust's lazy module has no __spec__)
        return True
    return importlib.util.find_spec(module) is not None  # None for sys.modules[module] = None


def missing_extra(
    error: ImportError, feature: str, extra: str | None = None
) -> MissingExtraError | None:
    """A :class:`MissingExtraError` for ``error`` when the module it misses comes with an extra.

    ``feature`` names what needed it (``"driftline monitor"``); ``extra`` is the extra to name when
    the feature has one that covers the module (``"all"`` covers every module), else the module's
    own extra is named. ``None`` when the missing module is nobody's extra (a bug: let it show).

    >>> missing_extra(ModuleNotFoundError("No module named 'torch'", name="torch"), "driftline demo", "all").extra
    'all'
    >>> missing_extra(ModuleNotFoundError("No module named 'feast'", name="feast"), "driftline monitor", "monitor").extra
    'retrain'
    >>> missing_extra(ModuleNotFoundError("No module named 'nope'", name="nope"), "driftline x") is None
    True
    """
    if not isinstance(error, ModuleNotFoundError) or not error.name:
        return None
    own = extra_of(error.name)
    if own is None:
        return None
    name = extra if extra in (ALL, own) else own
    return MissingExtraError(name, error.name.partition(".")[0], feature)
