"""Reading headlines for `tapewatch classify`: lines of text or a CSV with a ``text`` column.

Input is decoded as UTF-8 with ``surrogateescape`` so that one undecodable line becomes an
error record for that line instead of failing the whole file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO


class InputFormatError(ValueError):
    """The input file cannot be read in the requested format (e.g. a CSV without ``text``)."""


@dataclass(frozen=True, slots=True)
class InputItem:
    text: str  # printable: undecodable bytes shown as U+FFFD
    error: str | None = None  # set when the item cannot be classified at all


def _item(raw: str) -> InputItem:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        shown = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return InputItem(shown, "invalid UTF-8")
    return InputItem(raw)


def read_items(stream: BinaryIO, *, csv_format: bool) -> Iterator[InputItem]:
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
    if csv_format:
        reader = csv.DictReader(text)
        if reader.fieldnames is None or "text" not in reader.fieldnames:
            raise InputFormatError(
                f"CSV input needs a 'text' column; found {reader.fieldnames or 'no header'}"
            )
        for row in reader:
            yield _item(row["text"] or "")
        return
    for line in text:
        yield _item(line.rstrip("\r\n"))
