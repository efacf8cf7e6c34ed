"""The README's quick start runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quick_start_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no python quick start"
    monkeypatch.chdir(tmp_path)  # it saves and_rule.joblib
    namespace = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert (tmp_path / "and_rule.joblib").exists()
    assert namespace["clf"].score(*namespace["make_boolean"]("and")) == 1.0
    assert namespace["search"].best_params_["hidden_layer_sizes"] in [(2,), (32,)]
