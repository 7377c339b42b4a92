"""AlertPolicy and RetrainTrigger: warm-up, hysteresis, cooldown, severity."""

from __future__ import annotations

from streams.policy import AlertPolicy, RetrainTrigger


def test_min_samples_and_warmup_after_rebaseline() -> None:
    policy = AlertPolicy(min_samples=100, warmup=50, confirmations=1, confirm_within=10, cooldown=0)
    assert not policy.observe(99, True)
    assert policy.observe(100, True)
    policy.rebaseline(200)
    assert not policy.observe(249, True)
    assert policy.observe(250, True)


def test_hysteresis_needs_confirmations_within_window() -> None:
    policy = AlertPolicy(min_samples=0, warmup=0, confirmations=3, confirm_within=10, cooldown=0)
    assert not policy.observe(1, True)
    assert not policy.observe(5, True)
    assert not policy.observe(20, True)  # the first two fell out of the window
    assert not policy.observe(25, True)
    assert policy.observe(28, True)


def test_cooldown_suppresses_then_releases() -> None:
    policy = AlertPolicy(min_samples=0, warmup=0, confirmations=1, confirm_within=1, cooldown=100)
    assert policy.observe(10, True)
    assert not policy.observe(109, True)
    assert policy.observe(110, True)


def test_no_firing_never_alerts() -> None:
    policy = AlertPolicy(min_samples=0, warmup=0, confirmations=1, confirm_within=1, cooldown=0)
    assert not any(policy.observe(i, False) for i in range(1000))


def test_retrain_severity_cooldown_min_labels_in_event_time() -> None:
    trigger = RetrainTrigger(["critical"], cooldown=60.0, min_labels=10)
    assert not trigger.should_request("warning", 100, 0.0)
    assert not trigger.should_request("critical", 9, 0.0)
    assert trigger.should_request("critical", 10, 0.0)
    assert not trigger.should_request("critical", 20, 59.0)
    assert trigger.should_request("critical", 20, 60.0)
