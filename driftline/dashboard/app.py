"""The dashboard's web app (FastAPI): one page, its assets and the JSON it draws from.

Everything is served from here, plotly.js included (the copy the ``plotly`` package ships):
the page works offline and asks no other host for anything.

Routes: ``/`` (the page), ``/static/*``, ``/api/overview``, ``/api/tasks/{task}``,
``/api/retrains``, ``/api/dead-letters``, ``/api/lag``, ``/api/alerts``,
``/registry/{model}/{version}`` (a registry entry, HTML) and ``/api/registry/{model}/{version}``,
``/healthz``.
"""

from __future__ import annotations

import html
import importlib.util
import json
import math
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse

from driftline.dashboard.figures import (
    dead_letters_figure,
    lag_figure,
    slice_comparison_figure,
    slices_figure,
    task_figure,
)
from driftline.dashboard.history import RunHistory
from driftline.dashboard.registry_view import RegistryView
from driftline.dashboard.retrains import retrain_rows

__all__ = ["STATIC", "create_app", "finite", "plotly_js"]

STATIC = Path(__file__).resolve().parent / "static"
_ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


def plotly_js() -> Path:
    """The ``plotly.min.js`` the ``plotly`` package ships (found without importing plotly)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed (pip install plotly)")
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: reinstall the plotly package")
    return path


def create_app(history: RunHistory, registry: RegistryView | None = None) -> Any:
    """The FastAPI app over ``history`` (and the registry, for version links).

    Examples
    --------
    >>> from driftline.config import parse_config
    >>> app = create_app(RunHistory(parse_config("model: m\\ntasks: {a: {type: binary}}\\n")))
    >>> sorted(r.path for r in app.routes if r.path.startswith("/api/"))[:3]
    ['/api/alerts', '/api/dead-letters', '/api/lag']
    """
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import FileResponse, HTMLResponse, Response

    config = history.config
    model = config.model
    app = FastAPI(title=f"driftline dashboard: {model}", docs_url=None, redoc_url=None)
    page = (STATIC / "index.html").read_text().replace("{{model}}", html.escape(model))
    plotly_path = plotly_js()

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/static/plotly.min.js")
    def plotly() -> FileResponse:
        return FileResponse(plotly_path, media_type="text/javascript")

    @app.get("/static/{name}")
    def asset(name: str) -> Response:
        if name not in _ASSETS:
            raise HTTPException(404, f"no asset {name!r}")
        return Response((STATIC / name).read_bytes(), media_type=_ASSETS[name])

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "model": model}

    @app.get("/api/overview")
    def overview() -> dict[str, Any]:
        tasks = []
        updates = history.updates(model)
        for task in history.tasks(model):
            points = history.series(model, task)
            alerts = history.alerts(model, task)
            last = points[-1] if points else None
            version = last.version if last else None
            since = [a for a in alerts if version is None or a.model_version == version]
            task_config = config.tasks.get(task)
            tasks.append(
                {
                    "task": task,
                    "type": task_config.type if task_config else None,
                    "metric": task_config.primary_metric if task_config else None,
                    "version": version,
                    "value": last.primary if last else None,
                    "coverage": last.coverage if last else None,
                    "labels": last.labels if last else 0,
                    "snapshots": len(points),
                    "alerts": len(alerts),
                    "alerts_this_version": len(since),
                    "status": "drift" if since else ("ok" if last else "waiting"),
                    "last_alert": _alert_json(alerts[-1]) if alerts else None,
                }
            )
        counts, _ = history.dead_letters()
        promoted = [u for u in updates if u.status == "promoted"]
        return {
            "model": model,
            "tasks": tasks,
            "champion": promoted[-1].version if promoted else None,
            "alerts": len(history.alerts(model)),
            "retrain_requests": len(history.requests(model)),
            "model_updates": len(updates),
            "dead_letters": sum(counts.values()),
            "unreadable": history.unreadable,
        }

    @app.get("/api/tasks/{task}")
    def task_view(task: str) -> JSONResponse:
        if task not in history.tasks(model):
            raise HTTPException(404, f"no task {task!r}; tasks: {history.tasks(model)}")
        return _json(
            {
                "task": task,
                "figure": task_figure(history, model, task),
                "slices": slices_figure(history, model, task),
                "slice_comparison": slice_comparison_figure(history, model, task),
                "alerts": [_alert_json(a) for a in reversed(history.alerts(model, task))][:50],
            }
        )

    @app.get("/api/alerts")
    def alerts() -> list[dict[str, Any]]:
        return [_alert_json(a) for a in reversed(history.alerts(model))]

    @app.get("/api/retrains")
    def retrains() -> list[dict[str, Any]]:
        return retrain_rows(history, model, registry)

    @app.get("/api/dead-letters")
    def dead_letters() -> JSONResponse:
        counts, recent = history.dead_letters()
        rows = [
            {"topic": topic, "stage": stage, "reason": kind, "count": count}
            for (topic, stage, kind), count in sorted(counts.items(), key=lambda kv: -kv[1])
        ]
        latest = [
            {
                "topic": letter.source.topic,
                "partition": letter.source.partition,
                "offset": letter.source.offset,
                "stage": letter.stage,
                "reason": letter.reason,
                "received_at": letter.received_at.isoformat(),
            }
            for letter in recent[:20]
        ]
        return _json({"by_reason": rows, "recent": latest, "figure": dead_letters_figure(counts)})

    @app.get("/api/lag")
    def lag() -> JSONResponse:
        rows, error = history.lag_rows()
        return _json({"rows": rows, "error": error, "figure": lag_figure(rows)})

    @app.get("/api/registry/{name}/{version}")
    def registry_entry(name: str, version: str) -> dict[str, Any]:
        entry = registry.entry(name, version) if registry is not None else None
        if entry is None:
            reason = registry.error if registry is not None else "no registry configured"
            raise HTTPException(404, f"{name} v{version} is not in the registry ({reason})")
        return entry

    @app.get("/registry/{name}/{version}", response_class=HTMLResponse)
    def registry_page(name: str, version: str) -> str:
        entry = registry.entry(name, version) if registry is not None else None
        if entry is None:
            reason = registry.error if registry is not None else "no registry configured"
            body = f"<p>{html.escape(name)} v{html.escape(version)} is not in the registry ({html.escape(str(reason))}).</p>"  # fmt: skip
        else:
            body = f"<pre>{html.escape(json.dumps(entry, indent=2, default=str))}</pre>"
        return (
            '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
            f'<link rel="stylesheet" href="/static/dashboard.css"><title>{html.escape(name)} '
            f"v{html.escape(version)}</title></head><body><main><p><a href='/'>← dashboard</a></p>"
            f"<h1>{html.escape(name)} v{html.escape(version)}</h1>{body}</main></body></html>"
        )

    return app


def _alert_json(alert: Any) -> dict[str, Any]:
    data: dict[str, Any] = alert.model_dump(mode="json", by_alias=True)
    return data


def _json(data: Any) -> JSONResponse:
    return JSONResponse(finite(data))


def finite(data: Any) -> Any:
    """``data`` with NaN and infinities (a metric before any label) as ``None``: JSON has none.

    >>> finite({"a": [1.0, float("nan")], "b": float("inf")})
    {'a': [1.0, None], 'b': None}
    """
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data
