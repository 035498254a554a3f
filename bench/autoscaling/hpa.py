"""The HorizontalPodAutoscaler's replica calculation, as the Kubernetes documentation gives it.

https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/ ("Algorithm details",
"Configurable scaling behavior") and pkg/controller/podautoscaler/horizontal.go, which it describes:

- desired = ceil(current × value / target); for an External metric with an AverageValue target that is
  ceil(value / averageValue), and nothing changes while |value / (averageValue × current) − 1| ≤ tolerance;
- every raw recommendation is stored; scale-up takes the lowest over its stabilization window, scale-down
  the highest over its own (defaults 0 s and 300 s);
- policies bound the change per period from the replica count at the period's start; selectPolicy Max
  takes the policy allowing the largest change (defaults: up max(100 %, 4 pods) per 15 s, down 100 % per 15 s);
- min/max replicas clamp the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

DEFAULT_TOLERANCE = 0.1
"""The controller's --horizontal-pod-autoscaler-tolerance: changes under 10 % are ignored."""


@dataclass(frozen=True)
class Policy:
    kind: Literal["Pods", "Percent"]
    value: int
    period: float  # seconds


@dataclass(frozen=True)
class Rules:
    window: float
    policies: tuple[Policy, ...]
    select: Literal["Max", "Min"] = "Max"


SCALE_UP_DEFAULT = Rules(
    window=0, policies=(Policy("Percent", 100, 15), Policy("Pods", 4, 15))
)
SCALE_DOWN_DEFAULT = Rules(window=300, policies=(Policy("Percent", 100, 15),))


@dataclass
class Autoscaler:
    """One HPA with an External metric and an AverageValue target."""

    target: float  # averageValue per replica
    min_replicas: int
    max_replicas: int
    up: Rules = SCALE_UP_DEFAULT
    down: Rules = SCALE_DOWN_DEFAULT
    tolerance: float = DEFAULT_TOLERANCE
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    events: list[tuple[float, int]] = field(
        default_factory=list
    )  # (time, replica change)

    def desired(self, now: float, current: int, value: float) -> int:
        """The replica count one sync sets, given the metric's value and the current replica count."""
        raw = self._raw(current, value)
        stabilized = self._stabilize(now, current, raw)
        result = self._limit(now, current, stabilized)
        if result != current:
            self.events.append((now, result - current))
        return result

    def _raw(self, current: int, value: float) -> int:
        if current == 0:
            return math.ceil(value / self.target)
        ratio = value / (self.target * current)
        if abs(ratio - 1.0) <= self.tolerance:
            return current
        return math.ceil(value / self.target)

    def _stabilize(self, now: float, current: int, raw: int) -> int:
        up_rec, down_rec = raw, raw
        for at, rec in self.recommendations:
            if at > now - self.up.window:
                up_rec = min(up_rec, rec)
            if at > now - self.down.window:
                down_rec = max(down_rec, rec)
        self.recommendations.append((now, raw))
        horizon = now - max(self.up.window, self.down.window)
        self.recommendations = [
            (at, rec) for at, rec in self.recommendations if at > horizon
        ]
        return min(max(current, up_rec), down_rec)

    def _limit(self, now: float, current: int, desired: int) -> int:
        if desired > current:
            limit = max(self._up_limit(now, current), current)
            return min(desired, limit, self.max_replicas)
        if desired < current:
            limit = self._down_limit(now, current)
            return max(desired, limit, self.min_replicas)
        return min(max(desired, self.min_replicas), self.max_replicas)

    def _changed_within(self, now: float, period: float, sign: int) -> int:
        return sum(
            change
            for at, change in self.events
            if at > now - period and change * sign > 0
        )

    def _up_limit(self, now: float, current: int) -> int:
        proposals = []
        for policy in self.up.policies:
            start = current - self._changed_within(now, policy.period, +1)
            if policy.kind == "Pods":
                proposals.append(start + policy.value)
            else:
                proposals.append(math.ceil(start * (1 + policy.value / 100)))
        return max(proposals) if self.up.select == "Max" else min(proposals)

    def _down_limit(self, now: float, current: int) -> int:
        proposals = []
        for policy in self.down.policies:
            start = current - self._changed_within(
                now, policy.period, -1
            )  # adds back what was removed
            if policy.kind == "Pods":
                proposals.append(start - policy.value)
            else:
                proposals.append(int(start * (1 - policy.value / 100)))
        return min(proposals) if self.down.select == "Max" else max(proposals)
