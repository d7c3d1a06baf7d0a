"""Rewrite the README's configuration table from the settings object (after adding one)."""

from __future__ import annotations

from pathlib import Path

from tapewatch.settings import settings_markdown

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- settings-table:start -->\n", "<!-- settings-table:end -->"


def main() -> None:
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(head + START + settings_markdown() + "\n" + END + tail)


if __name__ == "__main__":
    main()
