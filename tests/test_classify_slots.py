"""Worker slots: a live worker's slot is never handed to a second one, and a killed worker's
slot is free again at once for its restart."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from classify.slots import SlotTaken, claim_slot


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
