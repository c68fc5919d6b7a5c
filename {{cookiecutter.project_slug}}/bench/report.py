"""The ratios the targets are set on, and the report: a table and a JSON file."""

import json
from dataclasses import asdict, dataclass

from rich.table import Table

from .load import APP, HTTP, REFERENCE, labels


@dataclass(frozen=True)
class Ratio:
    """`top` / `bottom` (each a labels() key and an endpoint), against a goal."""

    name: str
    top: tuple
    bottom: tuple
    goal: float
    attribute: str = "rate"
    higher: bool = True  # The goal is a floor (≥), not a ceiling (≤).


def wanted(options):
    """The ratios with a target, in the order the report shows them."""
    name = labels(options)
    return [
        Ratio(
            f"{name['w4']}: watch / subscribe fan-out (events/s)",
            ("w4", APP),
            ("w2", APP),
            0.5,
        ),
        Ratio(
            f"{name['w1']}: app / reference (req/s)",
            ("w1", APP),
            ("w1", REFERENCE),
            0.75,
        ),
        Ratio(
            f"{name['w1 many']}: app / reference (req/s)",
            ("w1 many", APP),
            ("w1 many", REFERENCE),
            0.75,
        ),
        # More sockets, more throughput: the server works while a socket waits.
        Ratio(
            f"{name['w1 many']} / {name['w1']}: app (req/s)",
            ("w1 many", APP),
            ("w1", APP),
            1.2,
        ),
        # The full DRF view against one ORM call: what a create costs the server.
        Ratio(
            f"{name['w1']}: app / reference (server CPU per create)",
            ("w1", APP),
            ("w1", REFERENCE),
            1.6,
            attribute="cpu_us",
            higher=False,
        ),
        # One user: the app authorizes an event once for all its sockets,
        # and renders it once; the reference encodes it per subscriber.
        Ratio(
            f"{name['w2']} of one user: app / reference (events/s)",
            ("w2", APP),
            ("w2", REFERENCE),
            2.5,
        ),
        # A user per socket: the app authorizes each event once per user,
        # the reference not at all.
        Ratio(
            f"{name['w2u']}: app / reference (events/s)",
            ("w2u", APP),
            ("w2u", REFERENCE),
            0.7,
        ),
        Ratio(
            f"{name['w3']}: app / reference (RSS per socket)",
            ("w3", APP),
            ("w3", REFERENCE),
            1.1,
            attribute="rss_per_socket_kib",
            higher=False,
        ),
        # A socket flooding at full speed costs the others little.
        Ratio(
            f"{name['flood']}: p99 / p99 alone",
            ("flood", APP),
            ("flood alone", APP),
            1.5,
            attribute="p99_ms",
            higher=False,
        ),
        Ratio(
            "Create, 1 connection: WebSocket / HTTP (req/s)",
            ("w1", APP),
            ("http", HTTP),
            4.0,
        ),
    ]


def ratios(report, options):
    """The ratios measured in `report`: [(name, value, target, met)]."""
    name = labels(options)
    result = []
    for ratio in wanted(options):
        top = report.find(name[ratio.top[0]], ratio.top[1])
        bottom = report.find(name[ratio.bottom[0]], ratio.bottom[1])
        if top is None or bottom is None:
            continue
        a = getattr(top, ratio.attribute)
        b = getattr(bottom, ratio.attribute)
        if a is None or not b:
            continue
        value = a / b
        met = value >= ratio.goal if ratio.higher else value <= ratio.goal
        # A fan-out that lost events is not a rate to be proud of.
        met = met and not top.missing and not bottom.missing
        goal = ("≥ " if ratio.higher else "≤ ") + f"{ratio.goal:g}x"
        result.append((ratio.name, value, goal, met))
    return result


def print_report(console, report, ratios, target):
    table = Table(title=f"python -m bench: {target.url}")
    table.add_column("workload")
    table.add_column("endpoint")
    table.add_column("count", justify="right")
    table.add_column("rate /s", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_column("missing", justify="right")
    table.add_column("RSS/socket KiB", justify="right")
    table.add_column("CPU/create µs", justify="right")
    for row in report.rows:
        table.add_row(
            row.workload,
            row.endpoint,
            str(row.count),
            number(row.rate, 0),
            number(row.p50_ms, 1),
            number(row.p99_ms, 1),
            number(row.missing, 0),
            number(row.rss_per_socket_kib, 1),
            number(row.cpu_us, 0),
        )
    console.print(table)
    for row in report.rows:
        if row.storm_ms is not None:
            console.print(
                f"{row.workload}: every socket knew all {row.count} users "
                f"{row.storm_ms:,.0f} ms after the first join was sent.",
                markup=False,
            )
        if row.redis_calls_per_join:
            calls = ", ".join(
                f"{name} {value:.2f}"
                for name, value in sorted(
                    row.redis_calls_per_join.items(), key=lambda item: -item[1]
                )
            )
            total = sum(row.redis_calls_per_join.values())
            console.print(
                f"{row.workload}: Redis commands per join {total:.2f} ({calls}).",
                markup=False,
            )
    if ratios:
        table = Table(title="Ratios (same run, same server and channel layer)")
        table.add_column("ratio")
        table.add_column("measured", justify="right")
        table.add_column("target", justify="right")
        table.add_column("met")
        for name, value, goal, met in ratios:
            table.add_row(name, f"{value:.2f}x", goal, "yes" if met else "NO")
        console.print(table)
    for what, reason in report.skipped.items():
        console.print(f"Skipped {what}: {reason}", markup=False)
    for note in report.notes:
        console.print(note, markup=False)


def write_json(path, report, ratios, target, options):
    data = {
        "url": target.url,
        "reference_url": target.reference_url,
        "http_url": target.http_url,
        "options": asdict(options),
        "rows": [asdict(row) for row in report.rows],
        "ratios": [
            {"name": name, "value": value, "target": goal, "met": met}
            for name, value, goal, met in ratios
        ],
        "skipped": report.skipped,
        "notes": report.notes,
    }
    with open(path, "w") as file:
        json.dump(data, file, indent=2, ensure_ascii=False)
        file.write("\n")


def number(value, digits):
    return "-" if value is None else f"{value:,.{digits}f}"
