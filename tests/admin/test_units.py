"""The small pure parts: the sampler's rates and series, capacity, opening times."""

from __future__ import annotations

import pytest

from gateway.admin.capacity import capacity, per_second
from gateway.admin.opening import iso_wib, parse_when
from gateway.admin.sampler import Backend, Sampler
from waitingroom.config import RoomConfig
from waitingroom.snapshot import RoomSnapshot

T0 = 1_800_000_000.0


def snap(t: float, tail: int, serving: int, admitted: int, active: int = 0, epoch: int = 1,
         version: int = 1) -> RoomSnapshot:  # fmt: skip
    return RoomSnapshot(
        epoch=epoch,
        tail=tail,
        serving=serving,
        active=active,
        admitted=admitted,
        config=RoomConfig(version=version),
        server_time=t,
    )


class FakeBackend:
    def __init__(self) -> None:
        self.value = Backend()

    def __call__(self) -> Backend:
        return self.value


def test_rates_over_the_last_minute() -> None:
    backend = FakeBackend()
    sampler = Sampler(backend=backend)
    assert sampler.rates()["admissions_per_minute"] is None
    for second in range(0, 121):
        # 10 arrivals, 5 releases and 4 admissions a second; ticks 4 times a second.
        for quarter in range(4):
            t = T0 + second + quarter / 4
            backend.value = Backend(
                requests=second * 100.0,
                errors=second * 1.0,
                timed=second * 99.0,
                seconds=second * 99 * 0.05,
                buckets=(
                    (0.05, second * 90.0),
                    (0.1, second * 99.0),
                    (float("inf"), second * 99.0),
                ),
            )
            sampler.observe_snapshot(snap(t, second * 10, second * 5, second * 4, active=7))
    assert len(sampler.samples) == 121  # one per second
    rates = sampler.rates(60)
    assert rates["window_seconds"] == pytest.approx(60, abs=1)
    assert rates["arrivals_per_minute"] == pytest.approx(600, rel=0.02)
    assert rates["releases_per_minute"] == pytest.approx(300, rel=0.02)
    assert rates["admissions_per_minute"] == pytest.approx(240, rel=0.02)
    backend_rates = rates["backend"]
    assert backend_rates["requests_per_second"] == pytest.approx(100, rel=0.02)
    assert backend_rates["error_rate"] == pytest.approx(0.01)
    assert backend_rates["latency_ms_avg"] == pytest.approx(50)
    assert backend_rates["latency_ms_p95"] == 100.0  # the bucket that holds the 95th percentile


def test_series_points_and_reset() -> None:
    sampler = Sampler(backend=Backend)
    for second in range(0, 61):
        sampler.observe_snapshot(snap(T0 + second, second * 2, second, second, active=3))
    points = sampler.series(window=900, step=5)
    assert len(points) == 12  # the first point needs a sample 5 s before it
    assert all(p["arrivals"] == pytest.approx(120) for p in points)
    assert all(p["admissions"] == pytest.approx(60) for p in points)
    assert points[-1] == {"t": T0 + 60, "arrivals": 120.0, "admissions": 60.0, "queue": 60,
                          "active": 3}  # fmt: skip
    # Without a step: about 180 points over the history there is (here 1 s apart).
    auto = sampler.series()
    assert len(auto) == 60
    assert auto[-1]["t"] - auto[-2]["t"] == 1
    # A reset of the event (new epoch) starts the history afresh.
    sampler.observe_snapshot(snap(T0 + 61, 1, 0, 0, epoch=2))
    assert len(sampler.samples) == 1
    assert sampler.series() == []


def test_old_samples_are_dropped_and_config_versions_are_timed() -> None:
    sampler = Sampler(keep=60, backend=Backend)
    for second in range(0, 200):
        sampler.observe_snapshot(snap(T0 + second, 0, 0, 0, version=1 + second // 100))
    assert sampler.samples[0].time >= T0 + 199 - 60
    assert sampler.config_version == 2
    assert sampler.config_seen_at == T0 + 100


def test_capacity_in_the_operators_words() -> None:
    assert capacity(12000)["summary"] == (
        "12,000/min = 200 registrations/s; NIK checks at 43.65 % = 87/s"
    )
    funnel = {step["step"]: step["per_second"] for step in capacity(12000)["funnel"]}
    assert funnel["verify_email"] == pytest.approx(147.7)
    assert funnel["join_batch"] == pytest.approx(10.86)
    assert per_second(4.365) == "4.4" and per_second(0.04) == "0.04" and per_second(1.0) == "1"


def test_opening_times() -> None:
    assert parse_when("2026-12-01T08:00+07:00") == 1796086800.0
    assert parse_when("2026-12-01T01:00Z") == 1796086800.0
    assert parse_when("1796086800") == 1796086800.0
    for bad in ("2026-12-01T08:00", "tomorrow", "nan", ""):
        with pytest.raises(ValueError, match=r"\w"):
            parse_when(bad)
    assert iso_wib(1796086800.0) == "2026-12-01T08:00+07:00"
    assert iso_wib(1796086801.0) == "2026-12-01T08:00:01+07:00"
    assert iso_wib(None) is None


def test_a_missing_chromium_skips_loudly_but_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import browser

    monkeypatch.setattr(browser, "chromium_path", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="NO CHROMIUM"):
        browser.require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="NO CHROMIUM"):
        browser.require_chromium()
    monkeypatch.setenv("WR_CHROMIUM", "/nonexistent/chromium")
    monkeypatch.undo()
    monkeypatch.setenv("WR_CHROMIUM", "/nonexistent/chromium")
    assert browser.chromium_path() is None
