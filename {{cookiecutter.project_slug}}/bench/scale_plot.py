"""The scale bench's curves: event latency and memory against sockets, one
line per number of processes (matplotlib, in the `bench` extra)."""

import matplotlib

matplotlib.use("Agg")  # Files only: no screen needed.

import matplotlib.pyplot as plt


def plot(points, prefix):
    """Write PREFIX-latency.png and PREFIX-memory.png; return their paths."""
    by_processes = {}
    for point in points:
        by_processes.setdefault(point.processes, []).append(point)
    charts = {
        "latency": (
            "event latency p99 (ms)",
            lambda p: p.latency_p99_ms,
            "p99 of create -> event, {subscribed} subscribed, {rate}",
        ),
        "memory": (
            "RSS per socket (KiB, mean over processes)",
            lambda p: sum(p.rss_kib_per_socket) / len(p.rss_kib_per_socket),
            "resident memory each held socket adds",
        ),
    }
    paths = []
    for name, (label, value, title) in charts.items():
        figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
        for processes, line in sorted(by_processes.items()):
            line.sort(key=lambda p: p.sockets)
            axes.plot(
                [p.sockets for p in line],
                [value(p) for p in line],
                marker="o",
                label=f"{processes} process{'es' if processes > 1 else ''}",
            )
        first = points[0]
        rate = f"{first.events} events"
        axes.set_title(title.format(subscribed=first.subscribed, rate=rate))
        axes.set_xlabel("open sockets (all processes)")
        axes.set_ylabel(label)
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.legend()
        figure.tight_layout()
        path = f"{prefix}-{name}.png"
        figure.savefig(path)
        plt.close(figure)
        paths.append(path)
    return paths
