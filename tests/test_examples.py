"""Every gallery example runs as a plain script, headless, in quick mode."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG = b"\x89PNG\r\n\x1a\n"

#: example -> the files it must write
OUTPUTS = {
    "plot_paper_experiments.py": ["paper_experiments.png", "squares_data.png"],
    "plot_grid_search.py": ["grid_search.png"],
    "plot_saved_optimizer.py": ["saved_optimizer.png", "and_rule.joblib"],
    "plot_pipeline.py": ["pipeline.png"],
    "plot_custom_rule.py": ["custom_rule.png"],
}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("plot_*.py")) == sorted(OUTPUTS)


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_example_runs(name, tmp_path):
    script = EXAMPLES / name
    text = script.read_text()
    # sphinx-gallery form: an RST title in the docstring, then # %% cells
    title = text.split('"""')[1].strip().splitlines()
    assert set(title[0]) == {"="} and len(title[0]) >= len(title[1])
    assert "# %%" in text
    env = {**os.environ, "MPLBACKEND": "Agg", "SK_METABP_EXAMPLE_QUICK": "1"}
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for out in OUTPUTS[name]:
        path = tmp_path / "out" / out
        assert path.stat().st_size > 0, out
        if out.endswith(".png"):
            assert path.read_bytes()[:8] == PNG
