"""The drain clock: a backlog's sustained rate apart from the wait for its last events."""

from __future__ import annotations

from bench.drain_clock import DrainClock


def _clock(readings: list[tuple[float, float]], sent: int) -> DrainClock:
    now = [0.0]
    clock = DrainClock(sent, clock=lambda: now[0])
    for t, applied in readings:
        now[0] = t
        clock.observe(applied)
    return clock


def test_the_wait_for_the_last_events_is_not_throughput() -> None:
    # 1 000 events/s for 10 s, then the last 10 events wait 10 s (the sources' idle timeout)
    readings = [(float(t), 1000.0 * t) for t in range(1, 11)] + [(20.0, 10_010.0)]
    clock = _clock(readings, 10_010)
    assert clock.sustained_rate() == 1000.0
    assert round(clock.first_to_last_rate()) == 474  # what the old figure said
    assert clock.last_events_wait_s() == 10.0
    assert clock.report()["complete"] is True


def test_an_incomplete_drain_says_so_and_times_what_it_has() -> None:
    clock = _clock([(1.0, 100.0), (2.0, 300.0), (3.0, 500.0)], 10_000)
    assert clock.sustained_rate() == clock.first_to_last_rate() == 200.0
    assert clock.last_events_wait_s() is None
    report = clock.report()
    assert (report["complete"], report["applied"], report["events_per_s"]) == (False, 500, 200)


def test_readings_that_do_not_grow_are_not_samples() -> None:
    clock = _clock([(1.0, 0.0), (2.0, 50.0), (3.0, 50.0), (4.0, 40.0)], 100)
    assert clock.samples == [(2.0, 50.0)]
    assert clock.first_to_last_rate() == 0.0


def test_a_drain_stalls_only_after_it_started() -> None:
    now = [0.0]
    clock = DrainClock(100, clock=lambda: now[0])
    now[0] = 500.0
    assert not clock.stalled(60)  # nothing applied yet: the worker may still be starting
    clock.observe(10)
    now[0] = 561.0
    assert clock.stalled(60)
