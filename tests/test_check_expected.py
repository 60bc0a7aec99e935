"""``expected:`` values whose shape does not fit what they select are refused
before anything runs (exit 2, naming the entry); one number may stand for
every element of a selection or a whole quantity.

The config below makes every number known by hand: A_prev and W are zeros,
so conv1.Z = b everywhere: 0.5 in channel 0, -1.5 in channel 1.
"""

from __future__ import annotations

import json

import pytest

from test_cli_helpers import assert_error, run, write

CONFIG = """\
inputs:
  A_prev: {{zeros: [2, 4, 4, 3]}}
  W: {{zeros: [3, 3, 3, 2]}}
  b: {{value: [0.5, -1.5]}}
layers:
  - {{type: conv, W: W, b: b, pad: 1}}
expected:
  {entry}
"""


def config(tmp_path, entry: str):
    return write(tmp_path, CONFIG.format(entry=entry))


@pytest.mark.parametrize(
    "entry, fragments",
    [
        ("Z[0, 0, 0, :2]: [0.5, -1.5, 3]",
         ("expected['Z[0, 0, 0, :2]'] (line 8)", "the value has shape (3,) but the selection has shape (2,)",
          "give a list of 2 numbers, or one number for every element")),
        ("db: [0, 0, 0]", ("expected.db (line 8)", "the value has shape (3,) but conv1.db has shape (2,)")),
        ("Z[0, 0]: [0.5, -1.5]",
         ("the value has shape (2,) but the selection has shape (4, 2): give a nested list of shape (4, 2)",)),
        ("Z[1, 2, 3, 0]: [0.5]", ("has shape (1,) but the selection has shape (): give one number",)),
        # a review's campaign: a missing ] was told that "an index goes at the end"
        ("'Z[1, 2': 0.5", ("expected['Z[1, 2'] (line 8)", "cannot read 'Z[1, 2': a [ is not closed; an index is "
                                                          "written as in Z[0, 1]")),
        ("'Z1, 2]': 0.5", ("cannot read 'Z1, 2]': a ] has no [",)),
        # (a learner's review: both were told that "an index goes at the end")
        ("'Z[[0, 1]]': 0.5", ("cannot read 'Z[[0, 1]]': an index holds ints, slices like 0:2 and one ..., not lists "
                              "(no fancy indexing): one entry per element, as in Z[0, 1] and Z[1, 1]",)),
        ("'Z[0][1]': 0.5", ("cannot read 'Z[0][1]': write one index, as in Z[0, 1] (not Z[0][1])",)),
        ("'Z[0].mean[1]': 0.5", ("cannot read 'Z[0].mean[1]': an index goes at the end, as in Z[0, 1]",)),
    ],
)
def test_a_value_of_the_wrong_shape_is_refused_before_running(tmp_path, monkeypatch, entry, fragments):
    monkeypatch.setattr("convcli.runner.run", lambda *a, **k: pytest.fail("ran"))
    assert_error(run(["check", config(tmp_path, entry)]), *fragments)


@pytest.mark.parametrize(
    "entry",
    [
        "Z[0, 0, 0, :2]: [0.5, -1.5]",
        "Z[..., 0]: 0.5",  # one number for a (2, 4, 4) selection
        "Z[1, :, 2:, 1]: -1.5",
        "b: [0.5, -1.5]",
        "conv1.Z[0]: [[[0.5, -1.5], [0.5, -1.5], [0.5, -1.5], [0.5, -1.5]],"
        " [[0.5, -1.5], [0.5, -1.5], [0.5, -1.5], [0.5, -1.5]],"
        " [[0.5, -1.5], [0.5, -1.5], [0.5, -1.5], [0.5, -1.5]],"
        " [[0.5, -1.5], [0.5, -1.5], [0.5, -1.5], [0.5, -1.5]]]",
    ],
)
def test_values_that_fit_pass(tmp_path, entry):
    result = run(["check", config(tmp_path, entry)])
    assert result.exit_code == 0, result.stdout + result.stderr


def test_one_number_for_a_whole_quantity_checks_every_element(tmp_path):
    result = run(["check", config(tmp_path, "Z: 0.5"), "--json"])
    assert result.exit_code == 1
    (outcome,) = json.loads(result.stdout)["expected"]
    # Channel 1 is -1.5: the first element beyond tolerance is the first of channel 1.
    assert outcome["first_index"] == [0, 0, 0, 1]
    assert outcome["note"] == "first at [0, 0, 0, 1]: got -1.5, expected 0.5"
    assert outcome["abs_err"] == 2.0


@pytest.mark.parametrize("entry, note", [
    # conv1.Z.mean is the mean of b over every position: (0.5 - 1.5) / 2 = -0.5
    ("Z.mean: .nan", "got -0.5, expected nan: only nan itself matches it"),
    ("Z.mean: .inf", "got -0.5, expected inf: only inf itself matches it"),  # (1e400 is refused: test_config)
    ("Z.mean: 0.25", "got -0.5, expected 0.25: abs err 7.50e-01 > 2.60e-07 allowed"),  # 1e-8 + 1e-6 * 0.25
])
def test_a_non_finite_expected_statistic_says_only_itself_matches(tmp_path, entry, note):
    """The review's repro: ``Z.mean: .nan`` said "abs err inf > nan allowed"."""
    result = run(["check", config(tmp_path, entry), "--json"])
    assert result.exit_code == 1, result.stderr
    (outcome,) = json.loads(result.stdout)["expected"]
    assert outcome["note"] == note


