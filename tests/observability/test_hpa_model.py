"""The HPA model bench/autoscaling simulates with follows the documented algorithm."""

from __future__ import annotations

from bench.autoscaling.hpa import Autoscaler


def test_average_value_target_and_tolerance() -> None:
    hpa = Autoscaler(target=5, min_replicas=1, max_replicas=100)
    assert hpa.desired(0, 4, 21) == 4  # 21 / (5 × 4) = 1.05: inside the 10 % tolerance
    assert hpa.desired(15, 4, 23) == 5  # 1.15: ceil(23 / 5)


def test_default_scale_up_policy_is_the_larger_of_100_percent_and_4_pods_per_15_s() -> (
    None
):
    hpa = Autoscaler(target=5, min_replicas=1, max_replicas=20)
    replicas = [1]
    for sync in range(1, 5):
        replicas.append(hpa.desired(15.0 * sync, replicas[-1], 5000))
    assert replicas == [1, 5, 10, 20, 20]


def test_scale_down_waits_for_the_highest_recommendation_of_its_window() -> None:
    hpa = Autoscaler(target=5, min_replicas=1, max_replicas=10)
    assert hpa.desired(0, 10, 50) == 10
    assert hpa.desired(15, 10, 0) == 10  # 0 recommended, 10 still in the 300 s window
    assert hpa.desired(299, 10, 0) == 10
    assert (
        hpa.desired(301, 10, 0) == 1
    )  # the window has passed; 100 % per 15 s allows the floor
