"""A failing stage ends the worker: exit 70 to replay, exit 78 when its stored state is refused."""

from __future__ import annotations

import asyncio

import pytest

import streams.stage_io
from streams.errors import RESTART_EXIT_CODE, STATE_LIMIT_EXIT_CODE, StateRefusedError


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


def test_a_refused_stored_state_exits_78_and_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    error = StateRefusedError("the stored value 'm/t' does not match its header; remove it")
    assert _exit_code(monkeypatch, error) == STATE_LIMIT_EXIT_CODE == 78
    assert "cannot use its stored state" in caplog.text
    assert "remove it" in caplog.text
