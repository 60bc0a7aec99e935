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


def _course_loops(slip: str = "") -> dict:
    """configs/course.yaml's network in the course's own loops (a student's
    notebook), with one slip of a class's (an instructor's review: stack.yaml
    passed a stride ignored and an average pool not divided)."""
    rng = np.random.RandomState(3)
    A, W1, b1 = rng.randn(4, 9, 9, 3), rng.randn(3, 3, 3, 4), rng.randn(4)
    W4, b4 = rng.randn(2, 2, 4, 6), rng.randn(6)
    g = rng.randn(4, 2, 2, 6)

    def conv(x, W, b, stride, pad):
        xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0))) if slip != "no_pad" else x
        f = W.shape[0]
        n = (x.shape[1] + 2 * pad - f) // stride + 1
        Z = np.zeros((x.shape[0], n, n, W.shape[3]))
        for i in range(x.shape[0]):
            for h in range(n):
                for w in range(n):
                    vs, hs = (h, w) if slip == "stride" else (h * stride, w * stride)
                    for c in range(W.shape[3]):
                        win = xp[i, vs:vs + f, hs:hs + f, :]
                        Z[i, h, w, c] = np.sum(win * W[..., c]) + b[c] if win.shape[:2] == (f, f) else 0.0
        return Z, (x, W, stride, pad)

    def conv_back(dZ, cache):
        x, W, stride, pad = cache
        f = W.shape[0]
        xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        dxp, dW, db = np.zeros_like(xp), np.zeros_like(W), np.zeros((dZ.shape[0], W.shape[3]))
        for i in range(dZ.shape[0]):
            for h in range(dZ.shape[1]):
                for w in range(dZ.shape[2]):
                    vs, hs = h * stride, w * stride
                    for c in range(dZ.shape[3]):
                        dxp[i, vs:vs + f, hs:hs + f, :] += W[..., c] * dZ[i, h, w, c]
                        term = xp[i, vs:vs + f, hs:hs + f, :] * dZ[i, h, w, c]
                        if slip == "assign":
                            dW[..., c] = term
                        else:
                            dW[..., c] += term
                        db[i, c] += dZ[i, h, w, c]
        dx = dxp if slip == "uncropped" else dxp[:, pad:dxp.shape[1] - pad, pad:dxp.shape[2] - pad, :]
        return dx, dW, db if slip == "db_per_sample" else db.sum(axis=0)

    def pool(x, f, stride, mode):
        n = (x.shape[1] - f) // stride + 1
        out = np.zeros((x.shape[0], n, n, x.shape[3]))
        for i in range(x.shape[0]):
            for h in range(n):
                for w in range(n):
                    for c in range(x.shape[3]):
                        win = x[i, h * stride:h * stride + f, w * stride:w * stride + f, :]
                        win = win if slip == "all_channels" else win[..., c]
                        out[i, h, w, c] = np.max(win) if mode == "max" else np.mean(win)
        return out

    def pool_back(dA, x, f, stride, mode):
        dx = np.zeros_like(x)
        for i in range(dA.shape[0]):
            for h in range(dA.shape[1]):
                for w in range(dA.shape[2]):
                    for c in range(dA.shape[3]):
                        vs, hs = h * stride, w * stride
                        win = x[i, vs:vs + f, hs:hs + f, c]
                        if mode == "max":
                            mask = win > np.max(win) if slip == "mask" else win == np.max(win)
                            dx[i, vs:vs + f, hs:hs + f, c] += mask * dA[i, h, w, c]
                        else:
                            share = dA[i, h, w, c] if slip == "average_sum" else dA[i, h, w, c] / (f * f)
                            dx[i, vs:vs + f, hs:hs + f, c] += share
        return dx

    Z1, c1 = conv(A, W1, b1, 2, 1)
    A2 = np.maximum(Z1, 0)
    A3 = pool(A2, 2, 1, "average")
    Z4, c4 = conv(A3, W4, b4, 1, 1)
    A5 = pool(Z4, 2, 2, "max")
    d4 = pool_back(g, Z4, 2, 2, "max")
    d3, dW4, db4 = conv_back(d4, c4)
    d2 = pool_back(d3, A2, 2, 1, "average")
    d1 = d2 if slip == "no_mask" else d2 * (Z1 > 0)
    d0, dW1, db1 = conv_back(d1, c1)
    return {"conv1.Z": Z1, "relu2.A": A2, "pool3.A": A3, "conv4.Z": Z4, "pool5.A": A5, "pool5.dA_prev": d4,
            "conv4.dA_prev": d3, "conv4.dW": dW4, "conv4.db": db4, "pool3.dA_prev": d2, "relu2.dA_prev": d1,
            "conv1.dA_prev": d0, "conv1.dW": dW1, "conv1.db": db1}


def test_the_course_config_fails_every_classic_slip_and_passes_the_course_s_loops(tmp_path):
    """configs/course.yaml is for grading a class: the course's loops pass
    all 14 quantities, and each slip of a class's fails one at least (an
    instructor's review graded 16 students on stack.yaml, whose stride 1 and
    max pool let a stride ignored and an average not divided pass)."""
    for slip in ("", "stride", "no_pad", "uncropped", "assign", "db_per_sample", "mask", "average_sum",
                 "all_channels", "no_mask"):
        folder = tmp_path / (slip or "right")
        folder.mkdir()
        for q, a in _course_loops(slip).items():
            np.save(folder / f"{q}.npy", a)
        doc = json.loads(run(["check", CONFIGS / "course.yaml", "--against", folder, "--complete", "--json"]).stdout)
        failed = [o["quantity"] for o in doc["against"] if not o["passed"]]
        assert doc["counts"]["against"]["checks"] == 14, (slip, doc["counts"])
        assert (failed == []) == (slip == ""), (slip, failed)
