"""The README's promises: the two commands first, and a configuration table that is complete."""

from __future__ import annotations

from pathlib import Path

from tapewatch.settings import settings_table

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_starts_with_the_two_commands() -> None:
    head = "\n".join(README.splitlines()[:8])
    assert "make run" in head and "make test" in head


def test_every_setting_is_documented_with_its_default() -> None:
    for env, default, _ in settings_table():
        assert f"| `{env}` | `{default}` |" in README, f"{env} missing from README table"
