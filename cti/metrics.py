"""Prometheus text exposition, hand-written: the server's counters and gauges at scrape time."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Metric:
    """One sample with its family's help text."""

    name: str
    kind: str
    help: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


MetricsSource = Callable[[], Iterable[Metric]]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def render(metrics: Iterable[Metric]) -> str:
    """Text format 0.0.4: ``# HELP``/``# TYPE`` once per family, then its samples."""
    families: dict[str, list[Metric]] = {}
    for metric in metrics:
        families.setdefault(metric.name, []).append(metric)
    lines = []
    for name, samples in families.items():
        lines.append(f"# HELP {name} {_escape(samples[0].help)}")
        lines.append(f"# TYPE {name} {samples[0].kind}")
        for sample in samples:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(sample.labels.items()))
            lines.append(
                f"{name}{{{labels}}} {_number(sample.value)}"
                if labels
                else f"{name} {_number(sample.value)}"
            )
    return "\n".join(lines) + "\n"