def test_a_statistic_of_a_selection(tmp_path):
    """An instructor's review: an entry could not take a statistic over a
    selection (one channel's mean). By hand, relu of [[1, -2], [3, 4]] (one
    sample, one row, two columns, two channels): channel 0 is 1 and 3, mean
    2; channel 1 is 0 and 4, max 4; column 1 is 3 and 4, sum 7."""
    cfg = write(tmp_path, "inputs: {A_prev: {value: [[[[1, -2], [3, 4]]]]}}\nlayers: [{type: relu}]\nexpected:\n"
                          "  relu1.A[..., 0].mean: 2\n  relu1.A[..., 1].max: 4\n  A[0, 0, 1].sum: 7\n"
                          "  relu1.A[0, 0].shape: [2, 2]\n")
    result = run(["check", cfg])
    assert result.exit_code == 0 and "all 4 checks passed" in result.stdout, result.stdout
    bad = write(tmp_path, "inputs: {A_prev: {value: [[[[1, -2], [3, 4]]]]}}\nlayers: [{type: relu}]\nexpected:\n"
                          "  relu1.A[..., 1].mean: 1\n", "bad.yaml")
    result = run(["check", bad])
    assert result.exit_code == 1 and "got 2.0, expected 1.0" in result.stdout
    unknown = write(tmp_path, "inputs: {A_prev: {value: [[[[1]]]]}}\nlayers: [{type: relu}]\nexpected:\n"
                              "  relu1.A[0].maen: 1\n", "unknown.yaml")
    assert_error(run(["check", unknown]), "unknown stat 'maen' (did you mean 'mean'?)")


def test_the_heading_says_the_tolerance_the_values_passed_by(tmp_path):
    """A review: an entry far under atol passed with rel err 224% and
    nothing said why; --against's heading named the tolerance, this one did
    not. Z is b everywhere (zero input and weights): Z.mean is (0.5 - 1.5) / 2."""
    cfg = config(tmp_path, "Z.mean: -0.5")
    out = run(["check", cfg]).stdout
    assert out.splitlines()[0] == f"convcli check {cfg}: expected values from {cfg} (float64, rtol 1e-06, atol 1e-08)"
    cfg = config(tmp_path, "{Z.mean: -0.5, Z.max: {value: 0.5, atol: 0.1}}")
    out = run(["check", cfg, "--dtype", "float32"]).stdout
    assert out.splitlines()[0].endswith("(float32, rtol 0.0001, atol 1e-05; some entries set their own)")


def test_json_gives_the_values_where_an_entry_first_differs(tmp_path):
    """A review: a failed expected: entry had first_index but its two values
    only in the note's words (--against's had got_at_first and
    expected_at_first). Z is b everywhere: 0.5 in channel 0, -1.5 in 1."""
    cfg = config(tmp_path, "{Z.mean: 5.0, 'Z[0, 0, 0]': [0.5, 2.0], Z.shape: [1, 2, 3, 4]}")
    doc = json.loads(run(["check", cfg, "--json"]).stdout)
    got = {e["entry"]: (e["first_index"], e["got_at_first"], e["expected_at_first"]) for e in doc["expected"]}
    assert got == {"Z.mean": (None, -0.5, 5.0), "Z[0, 0, 0]": ([0, 0, 0, 1], -1.5, 2.0), "Z.shape": (None, None, None)}


def test_a_layer_s_weights_named_under_the_layer_point_at_the_input(tmp_path):
    """A review: ``conv1.W.mean`` suggested 'conv1.dW', the gradient; the
    weights are the input the config names (W1 in stack.yaml), and so is
    the bias."""
    from test_cli_helpers import CONFIGS

    for key, meant in (("conv1.W", "W1"), ("conv1.W1", "W1"), ("conv1.b", "b1")):
        exp = write(tmp_path, f"expected:\n  {key}.mean: 1.0\n", "e.yaml")
        assert_error(run(["check", CONFIGS / "stack.yaml", "--expected", exp]),
                     f"unknown quantity '{key}' (did you mean '{meant}'?)")


def test_beside_your_arrays_the_configs_entries_are_a_table_only_where_one_fails(tmp_path):
    """An instructor's review: every --against report opened with the
    config's expected values, 11 lines of "pass", before the student's
    table. Beside your arrays they are counted in the last line, and a table
    only where one fails."""
    from test_cli_helpers import CONFIGS, run

    assert run(["backward", CONFIGS / "stack.yaml", "--out", tmp_path / "key"]).exit_code == 0
    out = run(["check", CONFIGS / "stack.yaml", "--against", tmp_path / "key"]).stdout
    assert "expected values from" not in out and "relu2.A.mean" not in out, out
    assert out.rstrip().endswith("expected values: all 11 checks passed"), out
    cfg = tmp_path / "stack.yaml"  # one entry wrong: its table is shown
    text = (CONFIGS / "stack.yaml").read_text().replace("relu2.A.mean: 0.0567", "relu2.A.mean: 0.0667")
    cfg.write_text(text.replace("../sample_data", str(CONFIGS.parent / "sample_data")))
    out = run(["check", cfg, "--against", tmp_path / "key"]).stdout
    assert f"convcli check {cfg}: expected values from" in out and "relu2.A.mean" in out, out
