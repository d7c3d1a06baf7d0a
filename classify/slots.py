"""Worker slots: which static group member this classify process is.

A static member id must be stable across a worker's restarts (so the restart takes the dead
process's partitions back at once) and unique among live workers (two live members with one id
replace each other in the group over and over). A slot is an exclusive lock on a file: the
kernel drops it the moment its process dies, even by SIGKILL, so the restarted worker takes
the same slot, and a second worker started next to a live one takes the next slot.

A warm standby (``tapewatch worker classify --standby``) loads its model first and then *waits*
on its slot's lock: the kernel hands the lock over the instant the active worker dies, so the
standby joins the group under the same static id while the dead member's session is still
open, and takes its partitions without a rebalance.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MAX_SLOTS = 64  # more classify workers than this on one host is a mistake, not a plan


class SlotTaken(RuntimeError):
    """The requested slot (or every slot) is held by another live worker on this host."""


@dataclass
class Slot:
    number: int
    _lock: IO[str]  # held open for the life of the process; closing it frees the slot

    def release(self) -> None:
        self._lock.close()


def slot_dir(state_dir: Path, group_id: str) -> Path:
    """Where the slot locks of consumer group ``group_id`` live."""
    return state_dir / "classify-slots" / group_id


def slot_path(lock_dir: Path, number: int) -> Path:
    return lock_dir / f"slot-{number}.lock"


def claim_slot(lock_dir: Path, wanted: int | None = None) -> Slot:
    """Lock slot ``wanted``, or the lowest free one; raises :class:`SlotTaken`."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    candidates = [wanted] if wanted is not None else range(MAX_SLOTS)
    for number in candidates:
        handle = slot_path(lock_dir, number).open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return Slot(number, handle)
    if wanted is not None:
        raise SlotTaken(f"classify worker slot {wanted} is held by another worker on this host")
    raise SlotTaken(f"all {MAX_SLOTS} classify worker slots on this host are held")


def wait_for_slot(lock_dir: Path, number: int) -> Slot:
    """Block until slot ``number`` is free, then hold it.

    Waiting is the standby's normal state and may last as long as the active worker lives; the
    wait is one blocking ``flock``, so the kernel wakes it the moment the holder dies (no
    polling delay). A signal still ends it: SIGTERM's default action, or a handler that raises.
    """
    lock_dir.mkdir(parents=True, exist_ok=True)
    handle = slot_path(lock_dir, number).open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
    except BaseException:
        handle.close()
        raise
    return Slot(number, handle)
