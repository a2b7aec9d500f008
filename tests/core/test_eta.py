"""The rate behind the wait estimate: measured releases, with the configured rate as a floor only
when the queue ran dry and the cap was not what held releases back."""

from __future__ import annotations

from waitingroom.eta import RateEstimator, estimate


def _capacity_bound_after_a_dry_spell() -> RateEstimator:
    rates = RateEstimator()
    serving, tail = 1000, 1000
    rates.observe(0.0, serving, tail)  # idle: nobody waiting
    tail += 10_000  # a surge arrives
    for second in range(1, 31):  # the cap lets one in per second, not the configured 100
        serving += 1
        rates.observe(float(second), serving, tail)
    return rates


def test_the_configured_rate_is_a_floor_after_the_queue_ran_dry() -> None:
    rates = _capacity_bound_after_a_dry_spell()
    assert rates.rate(6000) >= 100.0  # releases were few because few waited


def test_no_floor_when_the_cap_holds_releases_back() -> None:
    rates = _capacity_bound_after_a_dry_spell()
    rate = rates.rate(6000, floor_when_dry=False)
    assert 0.5 <= rate <= 60.0  # the blend of a young window, not the configured 100/s
    eta = estimate(9970, rate)
    assert eta is not None and eta[1] >= 9970 / 60


def test_a_room_that_never_ran_dry_uses_the_measurement() -> None:
    rates = RateEstimator()
    for second in range(0, 61):
        rates.observe(float(second), second * 2, 10_000)
    assert abs(rates.rate(6000) - 2.0) < 0.01
