"""A failing stage ends the worker: exit 70 to replay, exit 78 when the state outgrew its limit."""

from __future__ import annotations

import asyncio

import pytest

import streams.stage_io
from streams.errors import RESTART_EXIT_CODE, STATE_LIMIT_EXIT_CODE, StateTooLargeError


class _Exited(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _exit_code(monkeypatch: pytest.MonkeyPatch, error: Exception) -> int:
    def fake_exit(code: int) -> None:
        raise _Exited(code)

    async def step() -> None:
        raise error

    monkeypatch.setattr(streams.stage_io.os, "_exit", fake_exit)
    with pytest.raises(_Exited) as exited:
        asyncio.run(streams.stage_io.or_exit(step(), "join"))
    return exited.value.code


def test_a_failed_stage_exits_70_so_that_a_restart_replays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _exit_code(monkeypatch, RuntimeError("boom")) == RESTART_EXIT_CODE == 70


def test_state_over_the_record_limit_exits_78_and_says_what_to_change(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    error = StateTooLargeError("join bucket 3 is 925040 bytes; use more monitor.join_buckets")
    assert _exit_code(monkeypatch, error) == STATE_LIMIT_EXIT_CODE == 78
    assert "outgrew the record limit" in caplog.text
    assert "monitor.join_buckets" in caplog.text
