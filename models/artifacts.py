"""Model artifacts: a safetensors weights file plus a JSON manifest. No pickle anywhere.

A version directory holds ``model.safetensors`` (preprocessor, trunk and head tensors) and
``manifest.json`` (everything else: sha256 of the weights file, a hash of the trunk parameters
and of each head, task specs, feature schema and preprocessing vocabularies, architecture and
hyper-parameters, loss-balancing state, training window, row counts, trigger ids, metrics),
and, when given, ``feature_profile.json``: the profile of the training rows' features
(``driftline.feature-profile/1`` JSON, never pickle), its sha256 in the manifest under
``feature_profile``.
:func:`load_artifact` recomputes the sha256 and the parameter hashes and refuses a mismatch.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from models.errors import ArtifactError, ArtifactIntegrityError
from models.history import TrainResult
from models.model import MultiTaskModel
from models.registry.records import FEATURE_PROFILE_FILE

__all__ = [
    "FEATURE_PROFILE_FILE",
    "MANIFEST_FILE",
    "WEIGHTS_FILE",
    "LoadedArtifact",
    "file_sha256",
    "load_artifact",
    "parameter_hash",
    "save_artifact",
]

WEIGHTS_FILE = "model.safetensors"
MANIFEST_FILE = "manifest.json"
FORMAT = "driftline.model/1"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parameter_hash(tensors: Mapping[str, torch.Tensor]) -> str:
    """sha256 over sorted names, dtypes, shapes and bytes of tensors (independent of file layout).

    >>> parameter_hash({"w": torch.zeros(2)}) == parameter_hash({"w": torch.zeros(2)})
    True
    >>> parameter_hash({"w": torch.zeros(2)}) == parameter_hash({"w": torch.ones(2)})
    False
    >>> len(parameter_hash({"scale": torch.tensor(2.0)}))  # 0-dim buffers (regression heads)
    64
    """
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(
            tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        )
    return digest.hexdigest()


def _component_hashes(state: Mapping[str, torch.Tensor], tasks: Sequence[str]) -> dict[str, Any]:
    trunk = {k: v for k, v in state.items() if k.startswith(("preprocessor.", "trunk."))}
    heads = {
        task: parameter_hash({k: v for k, v in state.items() if k.startswith(f"heads.{task}.")})
        for task in tasks
    }
    return {"trunk_hash": parameter_hash(trunk), "head_hashes": heads}


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_artifact(
    model: MultiTaskModel,
    directory: str | Path,
    *,
    result: TrainResult | None = None,
    metrics: Mapping[str, Mapping[str, float]] | None = None,
    training_window: tuple[str, str] | None = None,
    row_counts: Mapping[str, Any] | None = None,
    request_ids: Sequence[str] = (),
    alert_ids: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
    feature_profile: bytes | None = None,
) -> dict[str, Any]:
    """Write ``model.safetensors`` and ``manifest.json`` into ``directory`` (fsynced); return the manifest.

    ``result`` (from :func:`models.train`) supplies hyper-parameters, loss-balancing state, row
    counts and the training history summary; ``metrics`` are the per-task holdout metrics.
    ``feature_profile`` (the bytes of the training rows' feature profile) is written to
    ``feature_profile.json`` and recorded in the manifest with its sha256.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _write_synced(directory / WEIGHTS_FILE, save_safetensors(state, metadata={"format": FORMAT}))
    profile = None
    if feature_profile is not None:
        _write_synced(directory / FEATURE_PROFILE_FILE, feature_profile)
        profile = {
            "file": FEATURE_PROFILE_FILE,
            "sha256": hashlib.sha256(feature_profile).hexdigest(),
            "bytes": len(feature_profile),
        }
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "weights_file": WEIGHTS_FILE,
        "sha256": file_sha256(directory / WEIGHTS_FILE),
        **_component_hashes(state, model.task_names),
        **model.config(),
        "feature_schema": model.preprocessor.schema.to_dict(),
        "hyperparameters": result.config.to_dict() if result else {},
        "loss_balancing": result.loss_balancing_state() if result else {},
        "training": (
            {
                "best_epoch": result.best_epoch,
                "epochs_run": len(result.history),
                "stopped_at": result.stopped_at,
                "device": result.device,
                "epoch_seconds": result.epoch_seconds(),
            }
            if result
            else {}
        ),
        "training_window": (
            {"start": training_window[0], "end": training_window[1]} if training_window else None
        ),
        "row_counts": dict(row_counts or (result.row_counts if result else {})),
        "trigger": {"request_ids": list(request_ids), "alert_ids": list(alert_ids)},
        "metrics": {t: dict(m) for t, m in (metrics or {}).items()},
        "torch_version": torch.__version__,
        "feature_profile": profile,
        **dict(extra or {}),
    }
    text = json.dumps(_finite(manifest), indent=2, sort_keys=True, allow_nan=False)
    _write_synced(directory / MANIFEST_FILE, text.encode())
    _sync_dir(directory)
    written: dict[str, Any] = json.loads(text)
    return written


