"""``permitcrawl frontier status``: what a crawl's frontier holds, per shard and per worker."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler.cli.output import echo_table

if TYPE_CHECKING:
    from crawler.frontier.base import Counts, Frontier, Status


@click.group()
def frontier() -> None:
    """Look at a crawl's frontier: the URLs queued, in flight and done.

    \b
    Example:
        permitcrawl frontier status crawls/example
    """


def _counts(counts: Counts) -> dict[str, int]:
    return {"queued": counts.queued, "in_flight": counts.in_flight, "done": counts.done}


def status_rows(status: Status) -> list[dict[str, Any]]:
    """One JSON object per line of the status: the total, then each shard, worker and lease."""
    rows: list[dict[str, Any]] = [
        {
            "kind": "total",
            "backend": status.backend,
            "hosts": status.hosts,
            "pages": status.pages,
            **_counts(status.total),
            **status.details,
        }
    ]
    rows += [{"kind": "shard", "shard": shard, **_counts(c)} for shard, c in status.shards.items()]
    rows += [{"kind": "worker", "worker": worker, **_counts(c)} for worker, c in status.workers.items()]
    rows += [{"kind": "lease", **asdict(lease)} for lease in status.leases]
    return rows


@frontier.command()
@click.argument("crawl_dir", required=False, type=click.Path(path_type=Path))
@click.option("--frontier", "spec", default=None, metavar="redis://HOST:PORT/DB", help="A Redis frontier.")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True)
@click.option(
    "--sample",
    type=click.FloatRange(min=0, max=60),
    default=1.0,
    show_default=True,
    help="Seconds between two counts, for the rate of URLs done (0: no rate).",
)
def status(crawl_dir: Path | None, spec: str | None, fmt: str, sample: float) -> None:
    """Queued, in flight and done: in total, per shard, per worker; the rate; the leases held.

    Reads only: a crawl may be running. The rate is the URLs done between two
    counts ``--sample`` seconds apart.

    \b
    Example:
        permitcrawl frontier status crawls/example
        permitcrawl frontier status --frontier redis://10.0.0.5:6379/0 --format jsonl
    """
    from crawler.frontier.embedded import FILE_NAME
    from crawler.frontier.embedded import open_readonly as open_embedded
    from crawler.frontier.opening import open_frontier

    if (crawl_dir is None) == (spec is None):
        raise click.UsageError("give a crawl directory, or --frontier redis://HOST:PORT/DB (one of them)")
    reader: Frontier
    if crawl_dir is not None:
        reader = open_embedded(crawl_dir / FILE_NAME)
    else:
        assert spec is not None
        reader = open_frontier(spec, Path("."), worker="status")
    try:
        before = reader.counts().done if sample else 0
        if sample:
            time.sleep(sample)
        result = reader.status()
    finally:
        reader.close()
    rate = round((result.total.done - before) / sample, 2) if sample else None
    rows = status_rows(result)
    rows[0]["rate"] = rate
    if fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    total = result.total
    click.echo(
        f"{result.backend} frontier: {total.queued} queued, {total.in_flight} in flight, {total.done} done; "
        f"{result.hosts} hosts with URLs queued or in flight"
        + (f"; {rate} URLs done a second (over {sample:g} s)" if rate is not None else "")
        + (f"; {result.pages} pages counted against --max-pages" if result.pages else "")
    )
    if result.workers:
        click.echo("")
        echo_table(
            [{"worker": w, **_counts(c)} for w, c in result.workers.items()],
            ["worker", "queued", "in_flight", "done"],
        )
    if result.shards:
        click.echo("")
        echo_table(
            [{"shard": s, **_counts(c)} for s, c in result.shards.items()],
            ["shard", "queued", "in_flight", "done"],
        )
    if result.leases:
        click.echo("")
        echo_table([asdict(lease) for lease in result.leases], ["shard", "epoch", "worker", "acquired_at"])
