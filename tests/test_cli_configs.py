"""Every shipped config passes ``convcli check`` and ``convcli gradcheck``, and
its expected values are what an independent computation (PyTorch, in
configs/torch_expected.py) gives, not numbers copied from convcli."""

from __future__ import annotations

import importlib.util
import json
import re

import numpy as np
import pytest
import yaml

from test_cli_helpers import CONFIGS, ROOT, run

SHIPPED = sorted(p.name for p in CONFIGS.glob("*.yaml"))


def test_the_configs_issue_3_asks_for_are_shipped():
    assert {"seed.yaml", "seed_once.yaml", "pool_forward.yaml", "pool_backward.yaml", "stack.yaml"} <= set(SHIPPED)
    seed = yaml.safe_load((CONFIGS / "seed.yaml").read_text())
    assert seed["layers"][0]["bias"] == "window"
    assert seed["expected"]["dA_prev.mean"] == 9.608990675868995  # the notebook's printed means
    assert seed["expected"]["dW.mean"] == 10.581741275547566
    assert seed["expected"]["db.mean"] == 76.37106919563735
    stack = yaml.safe_load((CONFIGS / "stack.yaml").read_text())
    assert [layer["type"] for layer in stack["layers"]] == ["conv", "relu", "pool"]
    assert stack["inputs"]["A_prev"]["file"].endswith(".h5")


def test_sample_data_is_small():
    for p in (ROOT / "sample_data").iterdir():
        assert p.stat().st_size < 64 * 1024, p


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_passes_check(name):
    result = run(["check", CONFIGS / name, "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] and doc["expected"], doc


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_passes_gradcheck(name):
    result = run(["gradcheck", CONFIGS / name, "--json", "--samples", "40"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert all(q["passed"] for q in json.loads(result.stdout)["quantities"])


@pytest.mark.parametrize("name", ["seed.yaml", "stack.yaml", "pool_backward.yaml"])
def test_shipped_config_passes_check_on_the_reference_engine(name):
    assert run(["check", CONFIGS / name, "--engine", "reference"]).exit_code == 0


@pytest.mark.torch
@pytest.mark.parametrize("name", SHIPPED)
def test_expected_values_match_an_independent_pytorch_computation(name, torch):
    spec = importlib.util.spec_from_file_location("torch_expected", CONFIGS / "torch_expected.py")
    oracle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle)
    theirs = oracle.CASES[name]()
    ours = yaml.safe_load((CONFIGS / name).read_text())["expected"]
    assert set(ours) <= set(theirs) | {"A", "dA_prev.shape"}, set(ours) - set(theirs)
    for key, entry in ours.items():
        if key not in theirs:
            continue
        value = entry["value"] if isinstance(entry, dict) else entry
        atol = entry.get("atol", 0) if isinstance(entry, dict) else 0
        # The notebook and the course print rounded values; PyTorch sums in
        # another order: 1e-12 relative, or the printed rounding.
        np.testing.assert_allclose(value, theirs[key], rtol=1e-12, atol=max(atol, 1e-13), err_msg=key)


def test_the_readme_config_example_passes_check(tmp_path):
    """The README's annotated config (every key) computes stack.yaml's network
    and says so: its expected values are stack.yaml's (from PyTorch, the test
    above), and it must pass as written (the review found it failing 4 of 5
    checks: another seed, a random bias, 4-digit values)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8").split("### The config", 1)[1]
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    cfg = tmp_path / "configs" / "readme.yaml"  # beside a sample_data link: its paths are ../sample_data/...
    cfg.parent.mkdir()
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data")
    cfg.write_text(example, encoding="utf-8")
    result = run(["check", cfg, "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] and len(doc["expected"]) >= 4, doc
    stack = yaml.safe_load((CONFIGS / "stack.yaml").read_text())["expected"]
    mine = yaml.safe_load(example)["expected"]
    for key in ("conv1.dW.mean", "conv1.Z[0, 0, 0]"):
        assert mine[key] == stack[key], key


def test_the_readme_check_against_example_is_what_check_prints(tmp_path):
    """The README's ``check --against`` session: ``mine/`` is ``backward``'s
    output of stack.yaml with dW[0, 1, 2, 3] raised by 0.01 (as its text
    says); every line it shows but ``...`` is a line check prints (a review
    found its FAIL line a release behind: no count of the elements that
    differ)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    session = text.split("$ convcli check configs/stack.yaml --against mine/\n", 1)[1].split("```", 1)[0]
    shown = [line.rstrip() for line in session.splitlines() if line.strip() and line.strip() != "..."]
    assert len(shown) >= 7
    mine = tmp_path / "mine"
    assert run(["backward", CONFIGS / "stack.yaml", "--out", mine]).exit_code == 0
    dW = np.load(mine / "conv1.dW.npy")
    dW[0, 1, 2, 3] += 0.01
    np.save(mine / "conv1.dW.npy", dW)
    result = run(["check", CONFIGS / "stack.yaml", "--against", mine])
    assert result.exit_code == 1, result.stdout + result.stderr
    printed = [line.rstrip() for line in result.stdout.splitlines()]
    missing = [line for line in shown if line not in printed]
    assert not missing, "\n".join(missing) + "\n--- printed:\n" + result.stdout


def test_the_readme_gradcheck_example_is_what_gradcheck_prints(monkeypatch):
    """The README's ``gradcheck configs/stack.yaml`` session: a walkthrough
    found its ReLU and pool rows a release behind (4.37e-17, 4.66e-17,
    where they come out exactly 0). Every line it shows is one gradcheck
    prints, but the conv rows' errors, rounding noise whose digits vary
    with the machine and the BLAS (as the README says): those rows are
    compared up to their error."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    session = text.split("$ convcli gradcheck configs/stack.yaml\n", 1)[1].split("```", 1)[0]
    shown = [line.rstrip() for line in session.splitlines() if line.strip()]
    assert len(shown) >= 8 and any(line.startswith("relu2.dA_prev") for line in shown)
    monkeypatch.chdir(ROOT)  # (the config as the README gives it, relative)
    result = run(["gradcheck", "configs/stack.yaml"])
    assert result.exit_code == 0, result.stdout + result.stderr
    printed = [line.rstrip() for line in result.stdout.splitlines()]

    def key(line: str) -> str:  # a conv row without its error
        return re.sub(r"\d\.\d\de-\d\d(?=   1\.00e-06)", "E", line) if line.startswith("conv1.") else line

    missing = [line for line in shown if key(line) not in {key(p) for p in printed}]
    assert not missing, "\n".join(missing) + "\n--- printed:\n" + result.stdout
