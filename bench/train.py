"""``driftline bench train``: multi-task training quality and speed.

1. **MMoE synthetic experiment** (Ma et al., KDD 2018, section 4): two regression tasks whose
   label functions have correlation ``rho`` (``w1 = u1``, ``w2 = rho u1 + sqrt(1 - rho^2) u2``,
   ``y_i = w_i·x + sum_j sin(a_j w_i·x + b_j) + noise``, ``m = 10``, ``a_j, b_j ~ N(0, 0.1²)`` as in
   the paper, 100 features). Shared-bottom (one hidden layer of 64) and MMoE (4 experts of 16) with
   about the
   same number of parameters are trained on the same data for several seeds; the test MSE
   (mean of both tasks) is reported per ``rho``. Expected: MMoE's loss grows less than
   shared-bottom's as ``rho`` falls.
2. **Yeast** (``river.datasets.Yeast``: 2 417 rows, 103 features, 14 labels, shipped in the river
   wheel): one multi-task model vs 14 single-task MLPs on the same seeded 60/20/20 split; per-task
   test metrics, Δp (LibMTL) and CPU seconds per epoch.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

__all__ = ["main", "run_synthetic", "run_yeast"]

RHOS = (1.0, 0.9, 0.5)


def _synthetic_frame(
    rho: float, n: int, seed: int, dim: int = 100, m: int = 10, alpha_std: float = 1.0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(dim, 2)))
    u1, u2 = basis[:, 0], basis[:, 1]
    w1, w2 = u1, rho * u1 + np.sqrt(1 - rho**2) * u2
    alpha, beta = rng.normal(0.0, alpha_std, size=m), rng.normal(0.0, alpha_std, size=m)
    x = rng.normal(size=(n, dim))
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(dim)])
    for name, w in (("y1", w1), ("y2", w2)):
        z = x @ w
        frame[name] = z + np.sin(np.outer(z, alpha) + beta).sum(axis=1) + 0.01 * rng.normal(size=n)
    return frame


def run_synthetic(seeds: int, rows: int, epochs: int) -> dict[str, Any]:
    """Test MSE of MMoE and shared-bottom per rho, averaged over ``seeds``."""
    from models import FeatureSchema, TaskSpec, TrainConfig, train

    tasks = [TaskSpec("y1", "regression"), TaskSpec("y2", "regression")]
    setups = {
        "shared_bottom": {"hidden": (64,)},
        "mmoe": {"n_experts": 4, "expert_hidden": (16,)},
    }
    table: dict[str, Any] = {}
    runs: dict[str, Any] = {}
    for rho in RHOS:
        per_arch: dict[str, list[float]] = {name: [] for name in setups}
        for seed in range(seeds):
            frame = _synthetic_frame(rho, rows + 2000, seed, alpha_std=0.1)
            train_part, test_part = frame.iloc[:rows], frame.iloc[rows:]
            schema = FeatureSchema.of(numeric=[c for c in frame.columns if c.startswith("f")])
            for name, params in setups.items():
                config = TrainConfig(
                    architecture=name,
                    architecture_params=params,
                    tower=(8,),
                    epochs=epochs,
                    batch_size=256,
                    learning_rate=3e-3,
                    seed=seed,
                    device="cpu",
                    loss_balancing="equal",
                    patience=5,
                )
                model = train(train_part, tasks, schema, config).model
                predicted = model.predict(test_part)
                mse = np.mean(
                    [np.mean((predicted[t] - test_part[t].to_numpy()) ** 2) for t in ("y1", "y2")]
                )
                per_arch[name].append(float(mse))
        table[str(rho)] = {name: float(np.mean(v)) for name, v in per_arch.items()}
        runs[str(rho)] = per_arch
    return {"table": table, "runs": runs}


def _yeast_frame() -> tuple[pd.DataFrame, list[str], list[str]]:
    from river import datasets

    rows = [{**x, **{k: float(v) for k, v in y.items()}} for x, y in datasets.Yeast()]
    frame = pd.DataFrame(rows)
    labels = [c for c in frame.columns if c.startswith("Class")]
    features = [c for c in frame.columns if c not in labels]
    return frame, features, labels


def run_yeast(architecture: str, epochs: int, seed: int) -> dict[str, Any]:
    """MTL vs 14 single-task baselines on Yeast; per-task test metrics, Δp, seconds per epoch."""
    from models import (
        FeatureSchema,
        TaskSpec,
        TrainConfig,
        delta_p,
        evaluate,
        train,
        train_baselines,
    )
    from models.comparison import delta_percent
    from models.data import split_frame

    frame, features, labels = _yeast_frame()
    rest, test = split_frame(frame, 0.2, seed)
    train_part, val = split_frame(rest, 0.25, seed + 1)
    tasks = [TaskSpec(name, "binary") for name in labels]
    schema = FeatureSchema.of(numeric=features)
    config = TrainConfig(
        architecture=architecture,
        epochs=epochs,
        batch_size=128,
        learning_rate=1e-3,
        seed=seed,
        device="cpu",
        loss_balancing="equal",
        patience=8,
        architecture_params={"n_experts": 6, "expert_hidden": (64,)}
        if architecture == "mmoe"
        else {},
    )
    cpu, wall = time.process_time(), time.perf_counter()
    result = train(train_part, tasks, schema, config, validation_frame=val)
    mtl_cpu, mtl_wall = time.process_time() - cpu, time.perf_counter() - wall
    mtl = evaluate(result.model, test)
    cpu = time.process_time()
    baselines = train_baselines(train_part, tasks, schema, config, validation_frame=val)
    baseline_cpu = time.process_time() - cpu
    base = {name: evaluate(r.model, test)[name] for name, r in baselines.items()}
    base_epochs = sum(len(r.history) for r in baselines.values())
    keep = ("accuracy", "f1", "roc_auc", "log_loss")
    return {
        "architecture": architecture,
        "rows": {"train": len(train_part), "validation": len(val), "test": len(test)},
        "features": len(features),
        "delta_p": delta_p(mtl, base, tasks),
        "delta_p_roc_auc": delta_p(mtl, base, tasks, metrics="primary"),
        "delta_percent_roc_auc": {
            t: v.get("roc_auc") for t, v in delta_percent(mtl, base, tasks, "primary").items()
        },
        "epoch_s": mtl_cpu / len(result.history),
        "epoch_wall_s": mtl_wall / len(result.history),
        "epochs_run": len(result.history),
        "baseline_epoch_s": baseline_cpu / max(1, base_epochs),
        "baselines_total_cpu_s": baseline_cpu,
        "mtl_total_cpu_s": mtl_cpu,
        "mean": {
            "mtl": {k: float(np.mean([mtl[t][k] for t in labels])) for k in keep},
            "baseline": {k: float(np.mean([base[t][k] for t in labels])) for k in keep},
        },
        "tasks": {
            t: {"mtl": {k: mtl[t][k] for k in keep}, "baseline": {k: base[t][k] for k in keep}}
            for t in labels
        },
    }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON here."
)
@click.option("--seeds", default=3, show_default=True, help="Seeds of the synthetic experiment.")
@click.option(
    "--rows", default=6000, show_default=True, help="Training rows of the synthetic experiment."
)
@click.option(
    "--epochs", default=40, show_default=True, help="Maximum epochs (early stopping applies)."
)
@click.option(
    "--architecture",
    type=click.Choice(["shared_bottom", "mmoe", "ple"]),
    default="mmoe",
    show_default=True,
    help="Multi-task architecture for Yeast.",
)
def main(
    as_json: bool, out: Path | None, seeds: int, rows: int, epochs: int, architecture: str
) -> None:
    """Yeast MTL vs single-task baselines (Δp, s/epoch) and the MMoE synthetic ρ experiment."""
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    yeast = run_yeast(architecture, epochs, seed=0)
    synthetic = run_synthetic(seeds, rows, epochs)
    result = {
        "yeast": yeast,
        "synthetic": synthetic["table"],
        "synthetic_runs": synthetic["runs"],
        "settings": {"seeds": seeds, "rows": rows, "epochs": epochs, "torch_threads": 1},
        "total_s": time.perf_counter() - started,
    }
    text = json.dumps(result, indent=2)
    if out is not None:
        out.write_text(text + "\n")
    if as_json:
        click.echo(text)
        return
    click.echo(
        f"Yeast ({architecture}): Δp = {yeast['delta_p']:+.2f} % (all metrics), "
        f"{yeast['delta_p_roc_auc']:+.2f} % (roc_auc); {yeast['epoch_s']:.3f} CPU s/epoch"
    )
    for key in ("mtl", "baseline"):
        means = yeast["mean"][key]
        click.echo(f"  mean {key:8s} " + "  ".join(f"{k}={v:.4f}" for k, v in means.items()))
    click.echo("synthetic test MSE (mean of 2 tasks):  rho   shared_bottom   mmoe")
    for rho, row in synthetic["table"].items():
        click.echo(f"{'':38s}{rho:5s} {row['shared_bottom']:13.4f} {row['mmoe']:7.4f}")
