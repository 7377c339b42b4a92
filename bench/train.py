"""``driftline bench train``: multi-task training quality and speed.

1. **MMoE synthetic experiment** (Ma et al., KDD 2018, sections 3.2 and 5.1): two regression
   tasks whose weight vectors have cosine ``rho`` (generator: :mod:`bench.mmoe_synthetic`; d = 100,
   c = 1, m = 10, ``α, β ~ N(0, 1)``, noise variance 0.01). Shared-bottom (one hidden layer, its
   width chosen so that the whole model has as many parameters as the MMoE) and MMoE (8 experts,
   one hidden layer of 16 each) with towers of 8 are trained with the same budget (Adam, fixed
   epochs, best validation epoch restored) for several seeds. Reported per ``rho``: test MSE
   (mean of both tasks) over seeds, and the increase in loss from ``rho = 1.0`` to ``0.5`` per
   model (the paper: shared-bottom's loss grows much more than MMoE's).
2. **Yeast** (``river.datasets.Yeast``: 2 417 rows, 103 features, 14 labels, shipped in the river
   wheel): one multi-task model vs 14 single-task MLPs on the same seeded 60/20/20 split; per-task
   test metrics, Δp (LibMTL) and CPU seconds per epoch.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from bench.mmoe_synthetic import MMoESyntheticProblem

__all__ = ["main", "run_synthetic", "run_yeast"]

RHOS = (1.0, 0.9, 0.5)
SYNTHETIC_HELD_OUT_ROWS = 2000
"""Validation rows and test rows of the synthetic experiment (each)."""
MMOE_PARAMS: dict[str, Any] = {"n_experts": 8, "expert_hidden": (16,)}
SYNTHETIC_TOWER = (8,)


def _std(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _parameter_count(architecture: str, params: dict[str, Any], frame: pd.DataFrame) -> int:
    from models import FeatureSchema, TaskSpec, build_model

    tasks = [TaskSpec("y1", "regression"), TaskSpec("y2", "regression")]
    schema = FeatureSchema.of(numeric=[c for c in frame.columns if c.startswith("f")])
    model = build_model(tasks, schema, frame, architecture, params, SYNTHETIC_TOWER)
    return sum(p.numel() for p in model.parameters())


def _matched_shared_bottom(frame: pd.DataFrame) -> tuple[dict[str, Any], dict[str, int]]:
    """Shared-bottom width whose model has (about) as many parameters as the MMoE."""
    target = _parameter_count("mmoe", MMOE_PARAMS, frame)
    one, two = (_parameter_count("shared_bottom", {"hidden": (h,)}, frame) for h in (1, 2))
    width = max(1, round((target - one) / (two - one)) + 1)  # the count is affine in the width
    params = {"hidden": (width,)}
    counts = {"mmoe": target, "shared_bottom": _parameter_count("shared_bottom", params, frame)}
    return params, counts


def _synthetic_mse(
    architecture: str,
    params: dict[str, Any],
    splits: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    epochs: int,
    seed: int,
) -> tuple[float, list[float]]:
    """Test MSE (mean of both tasks) and the validation MSE after every epoch."""
    from models import FeatureSchema, TaskSpec, TrainConfig, train

    train_part, validation, test = splits
    tasks = [TaskSpec(t, "regression", primary_metric="rmse") for t in ("y1", "y2")]
    schema = FeatureSchema.of(numeric=[c for c in train_part.columns if c.startswith("f")])
    config = TrainConfig(
        architecture=architecture,
        architecture_params=params,
        tower=SYNTHETIC_TOWER,
        epochs=epochs,
        batch_size=256,
        learning_rate=3e-3,
        seed=seed,
        device="cpu",
        loss_balancing="equal",
        # No per-task stopping (a stopped head would sit on a trunk that keeps moving for the
        # other task); the epoch with the best validation RMSE of both tasks is restored.
        patience=epochs,
    )
    result = train(train_part, tasks, schema, config, validation_frame=validation)
    predicted = result.model.predict(test)
    mse = np.mean([np.mean((predicted[t.name] - test[t.name].to_numpy()) ** 2) for t in tasks])
    curve = [
        float(np.mean([log.val_metrics[t.name]["rmse"] ** 2 for t in tasks]))
        for log in result.history
    ]
    return float(mse), curve


def run_synthetic(seeds: int, rows: int, epochs: int) -> dict[str, Any]:
    """Test MSE of shared-bottom and MMoE per ``rho`` (mean, std and per seed) and its increase.

    Every model trains ``epochs`` epochs on ``rows`` rows (Adam, batch 256, lr 3e-3, equal loss
    weights) and the epoch with the best validation RMSE is restored.

    Seed ``s`` fixes the problem (``u1, u2, α, β``), the rows' features and the models'
    initialisation for every ``rho``, so the runs at different ``rho`` are paired and
    ``loss_increase`` (MSE at the lowest ``rho`` minus MSE at ``rho = 1``) is taken per seed.
    """
    problem_rows = MMoESyntheticProblem(1.0).sample(64, seed=0)
    shared_bottom, parameters = _matched_shared_bottom(problem_rows)
    setups = {"shared_bottom": shared_bottom, "mmoe": MMOE_PARAMS}
    runs: dict[str, dict[str, list[float]]] = {str(r): {n: [] for n in setups} for r in RHOS}
    curves: dict[str, dict[str, list[list[float]]]] = {
        str(r): {n: [] for n in setups} for r in RHOS
    }
    label_correlation: dict[str, list[float]] = {str(r): [] for r in RHOS}
    for seed in range(seeds):
        for rho in RHOS:
            problem = MMoESyntheticProblem(rho, seed=seed)
            splits = (
                problem.sample(rows, seed=0),
                problem.sample(SYNTHETIC_HELD_OUT_ROWS, seed=1),
                problem.sample(SYNTHETIC_HELD_OUT_ROWS, seed=2),
            )
            label_correlation[str(rho)].append(float(np.corrcoef(splits[0].y1, splits[0].y2)[0, 1]))
            for name, params in setups.items():
                mse, curve = _synthetic_mse(name, params, splits, epochs, seed)
                runs[str(rho)][name].append(mse)
                curves[str(rho)][name].append(curve)
    table = {
        rho: {
            **{name: float(np.mean(v)) for name, v in per_arch.items()},
            **{f"{name}_std": _std(v) for name, v in per_arch.items()},
        }
        for rho, per_arch in runs.items()
    }
    high, low = str(max(RHOS)), str(min(RHOS))
    increase: dict[str, Any] = {"from_rho": max(RHOS), "to_rho": min(RHOS)}
    for name in setups:
        per_seed = [b - a for a, b in zip(runs[high][name], runs[low][name], strict=True)]
        increase[name] = {
            "mean": float(np.mean(per_seed)),
            "std": _std(per_seed),
            "per_seed": per_seed,
            "ratio_of_means": table[low][name] / table[high][name],
        }
    return {
        "table": table,
        "runs": runs,
        "loss_increase": increase,
        "label_correlation": {r: float(np.mean(v)) for r, v in label_correlation.items()},
        # mean over seeds of the validation MSE after each epoch (the paper plots loss curves)
        "validation_curves": {
            rho: {n: np.mean(c, axis=0).round(5).tolist() for n, c in per_arch.items()}
            for rho, per_arch in curves.items()
        },
        "parameters": parameters,
        "setups": {
            n: {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()}
            for n, p in setups.items()
        },
    }


def _yeast_frame() -> tuple[pd.DataFrame, list[str], list[str]]:
    from river import datasets

    rows = [{**x, **{k: float(v) for k, v in y.items()}} for x, y in datasets.Yeast()]  # type: ignore[no-untyped-call]  # river's datasets are unannotated
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


def _timed(run: Any, *args: Any) -> tuple[Any, dict[str, Any]]:
    load, cpu, wall = os.getloadavg()[0], time.process_time(), time.perf_counter()
    result = run(*args)
    return result, {
        "cpu_s": time.process_time() - cpu,
        "wall_s": time.perf_counter() - wall,
        "load_1min": [load, os.getloadavg()[0]],
    }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON here."
)
@click.option(
    "--part",
    type=click.Choice(["all", "yeast", "synthetic"]),
    default="all",
    show_default=True,
    help="Run both experiments or only one.",
)
@click.option("--seeds", default=3, show_default=True, help="Seeds of the synthetic experiment.")
@click.option(
    "--rows", default=10_000, show_default=True, help="Training rows of the synthetic experiment."
)
@click.option(
    "--epochs",
    default=40,
    show_default=True,
    help="Yeast: maximum epochs (early stopping applies).",
)
@click.option(
    "--synthetic-epochs",
    default=40,
    show_default=True,
    help="Synthetic experiment: epochs per model (the best validation epoch is kept).",
)
@click.option(
    "--architecture",
    type=click.Choice(["shared_bottom", "mmoe", "ple"]),
    default="mmoe",
    show_default=True,
    help="Multi-task architecture for Yeast.",
)
def main(
    as_json: bool,
    out: Path | None,
    part: str,
    seeds: int,
    rows: int,
    epochs: int,
    synthetic_epochs: int,
    architecture: str,
) -> None:
    """Yeast MTL vs single-task baselines (Δp, s/epoch) and the MMoE synthetic ρ experiment."""
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    result: dict[str, Any] = {}
    timing: dict[str, Any] = {}
    from bench.progress import phase

    if part in ("all", "yeast"):
        phase("Yeast: multi-task model vs 14 single-task baselines")
        result["yeast"], timing["yeast"] = _timed(run_yeast, architecture, epochs, 0)
    if part in ("all", "synthetic"):
        phase(f"synthetic: shared-bottom vs MMoE over {seeds} seeds")
        synthetic, timing["synthetic"] = _timed(run_synthetic, seeds, rows, synthetic_epochs)
        result["synthetic"] = synthetic["table"]
        result["synthetic_runs"] = synthetic["runs"]
        result["synthetic_loss_increase"] = synthetic["loss_increase"]
        result["synthetic_label_correlation"] = synthetic["label_correlation"]
        result["synthetic_validation_curves"] = synthetic["validation_curves"]
        result["synthetic_parameters"] = synthetic["parameters"]
        result["synthetic_setups"] = synthetic["setups"]
    result["settings"] = {
        "seeds": seeds,
        "rows": rows,
        "epochs": epochs,
        "synthetic_epochs": synthetic_epochs,
        "torch_threads": 1,
    }
    result["timing"] = timing
    result["total_s"] = time.perf_counter() - started
    text = json.dumps(result, indent=2)
    if out is not None:
        out.write_text(text + "\n")
    if as_json:
        click.echo(text)
        return
    if "yeast" in result:
        yeast = result["yeast"]
        click.echo(
            f"Yeast ({architecture}): Δp = {yeast['delta_p']:+.2f} % (all metrics), "
            f"{yeast['delta_p_roc_auc']:+.2f} % (roc_auc); {yeast['epoch_s']:.3f} CPU s/epoch"
        )
        for key in ("mtl", "baseline"):
            means = yeast["mean"][key]
            click.echo(f"  mean {key:8s} " + "  ".join(f"{k}={v:.4f}" for k, v in means.items()))
    if "synthetic" in result:
        click.echo("synthetic test MSE (mean of 2 tasks, mean ± std over seeds):")
        click.echo(f"  {'rho':5s} {'shared_bottom':>19s} {'mmoe':>19s}")
        for rho, row in result["synthetic"].items():
            cells = [f"{row[n]:.4f} ± {row[n + '_std']:.4f}" for n in ("shared_bottom", "mmoe")]
            click.echo(f"  {rho:5s} {cells[0]:>19s} {cells[1]:>19s}")
        rise = result["synthetic_loss_increase"]
        click.echo(
            f"  increase rho {rise['from_rho']} → {rise['to_rho']}: "
            + ", ".join(
                f"{n} {rise[n]['mean']:+.4f} ± {rise[n]['std']:.4f}"
                for n in ("shared_bottom", "mmoe")
            )
        )
