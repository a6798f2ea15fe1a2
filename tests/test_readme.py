"""The README's quick-start code runs as written (so the front door stays true)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start_blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Quick start") : text.index("## The formulas")]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_quick_start_runs(tmp_path, monkeypatch):
    for module in ("sklearn", "tensorboard", "seaborn", "tqdm"):
        pytest.importorskip(module)
    monkeypatch.chdir(tmp_path)
    blocks = quick_start_blocks()
    assert len(blocks) == 2
    training, differentiation = {}, {}
    exec(compile(blocks[0], str(README), "exec"), training)
    exec(compile(blocks[1], str(README), "exec"), differentiation)
    scores = training["model"].evaluate(training["X_test"], training["y_test"])
    assert scores["accuracy"] >= 0.93
    assert not differentiation["report"]  # the flipped sign is caught
    assert (tmp_path / "quickstart.png").stat().st_size > 10_000
    assert any((tmp_path / "runs" / "quickstart").rglob("events.out.tfevents.*"))
