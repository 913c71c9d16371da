"""Per-second samples of a benchmark run, a progress bar on stderr, and a two-panel PNG.

The load generator's hot path is not touched: latency samples are already appended to a
list (one int per delivery); a `Timeline` only remembers, at each 1 s mark, how long that
list was and the running counters, so a bucket is a slice of the list and a difference of
counters. Percentiles are computed once per bucket (one sort of ~1 s of samples).
"""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from loadgen.measure import percentile_ms

BAR_WIDTH = 20
TTY_REDRAW_S = 0.2  # at most 5 redraws a second
MAX_BUCKETS = 100_000


# --------------------------------------------------------------------------- samples


@dataclass
class Bucket:
    t: float  # end of the bucket, seconds since the start of the run
    dt: float
    rates: dict[str, float]  # counter deltas per second
    values: dict[str, float]  # gauges at the end of the bucket
    p50: float = math.nan
    p95: float = math.nan
    p99: float = math.nan
    samples: int = 0


@dataclass
class Timeline:
    """Marks taken (about) once a second: counter rates and latency percentiles per bucket.

    `counters` returns running totals (rates are their deltas), `gauges` instantaneous values;
    `lat` is the run's latency list (ns, appended in arrival order) or None."""

    counters: Callable[[], dict[str, float]]
    lat: list[int] | None = None
    gauges: Callable[[], dict[str, float]] | None = None
    buckets: list[Bucket] = field(default_factory=list)
    t0: float = 0.0
    _t: float = 0.0
    _c: dict[str, float] = field(default_factory=dict)
    _n: int = 0

    def start(self, t: float) -> None:
        self.t0 = self._t = t
        self._c = self.counters()
        self._n = len(self.lat) if self.lat is not None else 0

    def mark(self, t: float) -> Bucket:
        dt = max(t - self._t, 1e-9)
        c = self.counters()
        b = Bucket(
            t=t - self.t0,
            dt=dt,
            rates={k: (v - self._c.get(k, 0.0)) / dt for k, v in c.items()},
            values=self.gauges() if self.gauges is not None else {},
        )
        if self.lat is not None:
            n = len(self.lat)
            chunk = sorted(self.lat[self._n : n])
            b.p50, b.p95, b.p99 = (percentile_ms(chunk, q) for q in (0.50, 0.95, 0.99))
            b.samples = len(chunk)
            self._n = n
        self._t, self._c = t, c
        if len(self.buckets) < MAX_BUCKETS:
            self.buckets.append(b)
        return b

    @property
    def last(self) -> Bucket | None:
        return self.buckets[-1] if self.buckets else None


# --------------------------------------------------------------------------- progress bar