def _finite(value: Any) -> Any:
    """NaN/inf (an undefined metric) become null: JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@dataclass(frozen=True)
class LoadedArtifact:
    """A verified model and its manifest."""

    model: MultiTaskModel
    manifest: dict[str, Any]
    path: Path


def load_artifact(
    directory: str | Path, expected_sha256: str | None = None, device: str = "cpu"
) -> LoadedArtifact:
    """Load and verify an artifact directory.

    Raises :class:`ArtifactIntegrityError` when the weights file's sha256 differs from the
    manifest's (or from ``expected_sha256``, e.g. the registry's record), or when the trunk or a
    head hashes differently from what the manifest recorded.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from models.model import build_model
    >>> from models.specs import FeatureSchema, TaskSpec
    >>> frame = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})
    >>> model = build_model([TaskSpec("y", "binary")], FeatureSchema.of(numeric=["x"]), frame)
    >>> path = Path(tempfile.mkdtemp())
    >>> manifest = save_artifact(model, path)
    >>> load_artifact(path).manifest["sha256"] == manifest["sha256"]
    True
    >>> _ = (path / WEIGHTS_FILE).write_bytes((path / WEIGHTS_FILE).read_bytes()[:-1] + b"!")
    >>> load_artifact(path)
    Traceback (most recent call last):
    ...
    models.errors.ArtifactIntegrityError: ...: sha256 ... does not match ...
    """
    directory = Path(directory)
    weights, manifest_path = directory / WEIGHTS_FILE, directory / MANIFEST_FILE
    if not weights.is_file() or not manifest_path.is_file():
        raise ArtifactError(
            f"{directory}: not a model artifact (needs {WEIGHTS_FILE} and {MANIFEST_FILE})"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactIntegrityError(
            f"{manifest_path}: manifest is not valid JSON ({exc})"
        ) from exc
    data = weights.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    for source, expected in (("manifest", manifest.get("sha256")), ("registry", expected_sha256)):
        if expected is not None and actual != expected:
            raise ArtifactIntegrityError(
                f"{weights}: sha256 {actual} does not match the {source}'s {expected}; the file was "
                "modified or truncated — restore it from a backup or register a new version"
            )
    state = load_safetensors(data)
    hashes = _component_hashes(state, [t["name"] for t in manifest["tasks"]])
    if hashes["trunk_hash"] != manifest.get("trunk_hash"):
        raise ArtifactIntegrityError(f"{directory}: trunk parameters do not match the manifest")
    for task, digest in hashes["head_hashes"].items():
        if digest != manifest.get("head_hashes", {}).get(task):
            raise ArtifactIntegrityError(f"{directory}: head {task!r} does not match the manifest")
    model = MultiTaskModel.from_config(manifest)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ArtifactIntegrityError(
            f"{directory}: weights do not fit the manifest's model: {exc}"
        ) from exc
    model.eval()
    return LoadedArtifact(model.to(device), manifest, directory)
