"""The feature profile stored with a model version: found through its model update, verified.

The retrainer stores the profile of the rows a version was trained on next to its artifact and
announces its location and sha256 in the version's ``driftline.model-update/1``
(``feature_profile_uri``, ``feature_profile_sha256``). With ``feature_drift.reference:
champion`` (the default) stage 2 compares each window with the profile of the version in use:
:func:`stored_reference` reads it when the update arrives, checks its sha256 and parses it (JSON
only; every sketch is checked before the library reads it), and the ``version`` outcomes carry
it to each task's monitor. So the reference is a function of the update and the stored file:
a replay sends the same outcome (or, if the file changed meanwhile, one that stage 2 skips as
a repeat), and a restart gives the same alerts.

Any problem (no profile announced, file missing or unreadable, sha256 mismatch, malformed
content) gives no profile and the reason; the caller falls back to the version's first windows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import unquote, urlparse

from driftline.config.models import DriftlineConfig
from driftline.events import ModelUpdate
from streams.features.profile import MAX_PROFILE_BYTES, FeatureProfile

__all__ = ["stored_reference"]


def stored_reference(
    config: DriftlineConfig, update: ModelUpdate
) -> tuple[FeatureProfile | None, str]:
    """The profile ``update`` announces, verified, and a line saying where it came from; or
    ``None`` and the reason it cannot be used.

    The file is looked for at ``feature_profile_uri`` (a ``file:`` URI), then under
    ``registry.artifacts_dir`` at the registry's layout (``<model>/v<version>/<file name>``),
    for a monitor that mounts the artifacts elsewhere than the retrainer; the sha256 decides
    either way.

    >>> from datetime import UTC, datetime
    >>> from driftline.config import parse_config
    >>> cfg = parse_config("model: m\\ntasks: {a: {type: binary}}")
    >>> update = ModelUpdate.model_validate({"schema": ModelUpdate.SCHEMA, "update_id": "u",
    ...     "model": "m", "version": "2", "status": "promoted", "event_time": datetime.now(UTC)})
    >>> stored_reference(cfg, update)
    (None, 'm v2 announces no stored feature profile')
    """
    name = f"{update.model} v{update.version}"
    uri, expected = update.feature_profile_uri, update.feature_profile_sha256
    if uri is None or expected is None:
        return None, f"{name} announces no stored feature profile"
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None, f"{name}'s feature profile {uri} is not a file: URI"
    announced = Path(unquote(parsed.path))
    candidates = [
        announced,
        Path(config.registry.artifacts_dir) / update.model / f"v{update.version}" / announced.name,
    ]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return None, f"{name}'s feature profile is not readable at {announced} (nor under " \
            f"registry.artifacts_dir {config.registry.artifacts_dir})"  # fmt: skip
    try:
        size = path.stat().st_size
        if size > MAX_PROFILE_BYTES:
            return None, f"{name}'s feature profile {path} is {size} bytes, over the limit"
        data = path.read_bytes()
    except OSError as exc:
        return None, f"{name}'s feature profile {path} cannot be read ({exc})"
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        return None, (
            f"{name}'s feature profile {path} has sha256 {actual[:12]}…, the update announced "
            f"{expected[:12]}… (modified or truncated)"
        )
    try:
        profile = FeatureProfile.from_bytes(data)
    except ValueError as exc:
        return None, f"{name}'s feature profile {path}: {exc}"
    return profile, f"the training rows of {name} ({profile.count} rows, {path})"