class Bar:
    """One `\r`-updated line on a TTY; nothing on a pipe (callers then print their usual
    one line per second). Progress is `done` out of `total` (seconds by default)."""

    def __init__(
        self, label: str, total: float, unit: str = "s", stream: TextIO | None = None
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.label = label
        self.total = total
        self.unit = unit
        self.drawn_at = -math.inf
        self.shown = False

    def due(self, now: float) -> bool:
        return self.tty and now - self.drawn_at >= TTY_REDRAW_S

    def draw(self, now: float, done: float, text: str, force: bool = False) -> None:
        if not (force and self.tty) and not self.due(now):
            return
        self.drawn_at = now
        frac = min(1.0, max(0.0, done / self.total)) if self.total > 0 else 1.0
        full = round(frac * BAR_WIDTH)
        bar = "#" * full + "." * (BAR_WIDTH - full)
        count = f"{done:4.1f}/{self.total:g}" if self.unit == "s" else f"{done:.0f}/{self.total:g}"
        line = f"{self.label} [{bar}] {count} {self.unit}  {text}"
        cols = shutil.get_terminal_size((100, 20)).columns
        self.stream.write("\r" + line[: max(10, cols - 1)] + "\x1b[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def fmt_ms(v: float) -> str:
    if math.isnan(v):
        return "-"
    return f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"


# --------------------------------------------------------------------------- plotting

Series = tuple[Sequence[float], Sequence[float], str]  # x, y, legend label


@dataclass
class Panel:
    ylabel: str
    series: list[Series]
    kind: str = "line"  # "line" or "hist" (hist: one series, x ignored, y = values)
    xlabel: str = "time since start of load (s; 1 s buckets)"
    log_y: bool = False
    bins: int = 40
    right: list[Series] = field(default_factory=list)  # on a second y axis
    right_ylabel: str = ""
    xmax: float | None = None


def _top(series: Sequence[Series]) -> float:
    """Upper y limit with headroom for the legend (1.0 when there is no data)."""
    ys = [y for _, yv, _ in series for y in yv if not math.isnan(y)]
    return max(ys) * 1.3 if ys and max(ys) > 0 else 1.0


def plot(path: Path, title: str, panels: Sequence[Panel], dpi: int = 80) -> None:
    """One PNG, panels stacked vertically, Agg backend (no display needed)."""
    import matplotlib  # noqa: PLC0415 - optional dependency, only with --plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 * len(panels)), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        if panel.kind == "hist":
            for _, ys, label in panel.series:
                ax.hist(list(ys), bins=panel.bins, label=label, color="tab:blue", alpha=0.8)
        else:
            for i, (xs, ys, label) in enumerate(panel.series):
                style = ("-", "--", ":", "-.")[i % 4]
                mark = "o" if len(ys) <= 60 else None
                ax.plot(list(xs), list(ys), style, marker=mark, markersize=3, lw=1.5, label=label)
        ax.set_ylabel(panel.ylabel)
        ax.set_xlabel(panel.xlabel)
        ax.grid(True, alpha=0.3)
        if panel.kind != "hist":
            ax.set_xlim(0, panel.xmax)
        if panel.log_y:
            ax.set_yscale("log")
        elif panel.kind != "hist":
            ax.set_ylim(0, _top(panel.series))
        handles, labels = ax.get_legend_handles_labels()
        if panel.right:
            ax2 = ax.twinx()
            for xs, ys, label in panel.right:
                ax2.plot(
                    list(xs), list(ys), "--", color="tab:red", marker="s", markersize=3, label=label
                )
            ax2.set_ylabel(panel.right_ylabel, color="tab:red")
            ax2.set_ylim(0, _top(panel.right))
            h2, l2 = ax2.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        if any(labels):
            ax.legend(handles, labels, loc="best", fontsize="small")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def rate_latency_panels(
    tl: Timeline, rates: Sequence[tuple[str, str]], rate_ylabel: str, lat_ylabel: str
) -> list[Panel]:
    """The standard pair: counter rates per second, then p50/p95/p99 per second."""
    bs = [b for b in tl.buckets if b.dt > 0.05]  # drop a sliver of a last bucket
    xs = [b.t - b.dt / 2 for b in bs]  # bucket midpoints
    top = Panel(rate_ylabel, [(xs, [b.rates.get(k, 0.0) for b in bs], lbl) for k, lbl in rates])
    lat_bs = [b for b in bs if b.samples]
    lx = [b.t - b.dt / 2 for b in lat_bs]
    bottom = Panel(
        lat_ylabel,
        [
            (lx, [b.p50 for b in lat_bs], "p50"),
            (lx, [b.p95 for b in lat_bs], "p95"),
            (lx, [b.p99 for b in lat_bs], "p99"),
        ],
    )
    lows = [b.p50 for b in lat_bs if b.p50 > 0]
    highs = [b.p99 for b in lat_bs]
    bottom.log_y = bool(lows) and max(highs) / min(lows) > 50
    if bs:
        top.xmax = bottom.xmax = bs[-1].t
    return [top, bottom]


def timeline_json(tl: Timeline) -> list[dict[str, Any]]:
    """Per-second rows (for keeping next to a PNG, if wanted)."""
    return [
        {
            "t": round(b.t, 2),
            **{k: round(v, 1) for k, v in b.rates.items()},
            **{k: round(v, 1) for k, v in b.values.items()},
            "p50": None if math.isnan(b.p50) else round(b.p50, 2),
            "p95": None if math.isnan(b.p95) else round(b.p95, 2),
            "p99": None if math.isnan(b.p99) else round(b.p99, 2),
        }
        for b in tl.buckets
    ]


# --------------------------------------------------------------------------- timed loop


async def run_for(
    duration: float,
    bar: Bar,
    on_mark: Callable[[float], None],
    bar_text: Callable[[], str],
    clock: Callable[[], float],
    every: Callable[[float], None] | None = None,
    tick_s: float = 0.25,
) -> None:
    """Sleep through `duration` seconds from now: `on_mark(now)` at every whole second (and
    at the end), `every(now)` each tick (tick_s on a TTY or when `every` is given, else 1 s),
    and a bar redraw each tick. Bounded by the number of ticks."""
    import asyncio  # noqa: PLC0415 - keeps this module importable without an event loop

    start = clock()
    end_t = start + duration
    next_mark = start + 1.0
    tick = tick_s if bar.tty or every is not None else 1.0
    for _ in range(int(duration / tick) * 4 + 16):
        now = clock()
        if now >= end_t:
            break
        await asyncio.sleep(max(0.0, min(next_mark, end_t, now + tick) - now))
        now = clock()
        if every is not None:
            every(now)
        if now >= next_mark - 0.002 or now >= end_t - 0.002:
            on_mark(now)
            next_mark += 1.0
        if bar.due(now):
            bar.draw(now, now - start, bar_text())
