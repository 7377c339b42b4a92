"""``driftline demo``: the first thing a new user runs.

Today it shows the platform end to end: start the local broker, create the topics, produce the
example prediction and label events with the SDK (envelopes), and read them back from Kafka,
validated, with a per-task summary. The closed loop (monitor → alert → retrain → promotion) joins
it as those parts land.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click

from driftline.cli.options import config_option, load_or_exit

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "events"


@click.command()
@config_option
@click.option("--events", "events_dir", type=click.Path(file_okay=False, path_type=Path),
              default=EXAMPLES, show_default=True, help="Directory with predictions.jsonl and labels.jsonl.")  # fmt: skip
@click.option("--stop/--keep-running", default=False, help="Stop the broker at the end.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def demo(config_path: str | None, events_dir: Path, stop: bool, as_json: bool) -> None:
    """Start the broker, create topics, send the example events and read them back."""
    from rich.console import Console
    from rich.table import Table

    from driftline.broker import LocalBroker
    from driftline.client import Client
    from driftline.events import Label, Prediction
    from driftline.ingest import read_events
    from driftline.reader import EventReader
    from driftline.topics import create_topics

    cfg = load_or_exit(config_path)
    console = Console(stderr=True)
    started = time.monotonic()
    broker = LocalBroker.from_config(cfg.kafka.local, cfg.kafka.security, cfg.state_dir / "kafka")
    with console.status("starting the local Kafka broker") as spinner:
        status = broker.start(progress=lambda message: spinner.update(message))
    console.print(f"[green]✓[/] broker at {status.bootstrap_servers} (pid {status.pid})")
    cfg = cfg.model_copy(
        update={
            "kafka": cfg.kafka.model_copy(update={"bootstrap_servers": status.bootstrap_servers})
        }
    )
    created = create_topics(cfg)
    console.print(f"[green]✓[/] topics: {sum(v == 'created' for v in created.values())} created, "
                  f"{sum(v == 'exists' for v in created.values())} already there")  # fmt: skip
    predictions, bad_p = read_events(events_dir / "predictions.jsonl", cfg, Prediction.SCHEMA)
    labels, bad_l = read_events(events_dir / "labels.jsonl", cfg, Label.SCHEMA)
    for problem in bad_p + bad_l:
        console.print(f"[yellow]skipped[/] {problem}")
    with Client(cfg) as client, console.status("producing example events"):
        for event in [*predictions, *labels]:
            client.send(event)
        sent = client.flush()
    console.print(
        f"[green]✓[/] sent {sent} events ({len(predictions)} predictions, {len(labels)} labels) in envelopes"
    )
    counts: Counter[str] = Counter()
    with (
        EventReader(cfg, [cfg.topics.predictions, cfg.topics.labels]) as reader,
        console.status("reading the events back from Kafka"),
    ):
        for item in reader.read(timeout=60, idle=5):
            if item.error:
                counts["invalid"] += 1
            elif isinstance(item.event, Label):
                counts[f"label:{item.event.task}"] += 1
            else:
                counts["prediction"] += 1
    summary: dict[str, Any] = {
        "bootstrap_servers": status.bootstrap_servers,
        "sent": sent,
        "read_back": dict(sorted(counts.items())),
        "wall_s": round(time.monotonic() - started, 2),
    }
    if stop:
        broker.stop()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    table = Table(title="read back from Kafka (validated against the contracts)")
    table.add_column("stream")
    table.add_column("events", justify="right")
    for key, value in sorted(counts.items()):
        table.add_row(key, str(value))
    Console().print(table)
    console.print(
        f"done in {summary['wall_s']} s. Try: driftline tail labels -c {config_path or 'driftline.yaml'} -n 3"
    )
