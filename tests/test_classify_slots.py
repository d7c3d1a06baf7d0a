"""Worker slots: a live worker's slot is never handed to a second one, and a killed worker's
slot is free again at once for its restart or for the standby waiting on it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from classify.slots import Slot, SlotTaken, claim_slot, wait_for_slot


def test_live_workers_get_distinct_slots_and_a_released_slot_is_reused(tmp_path: Path) -> None:
    first = claim_slot(tmp_path)
    second = claim_slot(tmp_path)
    assert (first.number, second.number) == (0, 1)
    with pytest.raises(SlotTaken, match="slot 1"):
        claim_slot(tmp_path, 1)
    first.release()
    assert claim_slot(tmp_path).number == 0


def test_a_sigkilled_holder_frees_its_slot_at_once(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from classify.slots import claim_slot; "
        f"s = claim_slot(Path({str(tmp_path)!r})); print(s.number, flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "0"
        assert claim_slot(tmp_path).number == 1  # slot 0 is held by the live process
        holder.kill()
        holder.wait()
        started = time.monotonic()
        assert claim_slot(tmp_path, 0).number == 0
        assert time.monotonic() - started < 0.5
    finally:
        holder.kill()
        holder.wait()


def test_a_standby_waiting_for_a_slot_gets_it_the_moment_its_holder_is_killed(
    tmp_path: Path,
) -> None:
    code = (
        "import sys, time; from pathlib import Path; from classify.slots import claim_slot; "
        f"s = claim_slot(Path({str(tmp_path)!r}), 0); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    got: list[tuple[Slot, float]] = []
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        waiter = threading.Thread(
            target=lambda: got.append((wait_for_slot(tmp_path, 0), time.monotonic()))
        )
        waiter.start()
        time.sleep(1.0)
        assert got == []  # waiting, for as long as the holder lives
        holder.kill()
        holder.wait()
        killed_at = time.monotonic()
        waiter.join(timeout=5)
        assert got and got[0][0].number == 0
        assert got[0][1] - killed_at < 0.2  # woken by the kernel, no polling interval
        with pytest.raises(SlotTaken):
            claim_slot(tmp_path, 0)  # and now the waiter holds it
    finally:
        holder.kill()
        holder.wait()
