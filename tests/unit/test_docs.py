"""The README's generated tables (annotations, settings, metrics) match the code.

`make docs` rewrites them; this fails when someone changes the code and forgets to.
"""

from __future__ import annotations

import pytest

from controller.config import Settings
from controller.docs import README, SETTING_DOCS, annotation_table, render, settings_table
from controller.model import ANNOTATIONS
from controller.model.annotations import PREFIX


def test_the_readme_tables_are_current() -> None:
    current = README.read_text()
    assert render(current) == current, "README.md is stale: run `make docs`"


def test_a_stale_table_is_detected() -> None:
    current = README.read_text()
    stale = current.replace(f"`{PREFIX}scheme`", f"`{PREFIX}schema`", 1)
    assert stale != current
    assert render(stale) == current


def test_missing_markers_are_an_error() -> None:
    with pytest.raises(ValueError, match="annotations:start"):
        render("# a README without tables\n")


def test_every_annotation_has_a_row() -> None:
    table = annotation_table()
    for spec in ANNOTATIONS:
        assert f"| `{PREFIX}{spec.name}` |" in table


def test_every_setting_is_documented_and_nothing_else() -> None:
    assert set(SETTING_DOCS) == set(Settings.model_fields)
    table = settings_table()
    for name in Settings.model_fields:
        assert f"`{name.upper()}`" in table
