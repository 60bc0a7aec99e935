"""Expected entries and comparisons (convcli/check.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from convcli.check import compare, parse_index
from convcli.conv import conv_forward as cc_conv_forward
from convcli.errors import ConvcliError


def test_parse_index_forms():
    shape = (10, 7, 7, 8)
    assert parse_index("0, 3, 3", shape, "Z", "w") == (0, 3, 3)
    assert parse_index("-1, :, 1:3, ::2", shape, "Z", "w") == (-1, slice(None), slice(1, 3), slice(None, None, 2))
    assert parse_index("..., 7", shape, "Z", "w") == (Ellipsis, 7)
    assert parse_index("0,", shape, "Z", "w") == (0,)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("10", "index 10 is out of range for axis 0"),
        ("..., 8", "index 8 is out of range for axis 3"),
        ("-11", "index -11 is out of range for axis 0"),
        ("0, 0, 0, 0, 0", "too many indices (5)"),
        ("0, ::0", "a slice step cannot be 0"),
        ("0, a", "cannot read index 'a'"),
        ("..., 0, ...", "only one '...'"),
        ("0:0", "slice 0:0 selects nothing on axis 0 of conv1.Z, which has size 10"),
        ("..., 100:", "slice 100: selects nothing on axis 3 of conv1.Z, which has size 8"),
        ("0, 5:2", "slice 5:2 selects nothing on axis 1"),
        ("0, 0, ::-1, -20:-9", "slice -20:-9 selects nothing on axis 3"),
        # a sign alone as a bound reached int() and stopped every command with exit 3 (a review)
        ("0, -:, 0, 0", "cannot read index '-:'"),
        ("+:", r"cannot read index '\+:'"),  # (a regex: the + escaped)
        ("-:2", "cannot read index '-:2'"),
        ("::+", r"cannot read index '::\+'"),
    ],
)
def test_parse_index_errors(text, fragment):
    with pytest.raises(ConvcliError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_index(text, (10, 7, 7, 8), "conv1.Z", "w")


def test_compare_tolerance_is_atol_plus_rtol_times_expected():
    ok, abs_err, rel_err, first, _ = compare([1.0 + 1.5e-6], [1.0], rtol=1e-6, atol=1e-6)
    assert ok and abs_err == pytest.approx(1.5e-6) and rel_err == pytest.approx(1.5e-6)
    assert not compare([1.0 + 2.5e-6], [1.0], rtol=1e-6, atol=1e-6)[0]
    ok, _, _, first, _ = compare([[1.0, 2.0], [3.0, 4.1]], [[1.0, 2.0], [3.0, 4.0]], rtol=1e-6, atol=1e-8)
    assert not ok and first == (1, 1)


def test_compare_nan_and_inf():
    nan, inf = float("nan"), float("inf")
    assert compare([nan, inf, -inf], [nan, inf, -inf], 0, 0)[0]
    ok, abs_err, _, first, _ = compare([1.0, nan], [1.0, 2.0], 1e-6, 1e-8)
    assert not ok and first == (1,) and math.isinf(abs_err)
    assert not compare([inf], [-inf], 1e-6, 1e-8)[0]


def test_an_infinity_or_nan_got_never_matches_a_finite_expected_value():
    """A review: where the bound atol + rtol*|expected| overflowed to inf
    (1e308 at rtol 2, 1e300 at rtol 1e10), inf and NaN got passed, as
    inf <= inf; only an infinity or a NaN itself matches one."""
    inf, nan = float("inf"), float("nan")
    with np.errstate(over="ignore"):  # (the bound's overflow warns, as the CLI's --debug shows)
        assert not compare([inf], [1e308], rtol=2, atol=0)[0]
        assert not compare([nan], [1e300], rtol=1e10, atol=0)[0]
        assert not compare([1.0, -inf], [1.0, -1e308], rtol=10, atol=1e308)[0]
        assert compare([1e308], [1e308], rtol=2, atol=0)[0]  # a finite one within the bound still passes


def test_relative_error_beside_a_non_finite_expected_element():
    """A review: inf/inf and x/NaN made the relative error NaN, shown as
    "-" (not computed) and hiding the other elements' error. An element
    that differs from an expected inf or NaN is infinitely off; one that
    matches it is not off at all, and the others' error stands."""
    nan, inf = float("nan"), float("inf")
    for expected in ([inf, 2.0], [nan, 2.0], [-inf, 2.0]):
        ok, abs_err, rel_err, first, _ = compare([1.0, 2.0], expected, 1e-6, 1e-8)
        assert not ok and first == (0,) and abs_err == inf and rel_err == inf, expected
    for both in (inf, nan, -inf):
        ok, abs_err, rel_err, first, _ = compare([both, 2.5], [both, 2.0], 1e-6, 1e-8)
        assert not ok and first == (1,) and abs_err == 0.5 and rel_err == 0.25, both


def test_compare_shapes_must_match():
    ok, _, _, _, note = compare(np.zeros((2, 3)), np.zeros((3, 2)), 1, 1)
    assert not ok and note == "shape (2, 3), expected (3, 2)"


def test_compare_of_nothing_fails():
    """Zero elements must not pass vacuously."""
    ok, _, _, _, note = compare(np.zeros((0, 3)), np.zeros((0, 3)), 1, 1)
    assert not ok and "nothing to compare" in note


def test_relative_error_against_zero():
    ok, abs_err, rel_err, _, _ = compare([1e-9], [0.0], 1e-6, 1e-8)
    assert ok and rel_err == math.inf and abs_err == pytest.approx(1e-9)


# --------------------------------------------------------------------- where an element is


def test_first_index_is_in_the_whole_quantity_even_when_it_is_huge():
    """Z[5, 2:10:3, -1] of an (11, 1000, 1000) quantity (11M elements, more
    than the old arange() shortcut would index): local element [2] of the
    selection is Z[5, 2 + 2*3, 999]."""
    from convcli.check import Entry, evaluate_expected

    big = np.broadcast_to(np.zeros(()), (11, 1000, 1000))  # no memory
    entry = Entry("Z[5, 2:10:3, -1]", "conv1.Z", None, (5, slice(2, 10, 3), -1), np.array([0.0, 0.0, 1.0]),
                  1e-6, 1e-8)
    (outcome,) = evaluate_expected([entry], {"conv1.Z": big})
    assert not outcome.passed
    assert outcome.first == [5, 8, 999]
    assert "first at [5, 8, 999]: got 0.0, expected 1.0" in outcome.note


INDICES = [
    (0, slice(None), 2),
    (Ellipsis, 1),
    (slice(1, None, 2), Ellipsis, slice(None, None, -1)),
    (-1,),
    (slice(-3, -1), -2, Ellipsis),
    (1, slice(None, None, -2), slice(3, 0, -1)),
]


@pytest.mark.parametrize("index", INDICES, ids=[str(i) for i in INDICES])
def test_global_index_agrees_with_numpy(index):
    """Oracle: index an array of its own flat positions, as NumPy does."""
    from convcli.check import _global, selection_shape

    shape = (3, 5, 4)
    positions = np.arange(np.prod(shape)).reshape(shape)[index]
    assert selection_shape(shape, index) == positions.shape
    for local in np.ndindex(positions.shape):
        expected = [int(i) for i in np.unravel_index(int(positions[local]), shape)]
        assert _global(shape, index, local) == expected, (index, local)


def test_the_scale_hint_names_a_factor_only_where_there_is_one():
    """The review's cases: a dW divided by m reads "1/10", a negated one
    "-1/10", a float32 third "1/3"; arrays within atol of zero fit any
    factor and get none, and neither does a factor within 1e-3 of 1."""
    from convcli.check import _scale_hint

    a = np.random.default_rng(0).standard_normal((4, 5))
    hint = lambda theirs, ours=a, rtol=1e-6, atol=1e-8: _scale_hint(theirs, ours, rtol, atol)  # noqa: E731
    assert hint(a / 10) == "; yours is convcli's times 1/10 everywhere"
    assert hint(-a / 10) == "; yours is convcli's times -1/10 everywhere"
    assert hint(a * 3) == "; yours is convcli's times 3 everywhere"
    assert hint(a * 0.37) == "; yours is convcli's times 0.37 everywhere"
    third = (a / 3).astype(np.float32)
    assert hint(third, a.astype(np.float32), 1e-4, 1e-5) == "; yours is convcli's times 1/3 everywhere"
    assert hint(a * 1e-12) == "" and hint(np.random.default_rng(1).standard_normal(a.shape) * 1e-9) == ""
    assert hint(a * (1 + 2e-6)) == ""  # a rounding difference, not a mistake
    assert hint(a + 1) == "" and hint(np.zeros_like(a)) == ""
    # (a review) one value (a one-element db, a constant map) is any number times something: only a whole ratio
    # says anything there (an average pool's gradient of ones over f, not f * f: times 2)
    one = np.array([9.45043658766613])
    assert hint(one + 0.5, one) == "" and hint(np.full(6, 0.5), np.full(6, 0.25)) == (
        "; yours is convcli's times 2 everywhere")
    assert hint(-one / 4, one) == "; yours is convcli's times -1/4 everywhere"


def test_h5_errors_converts_a_corrupt_file_not_a_bad_request():
    """HDF5's own failure on a file is the user's error; h5py refusing what
    it was asked (a selection, a name not there) is convcli's, and stays one."""
    import h5py

    from convcli.arrays import h5_errors

    f = h5py.File("in-memory.h5", "w", driver="core", backing_store=False)
    f["x"] = np.arange(6.0)
    with pytest.raises(ValueError, match="Step must be >= 1"), h5_errors("here", "in-memory.h5"):
        f["x"][::-1]
    with pytest.raises(KeyError), h5_errors("here", "in-memory.h5"):
        f["no_such_name"]
    f.close()
    # (A corrupt file's own errors becoming ConvcliError: tests/test_corrupt_files.py.)


def test_two_arrays_for_one_quantity_grade_one_and_list_the_other(tmp_path):
    """A grading review: conv1.Z.npy beside Z.npy (or conv1.Z beside conv1/Z
    in an .h5) stopped the whole submission with exit 2, even identical
    copies. The one whose name says the quantity whole is graded, the other
    listed; an empty .h5 or .npz under --complete is graded, every quantity
    missing (exit 1), as an empty folder is."""
    import json

    import h5py

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "ref"]).exit_code == 0
    Z = np.load(tmp_path / "ref" / "conv1.Z.npy")
    mine = tmp_path / "mine"
    mine.mkdir()
    np.save(mine / "Z.npy", 2 * Z)  # sorts first, and is wrong
    np.save(mine / "conv1.Z.npy", Z)
    np.save(mine / "a.Z.npy", Z)  # (not a quantity: listed as unknown on its own)
    doc = json.loads(run(["check", cfg, "--against", mine, "--json"]).stdout)
    assert [(a["entry"], a["status"]) for a in doc["against"]] == [("conv1.Z.npy", "pass")]
    assert [(u["entry"], u["note"]) for u in doc["unknown"] if u["entry"] != "a.Z.npy"] == [
        ("Z.npy", "also conv1.Z: conv1.Z.npy is graded instead, and the two differ; keep one")]
    with h5py.File(tmp_path / "mine.h5", "w") as f:
        f["Z"] = 3 * Z
        f["a/Z"] = 2 * Z
        f["b/Z"] = Z.astype(np.float32).astype(np.float64)  # rounded: not the same numbers
        f["c/Z"] = Z
        f["conv1/Z"] = Z
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "mine.h5", "--json"]).stdout)
    assert [a["entry"] for a in doc["against"]] == ["conv1/Z"]  # the first whole name in the file's order
    # (a later review: with three, a note named one that was itself swapped out) each names the one graded
    assert sorted((u["entry"], u["note"]) for u in doc["unknown"]) == [
        ("Z", "also conv1.Z: conv1/Z is graded instead, and the two differ; keep one"),
        ("a/Z", "also conv1.Z: conv1/Z is graded instead, and the two differ; keep one"),
        ("b/Z", "also conv1.Z: conv1/Z is graded instead, and the two differ; keep one"),
        ("c/Z", "also conv1.Z: conv1/Z is graded instead (the same numbers); keep one")]
    for empty in ("e.h5", "e.npz"):
        if empty.endswith(".h5"):
            h5py.File(tmp_path / empty, "w").close()
        else:
            np.savez(tmp_path / empty)
        result = run(["check", cfg, "--against", tmp_path / empty, "--complete", "--json"])
        doc = json.loads(result.stdout)
        assert result.exit_code == 1 and doc["counts"]["against"]["missing"] == 4, result.output


def test_a_float32_submission_s_mistake_is_still_named(tmp_path):
    """A grading review: arrays computed in float32 with a real mistake lost
    their hint against a float64 run (the hints looked at rtol 1e-6, which a
    float32 array never meets): the notebook's bias in every window, a dW
    divided by 4, NCHW maps. They are now looked for at float32's
    precision. The mistakes are made by hand from convcli's float32 run:
    Z + (f*f*n_C_prev - 1) b = the window-bias Z (3*3*3 = 27 terms)."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    assert run(["backward", cfg, "--dtype", "float32", "--out", tmp_path / "ref"]).exit_code == 0
    ref = {q: np.load(tmp_path / "ref" / f"{q}.npy") for q in ("conv1.Z", "b1", "conv1.dW", "relu2.A")}
    mine = tmp_path / "mine"
    mine.mkdir()
    np.save(mine / "conv1.Z.npy", ref["conv1.Z"] + np.float32(26) * ref["b1"].reshape(-1))
    np.save(mine / "conv1.dW.npy", ref["conv1.dW"] / np.float32(4))
    np.save(mine / "relu2.A.npy", ref["relu2.A"].transpose(0, 3, 1, 2))
    doc = json.loads(run(["check", cfg, "--against", mine, "--json"]).stdout)
    hints = {a["quantity"]: a["hints"] for a in doc["against"]}
    assert hints == {"conv1.Z": ["bias_window"], "conv1.dW": ["scale"], "relu2.A": ["axis_order"]}, doc["against"]
    # a later review: a correct float32 array must get no mistake's hint at that precision (seed.yaml's
    # db, (1, 1, 1, 8), was told to transpose its length-1 axes), only how to grade it in float32
    seed = CONFIGS / "seed.yaml"
    assert run(["backward", seed, "--dtype", "float32", "--out", tmp_path / "f32"]).exit_code == 0
    for name in ("summary.json", "expected.yaml"):
        (tmp_path / "f32" / name).unlink()
    doc = json.loads(run(["check", seed, "--against", tmp_path / "f32", "--json"]).stdout)
    assert {a["quantity"]: a["hints"] for a in doc["against"] if not a["passed"]} == {
        q: ["float32"] for q in ("conv1.Z", "conv1.dA_prev", "conv1.dW")}
    # db, summed in float64 since (it was off by 2.3e-6 of its terms' magnitudes), is within rtol 1e-6
    # of the float64 run's: it passes, hint or not
    assert [(a["quantity"], a["passed"], a["hints"]) for a in doc["against"] if a["quantity"] == "conv1.db"] == [
        ("conv1.db", True, [])]


def test_each_layer_json_names_the_other_inputs_the_table_names(tmp_path):
    """A grading review: work done on other input rows (slice 2:6 for 0:4)
    got other_inputs in every hint without --each-layer, but none with it,
    though its table's note said so. With --each-layer the layers that take
    the config's input (conv1: its Z and dW) follow from it; the rest ran
    on the user's own arrays and carry nothing over."""
    import json

    import yaml

    from test_cli_helpers import CONFIGS, run

    data = yaml.safe_load((CONFIGS / "stack.yaml").read_text())
    for src in data["inputs"].values():
        if "file" in src:
            src["file"] = str((CONFIGS / src["file"]).resolve())
    data["inputs"]["A_prev"]["slice"] = "2:6"
    data.pop("expected", None)
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(data))
    assert run(["backward", tmp_path / "other.yaml", "--out", tmp_path / "other"]).exit_code == 0
    (tmp_path / "other" / "summary.json").unlink()  # a student's folder, not convcli's own
    doc = json.loads(run(["check", CONFIGS / "stack.yaml", "--against", tmp_path / "other",
                          "--each-layer", "--json"]).stdout)
    hints = {a["quantity"]: a["hints"] for a in doc["against"] if a["status"] == "fail"}
    assert hints["conv1.Z"] == ["other_inputs"] and hints["conv1.dW"] == ["other_inputs"], hints


def test_arrays_linked_from_outside_the_submission_are_named(tmp_path):
    """A grading review: a folder of symlinks to the key (or an .h5 of
    external links to it) got full marks without a word. They are graded as
    given, and each is named with where it really is (linked_from); a link
    inside the submission is not."""
    import json
    import os

    import h5py

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    os.symlink(tmp_path / "key" / "conv1.Z.npy", sub / "conv1.Z.npy")
    (sub / "mine").mkdir()
    np.save(sub / "mine" / "dW.npy", np.load(tmp_path / "key" / "conv1.dW.npy"))
    os.symlink(sub / "mine" / "dW.npy", sub / "conv1.dW.npy")  # inside: not named
    result = run(["check", cfg, "--against", sub, "--json"])
    linked = {a["entry"]: a["linked_from"] for a in json.loads(result.stdout)["against"]}
    assert result.exit_code == 0 and linked == {
        "conv1.Z.npy": str((tmp_path / "key" / "conv1.Z.npy").resolve()), "conv1.dW.npy": None}
    table = run(["check", cfg, "--against", sub], env={"COLUMNS": "1000"}).stdout
    assert f"note: graded through links to files outside {sub}: conv1.Z.npy -> " in table
    with h5py.File(tmp_path / "sub.h5", "w") as f:
        f["conv1.Z"] = h5py.ExternalLink("key.h5", "/conv1.Z")
    with h5py.File(tmp_path / "key.h5", "w") as f:
        f["conv1.Z"] = np.load(tmp_path / "key" / "conv1.Z.npy")
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub.h5", "--json"]).stdout)
    assert [a["linked_from"] for a in doc["against"]] == [f"{(tmp_path / 'key.h5').resolve()}:/conv1.Z"]


def test_infinities_in_a_submission_are_counted_as_nan_are(tmp_path):
    """A grading review: an inf in a submission (a float16 save overflowing,
    a float32 sum) got no hint, where a NaN is counted."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    dW = np.load(tmp_path / "key" / "conv1.dW.npy")
    dW.flat[[0, 5]] = [np.inf, -np.inf]
    (tmp_path / "sub").mkdir()
    np.save(tmp_path / "sub" / "conv1.dW.npy", dW)
    (entry,) = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json"]).stdout)["against"]
    assert entry["hints"] == ["inf_in_yours"]
    assert "2 infinities in yours where convcli's are numbers (an infinite error each)" in entry["note"]


def test_a_learners_slips_in_the_loops_get_their_hints(tmp_path):
    """A learner's review: a conv whose windows start at h instead of
    h * stride, a dA_prev left padded, and the notebook's own name dA for
    conv_backward's first result each got a bare FAIL (or were not graded).
    The learner's loops here are written out by hand, as the notebook's."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 2\ninputs:\n  A_prev: {random: [2, 7, 7, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1, stride: 2}\n"
                          "backward: {grad: ones}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    A, W, b = (np.load(tmp_path / "key" / f"{q}.npy") for q in ("A_prev", "W", "b"))
    A_pad = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0)))
    n = (7 + 2 - 3) // 2 + 1  # 4
    Z = np.zeros((2, n, n, 4))
    for i in range(2):
        for h in range(n):
            for w in range(n):
                for c in range(4):  # the slip: the window starts at h, not h * stride
                    Z[i, h, w, c] = np.sum(A_pad[i, h:h + 3, w:w + 3, :] * W[..., c]) + b.reshape(-1)[c]
    sub = tmp_path / "sub"
    sub.mkdir()
    np.savez(sub / "mine.npz", Z=Z, dA=np.load(tmp_path / "key" / "conv1.dA_prev.npy"),
             dW=np.load(tmp_path / "key" / "conv1.dW.npy"))
    doc = json.loads(run(["check", cfg, "--against", sub / "mine.npz", "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert by["conv1.Z"]["hints"] == ["stride"]
    assert by["conv1.Z"]["note"].endswith("yours is this layer's output at stride 1, its first 4x4 windows: "
                                          "a window starts at h * 2 (the stride), not at h")
    assert by["conv1.dA_prev"]["entry"] == "dA" and by["conv1.dA_prev"]["passed"]  # the notebook's name
    # the gradient of the padded input, not cropped: (2, 9, 9, 3)
    np.savez(sub / "mine.npz", dA=np.pad(np.load(tmp_path / "key" / "conv1.dA_prev.npy"),
                                         ((0, 0), (1, 1), (1, 1), (0, 0))))
    (o,) = json.loads(run(["check", cfg, "--against", sub / "mine.npz", "--json"]).stdout)["against"]
    assert o["hints"] == ["geometry"]
    assert o["note"] == ("shape (2, 9, 9, 3), expected (2, 7, 7, 3); (2, 9, 9, 3) is conv1's padded input: "
                         "crop the padding off the gradient, dA_prev_pad[:, 1:-1, 1:-1, :]")
    # padded again instead of cropped, zero_pad(dA_prev_pad, pad) (a learner's review: a bare shape error)
    np.savez(sub / "mine.npz", dA=np.pad(np.load(tmp_path / "key" / "conv1.dA_prev.npy"),
                                         ((0, 0), (2, 2), (2, 2), (0, 0))))
    (o,) = json.loads(run(["check", cfg, "--against", sub / "mine.npz", "--json"]).stdout)["against"]
    assert o["hints"] == ["geometry"] and o["note"] == (
        "shape (2, 11, 11, 3), expected (2, 7, 7, 3); (2, 11, 11, 3) is the size of conv1's input padded twice "
        "(zero_pad of the padded gradient?): its padding is cropped off, not added again, "
        "dA_prev_pad[:, 1:-1, 1:-1, :]"), o


def test_a_z_made_with_stride_and_pad_swapped_is_told_so(tmp_path):
    """A learner's review: {"stride": 1, "pad": 2} where the config says
    stride 2, pad 1 was told "what pad 6 makes ... in size only", which it
    is not. By hand: the window sums of the input padded by 2, at stride 1."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 2\ninputs:\n  A_prev: {random: [3, 7, 7, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, stride: 2, pad: 1}\n")
    rng = np.random.RandomState(2)
    A, W, b = rng.randn(3, 7, 7, 3), rng.randn(3, 3, 3, 4), rng.randn(4)
    P = np.pad(A, ((0, 0), (2, 2), (2, 2), (0, 0)))
    Z = np.array([[[[np.sum(P[i, h:h + 3, w:w + 3] * W[..., c]) + b[c] for c in range(4)] for w in range(9)]
                   for h in range(9)] for i in range(3)])
    _save_all(tmp_path / "sub", {"conv1.Z": Z})
    (o,) = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json"]).stdout)["against"]
    assert o["hints"] == ["geometry"] and o["note"] == (
        "shape (3, 9, 9, 4), expected (3, 4, 4, 4); (3, 9, 9, 4) is what stride 1 and pad 2 (the two swapped) "
        "makes of conv1's input (3, 7, 7, 3); the config's stride is 2 and pad is 1"), o
    # a pad: same has no number to swap (a review: a 5x5 same layer's stride-2 pad-1 output was told so)
    same = write(tmp_path, "seed: 2\ninputs:\n  A_prev: {random: [3, 7, 7, 3]}\n  W: {random: [5, 5, 3, 4]}\n"
                           "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: same}\n", name="same.yaml")
    rng = np.random.RandomState(2)
    A, W, b = rng.randn(3, 7, 7, 3), rng.randn(5, 5, 3, 4), rng.randn(4)
    P = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0)))
    Z = np.array([[[[np.sum(P[i, 2 * h:2 * h + 5, 2 * w:2 * w + 5] * W[..., c]) + b[c] for c in range(4)]
                    for w in range(3)] for h in range(3)] for i in range(3)])
    _save_all(tmp_path / "same", {"conv1.Z": Z})
    (o,) = json.loads(run(["check", same, "--against", tmp_path / "same", "--json"]).stdout)["against"]
    assert not o["passed"] and "swapped" not in o["note"], o


def test_a_z_with_the_kernel_s_channel_axes_swapped_is_told_so(tmp_path):
    """A learner's review: filter c taken as W[:, :, c] (not W[..., c]) in
    a layer of 4 input and 4 output channels failed with no hint. By hand:
    the window sums of the padded input against W[:, :, c]."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [2, 5, 5, 4]}\n  W: {random: [3, 3, 4, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n")
    rng = np.random.RandomState(3)
    A, W, b = rng.randn(2, 5, 5, 4), rng.randn(3, 3, 4, 4), rng.randn(4)
    P = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0)))
    Z = np.array([[[[np.sum(P[i, h:h + 3, w:w + 3] * W[:, :, c]) + b[c] for c in range(4)] for w in range(5)]
                   for h in range(5)] for i in range(2)])
    _save_all(tmp_path / "sub", {"conv1.Z": Z})
    (o,) = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json"]).stdout)["against"]
    assert not o["passed"] and o["hints"] == ["transposed_kernel"] and "channels swapped, W.transpose(0, 1, 3, " \
        "2): filter c is W[:, :, :, c] (W[..., c]), not W[:, :, c]" in o["note"], o


def test_a_dA_prev_cropped_on_one_side_or_by_less_than_the_pad_is_told_the_crop(tmp_path):
    """An instructor's review: only the uncropped padded gradient got "crop
    the padding off"; [:, pad:, pad:] (the start cropped only), [:, :-pad,
    :-pad] and [:, 1:-1, 1:-1] at pad 2 got a bare shape message. The
    shapes here are the slices of a padded gradient of pad 2, by hand."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs: {A_prev: {random: [2, 6, 6, 3]}, W: {random: [3, 3, 3, 4]}, "
                          "b: {zeros: [4]}}\nlayers: [{type: conv, W: W, b: b, pad: 2}]\nbackward: {grad: ones}\n")
    padded = np.ones((2, 10, 10, 3))  # (the numbers do not matter: the shape is the mistake)
    sub = tmp_path / "sub"
    sub.mkdir()
    for cropped, more in ((padded[:, 2:, 2:], "2 rows and 2 columns"), (padded[:, :-2, :-2], "2 rows and 2 columns"),
                          (padded[:, 1:-1, 1:-1], "2 rows and 2 columns"), (padded[:, 2:-2, 1:-1], "2 columns"),
                          (padded[:, 2:-1, 2:-2], "1 row")):
        np.save(sub / "conv1.dA_prev.npy", cropped)
        (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
        assert o["hints"] == ["geometry"], o
        assert o["note"].endswith(f"is {more} more than conv1's input and less than its padded input, "
                                  "(2, 10, 10, 3): crop all of the padding off the gradient, each side's, "
                                  "dA_prev_pad[:, 2:-2, 2:-2, :]"), o["note"]


def test_a_crop_of_pad_minus_pad_at_pad_0_says_it_is_empty(tmp_path):
    """An instructor's review: the notebook's dA_prev_pad[:, pad:-pad,
    pad:-pad, :] at pad 0 is [0:-0], an empty array (DESIGN names that slip),
    and the note said only "shape (8, 0, 0, 3), expected (8, 12, 12, 3)".
    It says why, and the crop that works; where only one side's pad is 0
    (pad [top, bottom, left, right]), only that axis is empty."""
    import json

    from test_cli_helpers import run, write

    for pad, shape, axes in ((0, (2, 0, 0, 3), "H and W"), ([1, 0, 1, 1], (2, 0, 7, 3), "H")):
        cfg = write(tmp_path, f"seed: 1\ninputs: {{A_prev: {{random: [2, 7, 7, 3]}}, W: {{random: [3, 3, 3, 4]}}, "
                              f"b: {{zeros: [4]}}}}\nlayers: [{{type: conv, W: W, b: b, pad: {pad}}}]\n"
                              "backward: {grad: ones}\n")
        sub = tmp_path / f"sub{len(axes)}"
        sub.mkdir()
        np.save(sub / "conv1.dA_prev.npy", np.zeros(shape))
        (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
        assert o["hints"] == ["geometry"], o
        assert o["note"].endswith(
            f"; empty along {axes}: a crop [p:-q] with q = 0 is empty (the notebook's dA_prev_pad[:, pad:-pad, "
            "pad:-pad, :] at pad 0); crop with [pad:pad + n_H_prev] and [pad:pad + n_W_prev] (at pad 0, not at "
            "all)"), o["note"]


def test_a_gradient_that_is_its_last_term_alone_says_plus_equals(tmp_path):
    """A learner's review: the notebook's loops with = for += (dW[:,:,:,c] =
    a_slice * dZ[i, h, w, c]) keep the last sample's last window's term, and
    got no hint. Their dW and db, made here by those loops (independent of
    convcli), say so; zeros (which the last term may be) and a whole sum
    scaled do not; a stride-2 layer's last window is at (n_H - 1) * 2."""
    import json

    from test_cli_helpers import run, write

    for stride in (1, 2):
        cfg = write(tmp_path, f"seed: 5\ninputs: {{A_prev: {{random: [3, 6, 6, 2]}}, W: {{random: [3, 3, 2, 4]}}, "
                              f"b: {{random: [4]}}}}\nlayers: [{{type: conv, W: W, b: b, pad: 1, stride: {stride}}}]\n"
                              "backward: {grad: random}\n", f"c{stride}.yaml")
        key = tmp_path / f"key{stride}"
        assert run(["backward", cfg, "--out", key]).exit_code == 0
        A, dZ = np.load(key / "A_prev.npy"), np.load(key / "conv1.dZ.npy")
        Ap = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0)))
        m, n_H, n_W, C = dZ.shape
        dW, db = np.zeros((3, 3, 2, C)), np.zeros(C)
        for i in range(m):
            for h in range(n_H):
                for w in range(n_W):
                    for c in range(C):
                        a_slice = Ap[i, h * stride:h * stride + 3, w * stride:w * stride + 3, :]
                        dW[:, :, :, c] = a_slice * dZ[i, h, w, c]  # the slip: = for +=
                        db[c] = dZ[i, h, w, c]
        for name, arrays, said in (("slip", (dW, db), True), ("zeros", (0 * dW, 0 * db), False),
                                   ("scaled", (2 * np.load(key / "conv1.dW.npy"), 2 * np.load(key / "conv1.db.npy")),
                                    False)):
            sub = tmp_path / f"{name}{stride}"
            sub.mkdir()
            np.save(sub / "conv1.dW.npy", arrays[0])
            np.save(sub / "conv1.db.npy", arrays[1])
            doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
            for o in doc["against"]:
                assert not o["passed"] and ("last_term" in o["hints"]) is said, (name, stride, o)
                if said:
                    leaf = o["quantity"].split(".")[1]
                    assert o["note"].endswith(f"yours is the last term of the sum alone (the last sample's last "
                                              f"window): {leaf} adds up every window's, {leaf}[...] += ..., not =")
    # (a review) under grad: ones every db term is 1, and a db averaged over the windows is the last term
    # too: the hint names both; and a one-channel db is hinted as any other (a later review: it was not)
    cfg = write(tmp_path, "seed: 5\ninputs: {A_prev: {random: [5, 4, 4, 3]}, W: {random: [2, 2, 3, 2]}, "
                          "b: {random: [2]}}\nlayers: [{type: conv, W: W, b: b, stride: 2}]\n"
                          "backward: {grad: ones}\n", "ones.yaml")
    key = tmp_path / "key_ones"
    assert run(["backward", cfg, "--out", key]).exit_code == 0
    sub = tmp_path / "mean"
    sub.mkdir()
    np.save(sub / "conv1.db.npy", np.load(key / "conv1.db.npy") / 20)  # 5 samples x 2 x 2 windows
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["last_term"] and o["note"].endswith(
        "yours is convcli's divided by the number of windows (20: 5 samples x 4 positions): their mean, or the "
        "last term alone (db[...] += ..., not =); db adds up every window's"), o
    cfg = write(tmp_path, "seed: 5\ninputs: {A_prev: {random: [3, 4, 4, 2]}, W: {random: [2, 2, 2, 1]}, "
                          "b: {random: [1]}}\nlayers: [{type: conv, W: W, b: b}]\nbackward: {grad: random}\n",
                "one.yaml")
    key = tmp_path / "key_one"
    assert run(["backward", cfg, "--out", key]).exit_code == 0
    sub = tmp_path / "one"
    sub.mkdir()
    np.save(sub / "conv1.db.npy", np.load(key / "conv1.dZ.npy")[-1, -1, -1])
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["last_term"] and "the last term of the sum alone" in o["note"], o


def test_a_small_dw_over_m_is_not_told_it_is_the_last_sample_s(tmp_path):
    """An adversarial review: a float32 dW divided by m (32) whose gradients
    are ~3e-7 (a loss averaged over the batch) was told "the last sample's
    dW alone": the atol of 1e-5 held the whole array, so anything that small
    matched. The last sample's dW is now matched at its own scale too. By
    hand: dW as the windows' products, the last sample's apart."""
    import json

    from test_cli_helpers import run, write

    rng = np.random.RandomState(15)
    m = 32
    A, W = rng.rand(m, 16, 16, 3).astype(np.float32), (0.1 * rng.randn(3, 3, 3, 4)).astype(np.float32)
    G = (3e-7 * rng.randn(m, 16, 16, 4)).astype(np.float32)
    for name, a in (("x", A), ("W", W), ("g", G)):
        np.save(tmp_path / f"{name}.npy", a)
    cfg = write(tmp_path, {"dtype": "float32", "inputs": {"A_prev": {"file": "x.npy"}, "W": {"file": "W.npy"},
                                                          "b": {"zeros": [4]}},
                           "layers": [{"type": "conv", "W": "W", "b": "b", "pad": 1}],
                           "backward": {"grad": {"file": "g.npy"}}})
    Ap = np.pad(A.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))

    def dW_of(n):
        return np.stack([np.stack([np.einsum("nhwc,nhwk->ck", Ap[n, i:i + 16, j:j + 16], G[n].astype(np.float64))
                                   for j in range(3)]) for i in range(3)])

    dW, last = dW_of(slice(None)), dW_of(slice(m - 1, m))
    assert np.abs(dW / m - last).max() > 0.5 * np.abs(last).max()  # unrelated arrays, both within atol 1e-5
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "dW.npy", (dW / m).astype(np.float32))
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["status"] == "fail" and "per_sample" not in o["hints"], o
    np.save(sub / "dW.npy", last.astype(np.float32))  # the last sample's alone: still told so
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["status"] == "fail" and o["hints"] == ["per_sample"], o


def test_a_max_pool_gradient_of_windows_apart_is_not_told_plus_equals(tmp_path):
    """An adversarial review: under --each-layer, a relu2.A with a NaN into a
    2x2 max pool at stride 2, and the course's backward (x == np.max(x),
    which gives a window holding a NaN no gradient; convcli's, as PyTorch's,
    gives it to the NaN) was told "= for +=": over windows apart the two
    make the same. By hand: the course's loops."""
    import json

    from test_cli_helpers import run, write

    rng = np.random.default_rng(3)
    A, G = rng.standard_normal((2, 4, 4, 1)), rng.standard_normal((2, 2, 2, 1))
    A[0, 0, 0, 0] = np.nan
    np.save(tmp_path / "x.npy", A)
    np.save(tmp_path / "g.npy", G)
    cfg = write(tmp_path, {"allow_nonfinite": True, "inputs": {"A_prev": {"file": "x.npy"}},
                           "layers": [{"type": "pool", "f": 2}], "backward": {"grad": {"file": "g.npy"}}})
    dA = np.zeros_like(A)
    with np.errstate(invalid="ignore"):
        for n in range(2):
            for h in range(2):
                for w in range(2):
                    x = A[n, 2 * h:2 * h + 2, 2 * w:2 * w + 2, 0]
                    dA[n, 2 * h:2 * h + 2, 2 * w:2 * w + 2, 0] += (x == np.max(x)) * G[n, h, w, 0]
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "pool1.dA_prev.npy", dA)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["status"] == "fail" and o["first_index"] == [0, 0, 0, 0], o
    assert "last_term" not in o["hints"], o


def test_a_dw_of_zeros_where_the_last_term_is_zeros_says_plus_equals_or_never_filled(tmp_path):
    """A review: the seed's layer (f 2, pad 2) has its last window in the
    padding, so the notebook's loops with = for += leave dW all zeros, and
    check said nothing (zeros fit any array, so the last-term hint kept
    quiet). Made by those loops here: the hint names the slip and a dW never
    filled, and why the last term is zeros (the padding, or a gradient of 0
    there, given from a file); db, whose last term is dZ's last, likewise."""
    import json

    from test_cli_helpers import run, write

    rs = np.random.RandomState(3)
    A, W, b = rs.randn(2, 4, 4, 3), rs.randn(2, 2, 3, 2), rs.randn(2)
    for case in ("padding", "gradient"):
        pad = 2 if case == "padding" else 0
        Ap = np.pad(A, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        n = Ap.shape[1] - 1
        dZ = rs.randn(2, n, n, 2)
        if case == "gradient":
            dZ[-1, -1, -1] = 0
        np.save(tmp_path / f"dZ_{case}.npy", dZ)
        for name, arr in (("A", A), ("W", W), ("b", b)):
            np.save(tmp_path / f"{name}.npy", arr)
        cfg = write(tmp_path, f"inputs: {{A_prev: {{file: A.npy}}, W: {{file: W.npy}}, b: {{file: b.npy}}}}\n"
                              f"layers: [{{type: conv, W: W, b: b, pad: {pad}}}]\n"
                              f"backward: {{grad: {{file: dZ_{case}.npy}}}}\n", f"{case}.yaml")
        dW, db = np.zeros_like(W), np.zeros_like(b)
        for i in range(2):
            for h in range(n):
                for w in range(n):
                    for c in range(2):
                        dW[:, :, :, c] = Ap[i, h:h + 2, w:w + 2, :] * dZ[i, h, w, c]  # the slip: = for +=
                        db[c] = dZ[i, h, w, c]
        assert not dW.any()
        sub = tmp_path / case
        sub.mkdir()
        np.save(sub / "conv1.dW.npy", dW)
        np.save(sub / "conv1.db.npy", db)
        outcomes = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)[
            "against"]}
        o = outcomes["conv1.dW"]
        why = "which lies in the padding" if case == "padding" else "whose upstream gradient is 0"
        assert not o["passed"] and o["hints"] == ["last_term", "all_zeros"], o  # (either: a script can tell)
        assert o["note"].endswith(f"; yours is all zeros, as the last term of the sum alone is here (the last "
                                  f"sample's last window, {why}): dW adds up every window's, dW[...] += ..., not =; "
                                  "or yours was never filled"), o["note"]
        o = outcomes["conv1.db"]  # its last term is dZ's last: zeros too where that is 0
        assert not o["passed"] and o["hints"] == (["last_term", "all_zeros"] if case == "gradient" else
                                                  ["last_term"]), o
        assert o["note"].endswith("; yours is all zeros, as the last term of the sum alone is here (the last "
                                  "sample's last window, whose upstream gradient is 0): db adds up every window's, "
                                  "db[...] += ..., not =; or yours was never filled" if case == "gradient" else
                                  "yours is the last term of the sum alone (the last sample's last window): db adds "
                                  "up every window's, db[...] += ..., not ="), o["note"]


def test_convcli_s_numbers_in_another_shape_say_the_reshape(tmp_path):
    """An instructor's review: conv2.Z saved flattened per sample, (8, 36),
    had the right values and only 'shape mismatch'; nor is it a cause of the
    arrays after it ('fix the forward first'). The reshape that fixes it is
    named; other numbers of that size are not."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    key = tmp_path / "key"
    assert run(["backward", cfg, "--out", key]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    Z = np.load(key / "conv1.Z.npy")
    np.save(sub / "conv1.Z.npy", Z.reshape(Z.shape[0], -1))
    np.save(sub / "relu2.A.npy", 2 * np.load(key / "relu2.A.npy"))
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert by["conv1.Z"]["hints"] == ["reshaped"], by["conv1.Z"]
    assert by["conv1.Z"]["note"] == ("shape (4, 256), expected (4, 8, 8, 4); yours is convcli's numbers in "
                                     "another shape: save yours.reshape(4, 8, 8, 4)")
    assert "forward_first" not in by["relu2.A"]["hints"], by["relu2.A"]
    np.save(sub / "conv1.Z.npy", (Z + 1).reshape(Z.shape[0], -1))
    (o,) = [o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
            if o["quantity"] == "conv1.Z"]
    assert o["hints"] == [] and o["note"] == "shape (4, 256), expected (4, 8, 8, 4)", o


@pytest.mark.parametrize("pad, named", [
    ((2, 0, 2, 0), "pad [2, 0, 2, 0] (top and left only)"),
    ((0, 2, 0, 2), "pad [0, 2, 0, 2] (bottom and right only)"),
    ((2, 2, 0, 0), "pad [2, 2, 0, 0] (rows only, none on the columns)"),
    ((0, 0, 2, 2), "pad [0, 0, 2, 2] (columns only, none on the rows)"),
    ((3, 3, 3, 3), "pad 3"),
])
def test_a_z_padded_on_one_side_or_axis_is_told_its_padding(tmp_path, pad, named):
    """An instructor's review: a Z of the seed's layer (f 2, pad 2) padded
    with np.pad on the top and left only was told "the loops over h and w
    stop short" (it equals convcli's first outputs, but the loops were
    right), on one axis or by 3 nothing at all. Z by hand: np.pad, then the
    windows' sums, bias once."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [3, 4, 4, 3]}\n  W: {random: [2, 2, 3, 8]}\n"
                          "  b: {random: [8]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 2}\n")
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    A, W, b = (np.load(tmp_path / "key" / f"{n}.npy") for n in ("A_prev", "W", "b"))
    t, bottom, l, r = pad
    A_pad = np.pad(A, ((0, 0), (t, bottom), (l, r), (0, 0)))
    n_H, n_W = A_pad.shape[1] - 1, A_pad.shape[2] - 1
    Z = np.zeros((3, n_H, n_W, 8))
    for n, h, w, c in np.ndindex(*Z.shape):
        Z[n, h, w, c] = np.sum(A_pad[n, h:h + 2, w:w + 2, :] * W[..., c]) + b.reshape(-1)[c]
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "Z.npy", Z)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["geometry"], o
    if pad == (2, 0, 2, 0):  # convcli's first outputs, as loops that stop short make them: both named (a later
        # instructor's review: a strided layer's n_H without its + 1 was told only of the padding)
        assert o["note"].endswith(
            "yours are convcli's first 5x5 outputs of (3, 7, 7, 8), which 2 slips make alike: the loops over h and "
            f"w stop short of n_H and n_W; or yours is what {named} makes of conv1's input (3, 4, 4, 3) (the "
            "config's pad is 2)"), o
    else:
        assert f"is what {named} makes of conv1's input (3, 4, 4, 3); the config's pad is 2" in o["note"], o
        assert "stop" not in o["note"], o


def _loops_with_assign(kind, A, g, f, stride, pad=0, W=None, mode="max"):
    """A learner's backward loops for dA_prev (the notebook's order: i, h, w,
    c) with the slip = for +=, by hand."""
    m, H, Wd, C = A.shape
    out = np.zeros((m, H + 2 * pad, Wd + 2 * pad, C))
    for i, h, w in np.ndindex(m, g.shape[1], g.shape[2]):
        vs, hs = h * stride, w * stride
        for c in range(g.shape[3]):
            if kind == "conv":
                out[i, vs:vs + f, hs:hs + f, :] = W[:, :, :, c] * g[i, h, w, c]
            elif mode == "max":
                window = A[i, vs:vs + f, hs:hs + f, c]
                out[i, vs:vs + f, hs:hs + f, c] = (window == np.max(window)) * g[i, h, w, c]
            else:
                out[i, vs:vs + f, hs:hs + f, c] = np.ones((f, f)) * g[i, h, w, c] / (f * f)
    return out[:, pad:pad + H, pad:pad + Wd]


@pytest.mark.parametrize("config", ["seed.yaml", "pool_backward.yaml", "pool_backward_average.yaml"])
def test_a_dA_prev_made_with_assign_for_add_is_told_so(tmp_path, config):
    """A learner's review: the notebook's backward loops with = for += in
    dA_prev (a conv's, a max or an average pool's over overlapping windows)
    got "480 of 480 elements differ" and nothing more, where the same slip
    in dW and db was told. dA_prev by hand, each loop as the notebook's."""
    import json

    import yaml

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / config
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    layer = yaml.safe_load(cfg.read_text())["layers"][0]
    A = np.load(tmp_path / "key" / "A_prev.npy")
    if layer["type"] == "conv":
        g, W = np.load(tmp_path / "key" / "conv1.dZ.npy"), np.load(tmp_path / "key" / "W.npy")
        mine = _loops_with_assign("conv", A, g, W.shape[0], layer["stride"], layer["pad"], W=W)
    else:
        g = np.load(tmp_path / "key" / "pool1.dA.npy")
        mine = _loops_with_assign("pool", A, g, layer["f"], layer.get("stride", layer["f"]), mode=layer["mode"])
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "dA_prev.npy", mine)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["status"] == "fail" and o["hints"] == ["last_term"], o
    assert "yours is what the backward loops make with = for +=" in o["note"], o
    # not where the replay would hold two float64 copies of a padded input past the reruns' size
    from convcli import check as check_module

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(check_module, "BIAS_RERUN_MAX_BYTES", 2 * 8 * A.size - 1)
        (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
        assert o["status"] == "fail" and "with = for +=" not in o["note"], o


@pytest.mark.parametrize("grad", ["dW", "db"])
def test_a_dW_or_db_of_the_last_sample_alone_is_told_so(tmp_path, grad):
    """A learner's review: a dW (or db) zeroed inside the loop over the
    samples, so the last sample's alone, got no hint (the per-sample hint saw
    only a stack of every sample's). By hand with the notebook's loops, for
    the last sample."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [4, 6, 6, 3]}\n  W: {random: [3, 3, 3, 5]}\n"
                          "  b: {random: [5]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n"
                          "backward: {grad: random}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    A, dZ = np.load(tmp_path / "key" / "A_prev.npy"), np.load(tmp_path / "key" / "conv1.dZ.npy")
    A_pad = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0)))
    dW, db = np.zeros((3, 3, 3, 5)), np.zeros(5)
    for h, w, c in np.ndindex(6, 6, 5):  # the last sample's terms alone
        dW[:, :, :, c] += A_pad[-1, h:h + 3, w:w + 3, :] * dZ[-1, h, w, c]
        db[c] += dZ[-1, h, w, c]
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / f"conv1.{grad}.npy", dW if grad == "dW" else db)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["status"] == "fail" and o["hints"] == ["per_sample"], o
    assert f"yours is the last sample's {grad} alone: {grad} adds up every sample's too" in o["note"], o


@pytest.mark.parametrize("config, q, factor, says", [
    ("seed.yaml", "db", 12, "(12 = f_H*f_W*n_C_prev, the window's elements the notebook's bias is added to"),
    ("seed.yaml", "dW", 0.1, "(1/10: a mean over the 10 samples, where the gradient is their sum)"),
    # a sample's own gradient is no sum over the samples (an instructor's review)
    ("seed.yaml", "dA_prev", 0.1, "(1/10: one over the 10 samples)"),
    ("pool_backward_average.yaml", "dA_prev", 4, "(4 = f_H*f_W: each window's dz is shared out over its 4 "
                                                 "positions, dz / 4)"),
    ("pool_backward_average.yaml", "dA_prev", 2, "(2 = f: a window's share is dz / (f_H*f_W), dz / 4, not dz / 2)"),
    # the forward's sum too (a learner's review: only its dA_prev was explained)
    ("pool_backward_average.yaml", "A", 4, "(4 = f_H*f_W: each window's sum, where the average pool takes their "
                                           "mean, sum / 4)"),
    # and the sum divided by f alone (a learner's review: "times 2" said no more)
    ("pool_backward_average.yaml", "A", 2, "(2 = f: a window's mean is its sum / (f_H*f_W), sum / 4, not sum / 2)"),
])
def test_a_scale_hint_says_what_its_factor_is(tmp_path, config, q, factor, says):
    """A learner's review: "times 12 everywhere" (a db under bias: window
    taken as that forward's own derivative) and "times 4" (an average pool's
    share not divided) said no more. The factor is named where the layer's
    sizes name it (the seed's layer: f 2 over 3 channels, 10 samples; the
    pool's f 2)."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / config
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    layer = "conv1" if config == "seed.yaml" else "pool1"
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / f"{q}.npy", factor * np.load(tmp_path / "key" / f"{layer}.{q}.npy"))
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["scale"] and says in o["note"], o
    assert q != "dA_prev" or "their sum" not in o["note"], o


@pytest.mark.parametrize("mode", ["edge", "reflect"])
def test_a_z_of_an_input_padded_otherwise_than_by_zeros_is_told_so(tmp_path, mode):
    """A learner's review: a Z made from an input padded by its edge values
    (np.pad mode="edge", a common slip) got a bare FAIL. By hand: np.pad,
    then the windows' sums, bias once."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 2\ninputs:\n  A_prev: {random: [2, 6, 6, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n")
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    A, W, b = (np.load(tmp_path / "key" / f"{n}.npy") for n in ("A_prev", "W", "b"))
    A_pad = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0)), mode=mode)
    Z = np.zeros((2, 6, 6, 4))
    for n, h, w, c in np.ndindex(Z.shape):
        Z[n, h, w, c] = np.sum(A_pad[n, h:h + 3, w:w + 3, :] * W[..., c]) + b.reshape(-1)[c]
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "Z.npy", Z)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["edge_padding"] and f'(np.pad(..., mode="{mode}")): the padding is zeros' in o["note"], o


@pytest.mark.parametrize("f, stride, extra, sides, theirs_pad, ours_pad", [
    ((4, 4), 1, "row and column", "top and left", [2, 1, 2, 1], [1, 2, 1, 2]),
    ((2, 3), 1, "row", "top", [1, 0, 1, 1], [0, 1, 1, 1]),
    # stride 2 on 6: 3 outputs, (3 - 1) * 2 + 3 - 6 = 1 row and column of padding, TensorFlow's split
    ((3, 3), 2, "row and column", "top and left", [1, 0, 1, 0], [0, 1, 0, 1]),
])
def test_a_same_padding_split_the_other_way_is_named(tmp_path, f, stride, extra, sides, theirs_pad, ours_pad):
    """An engineer's review: a "same" conv whose odd unit of padding went on
    the top and left (the other way round from PyTorch's padding="same")
    got a bare FAIL. Theirs computed by the notebook's loops over the input
    padded by hand; the note names the split and convcli's (strided, as
    TensorFlow's only: PyTorch refuses padding="same" there, a review)."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 2\ninputs:\n  A_prev: {random: [2, 6, 6, 3]}\n"
                          f"  W: {{random: [{f[0]}, {f[1]}, 3, 4]}}\n"
                          f"  b: {{random: [4]}}\nlayers:\n  - {{type: conv, W: W, b: b, pad: same, "
                          f"stride: {stride}}}\n")
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    A, W, b = (np.load(tmp_path / "key" / f"{n}.npy") for n in ("A_prev", "W", "b"))
    t, bo, l, r = theirs_pad
    A_pad = np.pad(A, ((0, 0), (t, bo), (l, r), (0, 0)))
    Z = np.zeros((2, 6 // stride, 6 // stride, 4))
    for n, h, w, c in np.ndindex(Z.shape):
        window = A_pad[n, h * stride:h * stride + f[0], w * stride:w * stride + f[1], :]
        Z[n, h, w, c] = np.sum(window * W[..., c]) + b.reshape(-1)[c]
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "Z.npy", Z)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert not o["passed"] and o["hints"] == ["same_split"], o
    like = "TensorFlow's" if stride > 1 else 'PyTorch\'s padding="same" and TensorFlow\'s'
    assert (f'with its "same" padding\'s extra {extra} on the {sides} ({theirs_pad}): convcli\'s, as {like}, '
            'is on the ') in o["note"] and o["note"].endswith(f"({ours_pad})"), o


def test_the_same_split_hint_on_an_input_of_yours_too_small_for_the_other_split(tmp_path):
    """A review: under --each-layer, a "same" conv runs on your own input,
    whose other split may make no output at all (1 row at stride 2 by 3
    taps, the odd unit on top: 0 rows); the hint's rerun raised, and check
    ended in an internal error (exit 3). Now a plain FAIL, exit 1."""
    from test_cli_helpers import run, write

    cfg = write(tmp_path, {"inputs": {"A_prev": {"random": [1, 8, 8, 2]}, "W": {"random": [3, 3, 2, 2]},
                                      "b": {"random": [2]}},
                           "layers": [{"type": "relu"}, {"type": "conv", "W": "W", "b": "b", "stride": 2,
                                                          "pad": "same"}]})
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    mine = np.ones((1, 1, 8, 2))
    np.save(sub / "relu1.A.npy", mine)
    W, b = np.load(tmp_path / "key" / "W.npy"), np.load(tmp_path / "key" / "b.npy")
    Z = cc_conv_forward(mine, W, b, {"stride": 2, "pad": "same"})[0] + 0.5
    np.save(sub / "conv2.Z.npy", Z)
    result = run(["check", cfg, "--against", sub, "--each-layer"])
    assert result.exit_code == 1 and "internal error" not in result.stderr, (result.stdout, result.stderr)
    assert "FAIL conv2.Z.npy" in result.stdout, result.stdout


def test_a_pool_gradient_saved_as_da_is_told_its_name(tmp_path):
    """A learner's review: a pool's gradient saved as dA.npy (the name the
    notebook's conv_backward result goes by, which a conv config grades as
    its dA_prev) is a one-layer pool config's upstream gradient: it was
    listed as given by the config, not graded, and the check passed. Its
    shape is not the upstream gradient's but exactly pool1.dA_prev's: it is
    told to save it as dA_prev.npy; alone, the error says so too."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "pool_backward.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "dA.npy", np.load(tmp_path / "key" / "pool1.dA_prev.npy"))
    lone = run(["check", cfg, "--against", sub])
    assert lone.exit_code == 2 and ("dA.npy: shape (5, 5, 3, 2), not pool1.dA's (5, 4, 2, 2) (the config gives it) "
                                    "but pool1.dA_prev's: save it as dA_prev.npy to be graded") in lone.stderr
    np.save(sub / "A.npy", np.load(tmp_path / "key" / "pool1.A.npy"))
    result = run(["check", cfg, "--against", sub])
    assert "not graded: dA.npy: shape (5, 5, 3, 2), not pool1.dA's" in result.stdout, result.stdout
    assert "given by the config, not computed): dA.npy" not in result.stdout, result.stdout
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    (u,) = doc["unknown"]
    assert u["entry"] == "dA.npy" and u["misnamed"].endswith("save it as dA_prev.npy to be graded"), u
    # a true copy of the upstream gradient is listed as given, as ever
    np.save(sub / "dA.npy", np.load(tmp_path / "key" / "pool1.dA.npy"))
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    assert [(u["entry"], u["given"], u["misnamed"]) for u in doc["unknown"]] == [("dA.npy", "pool1.dA", None)]


def test_a_float32_db_summed_in_float32_passes_where_dz_cancels(tmp_path):
    """A review: with an upstream gradient of mean 0 per channel (a
    mean-subtracted loss above the conv), a float32 db summed in float32,
    one running sum as the notebook's loops add it (np.cumsum in float32 is
    that sum, term after term), is off by ~1e-4 of a db near 0, while
    convcli's float32 db, added in float64 and rounded once, is off by half a
    unit in its last place: 16 times that allowed nothing, and the correct
    db FAILED. A db is now allowed 16 unit roundoffs (2**-24) of its
    channel's sum of |dZ| (about 1.1e-2 here); a db with one of its 16384
    terms left out still fails."""
    import json

    from test_cli_helpers import run, write

    rs = np.random.RandomState(3)
    g = rs.randn(64, 16, 16, 8)
    g = (g - g.mean(axis=(0, 1, 2))).astype(np.float32)
    np.save(tmp_path / "g.npy", g)
    cfg = write(tmp_path, "seed: 3\ndtype: float32\ninputs:\n  A_prev: {random: [64, 16, 16, 3]}\n"
                          "  W: {random: [3, 3, 3, 8]}\n  b: {random: [8]}\n"
                          "layers:\n  - {type: conv, W: W, b: b, pad: 1}\nbackward:\n  grad: {file: g.npy}\n")
    terms = g.reshape(-1, 8)
    running = np.cumsum(terms, axis=0, dtype=np.float32)[-1]  # the notebook's db += dZ, in float32
    exact = terms.astype(np.float64).sum(axis=0)
    assert np.abs(running - exact).max() > 1e-5 + 1e-4 * np.abs(exact).max()  # beyond the plain tolerance
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "db.npy", running)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["status"] == "pass", o
    one_left_out = running - terms[5000]  # a typical term, |dZ| ~ 0.8 each
    np.save(sub / "db.npy", one_left_out)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["status"] == "fail", o


def test_a_difference_at_the_rounding_of_the_arrays_scale_says_so(tmp_path, monkeypatch):
    """A streaming review: in float32, sums of terms in the thousands that
    cancel to near zero differ by more than atol 1e-5 when added in another
    order (a chunk's blocks, the reference engine), so convcli's own output
    failed check. A float32 run now allows each array float32's rounding
    (check.ROUNDING_FACTOR times what it moved convcli's own), and 1.5e-3
    passes. Where that is not measured (a run too large to hold twice), such
    a failure says it is rounding at the array's scale, and the --atol at
    that scale; a difference of a mistake's size does not. By hand:
    float32's eps is 2**-23 (1.19e-7); 8 of them of a largest value over
    2000 is over 1.9e-3, and 1.5e-3 is within it."""
    import json

    from test_cli_helpers import run, write

    from convcli import check

    cfg = write(tmp_path, "seed: 4\ndtype: float32\ninputs:\n  A_prev: {random: [2, 6, 6, 8], scale: 100}\n"
                          "  W: {random: [3, 3, 8, 4]}\n  b: {zeros: [4]}\nlayers:\n  - {type: conv, W: W, b: b}\n")
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    Z = np.load(tmp_path / "key" / "conv1.Z.npy")
    assert Z.dtype == np.float32 and 2000 < np.abs(Z).max() < 5000
    small = np.unravel_index(np.argmin(np.abs(Z)), Z.shape)
    sub = tmp_path / "sub"
    sub.mkdir()
    assert abs(Z[small]) < 10  # 1.5e-3 is beyond rtol 1e-4 of it with atol 1e-5
    mine = Z.copy()
    mine[small] += np.float32(1.5e-3)
    np.save(sub / "conv1.Z.npy", mine)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["status"] == "pass" and 1.5e-3 < o["atol"] < 1e-2, o  # the tolerance it was graded at
    monkeypatch.setattr(check, "ROUNDING_FACTOR", 0)  # as where the run is too large to run twice
    for by, rounding in ((1.5e-3, True), (1.0, False)):
        mine = Z.copy()
        mine[small] += np.float32(by)
        np.save(sub / "conv1.Z.npy", mine)
        (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
        assert o["status"] == "fail"
        assert ("rounding" in o["hints"]) is rounding, o
        if rounding:
            assert "float32 rounding at this array's scale (its largest is " in o["note"]
            atol = float(o["note"].rsplit("--atol ", 1)[1].split()[0])
            assert run(["check", cfg, "--against", sub, "--atol", str(atol)]).exit_code == 0
            np.save(sub / "conv1.Z.npy", mine.astype(">f4"))  # (a review) saved big-endian: float32 all the same
            (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
            assert o["status"] == "fail" and o["dtype"] == "float32" and "rounding" in o["hints"], o
    # (a review) not for a difference of one sign across a channel: a bias left out, however small
    b = np.float32(1.5e-3)
    np.save(sub / "conv1.Z.npy", Z - b * (np.arange(4) == small[3]))  # small's channel all short of b
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["status"] == "fail" and "rounding" not in o["hints"], o
    # nor for an array saved in fewer bits than the run's (a float16 save has its own hints)
    cfg64 = write(tmp_path, cfg.read_text().replace("dtype: float32", "dtype: float64"), "c64.yaml")
    assert run(["forward", cfg64, "--out", tmp_path / "key64"]).exit_code == 0
    Z64 = np.load(tmp_path / "key64" / "conv1.Z.npy")
    mine = Z64.astype(np.float16)
    mine[np.unravel_index(np.argmin(np.abs(Z64)), Z64.shape)] *= -6  # a mistake within 8 float16 ulps of 2000
    np.save(sub / "conv1.Z.npy", mine)
    (o,) = json.loads(run(["check", cfg64, "--against", sub, "--json"]).stdout)["against"]
    assert o["status"] == "fail" and "rounding" not in o["hints"], o


def test_the_layer_by_layer_rerun_is_made_only_where_a_scale_asks(tmp_path, monkeypatch):
    """A review: the rerun of every layer on the student's inputs, there to
    tell a scale the inputs explain from the student's own, ran on nearly any
    failure (26 MB more and 30% of the time on a mid-sized config)."""
    import convcli.check as chk
    from test_cli_helpers import CONFIGS, run

    calls = []
    real = chk.each_layer
    monkeypatch.setattr(chk, "each_layer", lambda *a, **k: calls.append(1) or real(*a, **k))
    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    (tmp_path / "sub").mkdir()
    dW = np.load(tmp_path / "key" / "conv1.dW.npy")
    np.save(tmp_path / "sub" / "conv1.dW.npy", dW + np.random.default_rng(0).normal(size=dW.shape))
    assert run(["check", cfg, "--against", tmp_path / "sub"]).exit_code == 1
    assert calls == []
    np.save(tmp_path / "sub" / "conv1.dW.npy", dW / 10)  # a scale: asked once
    assert run(["check", cfg, "--against", tmp_path / "sub"]).exit_code == 1
    assert calls == [1]
    # (a review) nor for a wrong dW beside a Z off in its last digits (a float64 loop's: 1e-12 relative, 1e-6
    # of the tolerance), which cannot be why dW fails
    calls.clear()
    np.save(tmp_path / "sub" / "conv1.dW.npy", dW + np.random.default_rng(0).normal(size=dW.shape))
    np.save(tmp_path / "sub" / "conv1.Z.npy", np.load(tmp_path / "key" / "conv1.Z.npy") * (1 + 1e-12))
    assert run(["check", cfg, "--against", tmp_path / "sub"]).exit_code == 1
    assert calls == []


def test_an_integer_submission_says_whole_numbers_cannot_hold_convclis(tmp_path):
    """A grading review: an int64 array (a student's np.zeros(shape, dtype=int)
    filled with the floats) got a bare FAIL, where float16 and float32 get a
    note. Hand-made numbers: Z of 1.75 and -1.75 everywhere cut to 1 and -1,
    rounded to 2 and -2; anything else is only said to be integers."""
    import json

    from test_cli_helpers import run, write

    # A 1x1 conv of a 2x2 ones input with W = 1.75 and b = 0: Z = 1.75 everywhere
    cfg = write(tmp_path, "inputs:\n  A_prev: {ones: [1, 2, 2, 1]}\n  W: {value: [[[[1.75]]]]}\n"
                          "  b: {value: [0.0]}\nlayers:\n  - {type: conv, W: W, b: b}\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    cases = {"cut": np.full((1, 2, 2, 1), 1), "rounded": np.full((1, 2, 2, 1), 2), None: np.full((1, 2, 2, 1), 5)}
    for how, Z in cases.items():
        np.save(sub / "conv1.Z.npy", Z.astype(np.int64))
        (entry,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
        assert entry["status"] == "fail" and entry["dtype"] == "int64"
        assert "integer" in entry["hints"], entry
        assert "yours are int64" in entry["note"]
        assert (f"convcli's {how} to whole numbers" in entry["note"]) if how else "cannot hold" in entry["note"]
    np.save(sub / "conv1.Z.npy", np.full((1, 2, 2, 1), 1.75))  # the floats themselves pass
    assert json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["ok"] is True
    # (a review) where convcli's are whole numbers too, integers are not the cause: no such hint
    whole = write(tmp_path, "inputs:\n  A_prev: {ones: [1, 2, 2, 1]}\n  W: {value: [[[[2.0]]]]}\n"
                            "  b: {value: [0.0]}\nlayers:\n  - {type: conv, W: W, b: b}\n", "whole.yaml")
    np.save(sub / "conv1.Z.npy", np.full((1, 2, 2, 1), 3, dtype=np.int64))  # convcli's: 2 everywhere
    (entry,) = json.loads(run(["check", whole, "--against", sub, "--json"]).stdout)["against"]
    assert entry["status"] == "fail" and "integer" not in entry["hints"] and "int64" not in entry["note"]


def test_a_correct_float16_submission_is_told_how_to_grade_it(tmp_path):
    """A grading review: a float16 save of convcli's own arrays got a bare
    FAIL; float32 got a note on grading at its precision. float16 keeps
    about 3 digits: within rtol 1e-2 it is convcli's, and the note says so."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    (tmp_path / "sub").mkdir()
    np.save(tmp_path / "sub" / "conv1.Z.npy", np.load(tmp_path / "key" / "conv1.Z.npy").astype(np.float16))
    np.save(tmp_path / "sub" / "conv1.dW.npy", 2 * np.load(tmp_path / "key" / "conv1.dW.npy").astype(np.float16))
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json"]).stdout)
    entries = {a["quantity"]: a for a in doc["against"]}
    assert entries["conv1.Z"]["hints"] == ["float16"] and "--rtol 0.01 --atol 0.001" in entries["conv1.Z"]["note"]
    assert entries["conv1.dW"]["hints"] == ["scale"]  # a real mistake: its own hint, at float16's precision
    result = run(["check", cfg, "--against", tmp_path / "sub", "--rtol", "0.01", "--atol", "0.001", "--json"])
    assert {a["quantity"]: a["status"] for a in json.loads(result.stdout)["against"]}["conv1.Z"] == "pass"


def test_grade_is_check_without_the_command_line(tmp_path):
    """check's grading (convcli.check.grade) runs as a library call, with
    runner.run as its run, and pulls in no CLI code (typer, click, rich):
    the command line validates options and prints its Report."""
    import subprocess
    import sys

    from test_cli_helpers import CONFIGS

    code = (
        "import sys\n"
        "import numpy as np\n"
        "from convcli import check, runner\n"
        f"p = runner.plan({str(CONFIGS / 'stack.yaml')!r}, backward=None)\n"
        "ref = runner.run(p).quantities\n"
        f"mine = {str(tmp_path)!r}\n"
        "np.save(mine + '/conv1.Z.npy', 2 * ref['conv1.Z'])\n"
        "np.save(mine + '/relu2.A.npy', ref['relu2.A'])\n"
        "r = check.grade(p, entries=p.cfg.model.expected, source=p.cfg, came=None, against=mine,\n"
        "                run=lambda backward, only: runner.run(p, backward=backward))\n"
        "print(r.ok, [o.passed for o in r.outcomes].count(False), [(o.quantity, o.passed) for o in r.graded])\n"
        "print(len(r.missing), [u.label for u in r.unknown])\n"
        "print(','.join(sorted(m for m in ('typer', 'click', 'rich') if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "False 0 [('conv1.Z', False), ('relu2.A', True)]",
        "6 []",
        "",
    ]


def _turned(dZ_pad, W):
    """dA_prev by hand: the padded dZ correlated with the kernel turned by 180 degrees."""
    dA = np.zeros((dZ_pad.shape[0], dZ_pad.shape[1] - W.shape[0] + 1, dZ_pad.shape[2] - W.shape[1] + 1, W.shape[2]))
    for i, y, x, c in np.ndindex(dA.shape):
        dA[i, y, x, c] = np.sum(dZ_pad[i, y:y + W.shape[0], x:x + W.shape[1], :] * W[::-1, ::-1, c, :])
    return dA


def test_an_instructors_common_slips_get_their_hints(tmp_path):
    """A grading review: a Z without its bias, a kernel flipped (a true
    convolution), a db or dW left per sample, and an output size without
    the formula's + 1 each got a bare FAIL; a later one: a kernel with its
    rows and columns swapped too. The learner's arrays here are
    written out by hand from the answer key's inputs, as a student's loops
    would make them."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [4, 6, 6, 3]}\n  W: {random: [3, 3, 3, 5]}\n"
                          "  b: {random: [5]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n"
                          "backward: {grad: ones}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    A, W, b = (np.load(tmp_path / "key" / f"{q}.npy") for q in ("A_prev", "W", "b"))
    A_pad = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0)))

    def loops(kernel, bias):  # Z[i, h, w, c] = sum(window * kernel[..., c]) + bias[c]
        Z = np.zeros((4, 6, 6, 5))
        for i, h, w, c in np.ndindex(Z.shape):
            Z[i, h, w, c] = np.sum(A_pad[i, h:h + 3, w:w + 3, :] * kernel[..., c]) + bias[c]
        return Z

    # grad: ones, so dW[di, dj, :, c] sums the input's windows: per sample, and turned around
    dW = np.zeros((4, 3, 3, 3, 5))
    for i, di, dj in np.ndindex(4, 3, 3):
        dW[i, di, dj] = A_pad[i, di:di + 6, dj:dj + 6, :].sum(axis=(0, 1))[:, None]
    subs = {
        "no_bias": ("conv1.Z", loops(W, np.zeros(5))),
        "flipped_kernel": ("conv1.Z", loops(W[::-1, ::-1], b)),
        "flipped_kernel ": ("conv1.dW", dW.sum(axis=0)[::-1, ::-1]),
        # (a later review) the window indexed [h, w] against W indexed [w, h] (its dW: axis_order, test_cli.py)
        "transposed_kernel": ("conv1.Z", loops(W.transpose(1, 0, 2, 3), b)),
        "per_sample": ("conv1.dW", dW),
        "per_sample ": ("conv1.db", np.full((4, 1, 1, 5), 36.0)),  # 6 * 6 ones a sample
        "geometry": ("conv1.Z", loops(W, b)[:, :5, :5]),  # the loops ran to n_H - 1
    }
    for kind, (q, array) in subs.items():
        sub = tmp_path / kind.strip() / str(len(kind))
        sub.mkdir(parents=True)
        np.save(sub / f"{q}.npy", array)
        result = run(["check", cfg, "--against", sub, "--json"])
        (o,) = json.loads(result.stdout)["against"]
        assert result.exit_code == 1 and o["status"] == "fail" and o["hints"] == [kind.strip()], (kind, o)
    # dA_prev as the correlation of the padded dZ (ones, padded by f - 1 - pad = 1) with the kernel not turned
    # (a later review: it was told to take W "as it lies", which is what it did)
    dZ_pad = np.pad(np.ones((4, 6, 6, 5)), ((0, 0), (1, 1), (1, 1), (0, 0)))
    dA = np.zeros((4, 6, 6, 3))
    for i, y, x, c in np.ndindex(dA.shape):
        dA[i, y, x, c] = np.sum(dZ_pad[i, y:y + 3, x:x + 3, :] * W[:, :, c, :])
    # (a later review) under grad: ones, a dA_prev saved with H and W swapped is what the kernel's rows and
    # columns swapped make too: the transpose that fixes it is said, not the kernel
    sub = tmp_path / "swapped"
    sub.mkdir()
    np.save(sub / "conv1.dA_prev.npy", _turned(dZ_pad, W).transpose(0, 2, 1, 3))
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["axis_order"] and o["note"].endswith("save yours.transpose(0, 2, 1, 3)"), o
    sub = tmp_path / "unturned"
    sub.mkdir()
    np.save(sub / "conv1.dA_prev.npy", dA)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["flipped_kernel"], o
    assert ("yours is this layer's dA_prev for its kernel turned by 180 degrees: taken as a convolution of the "
            "padded dZ, the input gradient needs the kernel turned, W[::-1, ::-1]") in o["note"], o
    # not vacuous: the right arrays, written the same way, pass
    sub = tmp_path / "right"
    sub.mkdir()
    np.save(sub / "conv1.dA_prev.npy", _turned(dZ_pad, W))
    np.save(sub / "conv1.Z.npy", loops(W, b))
    np.save(sub / "conv1.dW.npy", dW.sum(axis=0))
    np.save(sub / "conv1.db.npy", np.full(5, 4 * 36.0))
    assert run(["check", cfg, "--against", sub]).exit_code == 0


def test_a_zip_of_npy_files_is_graded_as_an_npz(tmp_path):
    """A grading review: a student's .zip upload (the usual one) was bad
    input (exit 2), where the same bytes named .npz graded 12 of 12. Its
    files may sit in a folder of the student's; macOS's __MACOSX/ copies
    are no arrays."""
    import json
    import zipfile

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    with zipfile.ZipFile(tmp_path / "hw.zip", "w") as z:
        z.write(tmp_path / "key" / "conv1.Z.npy", "student/conv1.Z.npy")
        z.writestr("student/conv1.db.npy", _npy_bytes(2 * np.load(tmp_path / "key" / "conv1.db.npy")))
        z.writestr("__MACOSX/student/._conv1.Z.npy", b"\x00\x05\x16\x07 a resource fork")
    result = run(["check", cfg, "--against", tmp_path / "hw.zip", "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 1, result.output  # db is twice convcli's
    assert {(a["entry"], a["quantity"], a["status"]) for a in doc["against"]} == {
        ("student/conv1.Z", "conv1.Z", "pass"), ("student/conv1.db", "conv1.db", "fail")}
    assert not any("MACOSX" in u["entry"] for u in doc["unknown"])


def test_a_submission_s_names_cannot_write_to_the_grader_s_terminal(tmp_path):
    """A review: the names of a submission's files and of a zip's members
    were printed as they are, so a file named with ESC colours or clears
    the grader's terminal, and one named "x\\nyour arrays: all 8 checks
    passed\\n.npy" put that line into the report. They are printed with
    their control characters escaped (errors.printable), a quantity below
    a zip's folder so named is still graded, and the verdicts stand."""
    import zipfile

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    key = tmp_path / "key"
    assert run(["backward", cfg, "--out", key]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    for f in key.glob("*.npy"):
        (sub / f.name).write_bytes(f.read_bytes())
    fake = "your arrays: all 8 checks passed"
    np.save(sub / f"x\n{fake}\n.npy", np.zeros(3))
    np.save(sub / "\x1b[32mfoo\x1b[0m.npy", np.zeros(3))
    np.save(sub / "conv1.db.npy", 2 * np.load(key / "conv1.db.npy"))  # one that fails: the verdict is 1
    result = run(["check", cfg, "--against", sub])
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output and fake not in result.output.splitlines()
    assert "not graded: x\\nyour arrays: all 8 checks passed\\n.npy: unknown quantity" in result.output
    assert "not graded: \\x1b[32mfoo\\x1b[0m.npy" in result.output

    with zipfile.ZipFile(tmp_path / "hw.zip", "w") as z:
        z.write(key / "conv1.Z.npy", "w\x1b[2K\r/conv1.Z.npy")
        z.writestr("conv1.db.npy", _npy_bytes(2 * np.load(key / "conv1.db.npy")))
    result = run(["check", cfg, "--against", tmp_path / "hw.zip"])
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output and "\r" not in result.output
    # (a folder beside the work at the top level is listed, not graded, as an unpacked folder's is)
    assert "not graded: w\\x1b[2K\\r/: a folder beside the work at the top level" in result.output, result.output


def test_a_broken_zip_upload_is_called_a_zip(tmp_path):
    """A review: a truncated .zip was "not a readable .npz (zip) file"."""
    from test_cli_helpers import CONFIGS, assert_error, run

    (tmp_path / "hw.zip").write_bytes(b"PK\x03\x04 cut short")
    assert_error(run(["check", CONFIGS / "stack.yaml", "--against", tmp_path / "hw.zip"]),
                 "hw.zip is not a readable .zip file (")


def test_an_entry_key_holding_a_newline_is_printed_escaped(tmp_path):
    """A review: a quoted key "relu1.A[0,\\n0,0,0]" (the index reads across
    the newline) was printed raw, breaking the table row and the FAIL line
    in two."""
    from test_cli_helpers import run, write

    cfg = write(tmp_path, 'inputs: {A_prev: {random: [1, 3, 3, 1]}}\nlayers: [{type: relu}]\n'
                          'expected:\n  "relu1.A[0,\\n0,0,0]": 5.0\n')
    result = run(["check", cfg])
    assert result.exit_code == 1, result.output
    assert "FAIL relu1.A[0,\\n0,0,0] (relu1.A): got" in result.output
    assert not any(line.startswith("0,0,0]") for line in result.output.splitlines())


def _npy_bytes(a) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_a_conv_layers_da_is_its_da_prev_in_any_config(tmp_path):
    """A grading review: the README says a conv layer's dA is its dA_prev
    (the notebook's dA, dW, db = conv_backward(dZ, cache)), but only a bare
    dA.npy in a one-layer config was taken; conv1.dA.npy was exit 2, even
    in the seed's one-layer config. A pool's dA stays its upstream gradient."""
    import json

    from test_cli_helpers import CONFIGS, run

    for cfg, layer in ((CONFIGS / "seed.yaml", "conv1"), (CONFIGS / "stack.yaml", "conv1")):
        key = tmp_path / cfg.stem
        assert run(["backward", cfg, "--out", key]).exit_code == 0
        sub = tmp_path / f"{cfg.stem}-sub"
        sub.mkdir()
        np.save(sub / f"{layer}.dA.npy", np.load(key / f"{layer}.dA_prev.npy"))
        result = run(["check", cfg, "--against", sub, "--json"])
        (a,) = json.loads(result.stdout)["against"]
        assert result.exit_code == 0 and (a["entry"], a["quantity"]) == (f"{layer}.dA.npy", f"{layer}.dA_prev"), a
    np.save(sub / "pool3.dA.npy", np.load(key / "pool3.dA_prev.npy"))
    (sub / "conv1.dA.npy").unlink()
    result = run(["check", CONFIGS / "stack.yaml", "--against", sub])
    # stack.yaml's last layer: its dA is the upstream gradient, which the config gives; of another shape, the
    # quantity its name begins (an instructor's review: "given by the config, not computed" alone)
    assert result.exit_code == 2 and ("pool3.dA.npy: shape (4, 8, 8, 4), not pool3.dA's (4, 4, 4, 4) (the config "
                                      "gives it) but pool3.dA_prev's") in result.output, result.output


def test_of_two_arrays_for_one_quantity_one_that_reads_is_graded(tmp_path):
    """A grading review: an .h5 with the work in results/conv1.db and a stray
    bytes dataset named conv1.db at the top graded the stray one (its name
    says the quantity whole), unreadable, and the quantity was lost."""
    import json

    import h5py

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    with h5py.File(tmp_path / "sub.h5", "w") as f:
        f["conv1.db"] = np.bytes_("junk")
        f["results/conv1.db"] = np.load(tmp_path / "key" / "conv1.db.npy")
    result = run(["check", cfg, "--against", tmp_path / "sub.h5", "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert [(a["entry"], a["status"]) for a in doc["against"]] == [("results/conv1.db", "pass")]
    assert [(u["entry"], u["note"]) for u in doc["unknown"]] == [
        ("conv1.db", "also conv1.db: results/conv1.db is graded instead; keep one")]


def test_review_of_the_new_hints_and_zip_uploads(tmp_path, monkeypatch):
    """A review of the hints and .zip uploads above: a float32 per-sample dW
    lost its hint (looked for at float64's tolerance); the no-bias hint told
    a bias: window layer to add b once; the + 1 hint gave a dilated layer
    the undilated formula and fired on one axis short; in a zip's folder a
    bare Z.npy beat conv1.Z.npy; a zip of no .npy files said only that it
    held no arrays; and every duplicate was probed (400 kept attempts in an
    .h5 took 5.6 minutes)."""
    import json
    import zipfile

    import h5py

    from test_cli_helpers import run, write

    import convcli.check as check_module

    cfg = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [4, 6, 6, 3]}\n  W: {random: [2, 2, 3, 5]}\n"
                          "  b: {random: [5]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1, bias: window}\n"
                          "backward: {grad: ones}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    key = {q: np.load(tmp_path / "key" / f"{q}.npy") for q in ("A_prev", "b", "conv1.Z", "conv1.dW")}

    def graded(sub, **extra):
        result = run(["check", cfg, "--against", sub, "--json", *extra.get("args", [])])
        return result, json.loads(result.stdout)

    # bias: window without its bias: 2 * 2 * 3 = 12 elements a window, by hand
    sub = tmp_path / "nobias"
    sub.mkdir()
    np.save(sub / "conv1.Z.npy", key["conv1.Z"] - 12 * key["b"].reshape(-1))
    (o,) = graded(sub)[1]["against"]
    assert o["hints"] == ["no_bias"] and "12 * b[c] to every output of channel c" in o["note"], o
    # a float32 per-sample dW (grad: ones: each sample's sums of its input windows, by hand)
    A_pad = np.pad(key["A_prev"], ((0, 0), (1, 1), (1, 1), (0, 0)))
    dW = np.zeros((4, 2, 2, 3, 5))
    for i, di, dj in np.ndindex(4, 2, 2):
        dW[i, di, dj] = A_pad[i, di:di + 7, dj:dj + 7, :].sum(axis=(0, 1))[:, None]
    np.testing.assert_allclose(dW.sum(axis=0), key["conv1.dW"], rtol=1e-12)
    sub = tmp_path / "per32"
    sub.mkdir()
    np.save(sub / "conv1.dW.npy", dW.astype(np.float32))
    (o,) = graded(sub)[1]["against"]
    assert o["hints"] == ["per_sample"], o
    # one axis short is no "row and a column short" (the other axis had its + 1); n_H's own formula without
    # its + 1 makes it, as a loop over h that stops short does (a later review: that slip was not named)
    sub = tmp_path / "short"
    sub.mkdir()
    np.save(sub / "conv1.Z.npy", key["conv1.Z"][:, :6])
    (o,) = graded(sub)[1]["against"]
    assert o["hints"] == ["geometry"] and "a row and a column" not in o["note"], o
    assert o["note"].endswith("yours are convcli's first 6x7 outputs of (4, 7, 7, 5), which 2 slips make alike: "
                              "the output height n_H is floor((n_H_prev + pad_top + pad_bottom - f) / stride) + 1, "
                              "the + 1 for the first window left out; or the loop over h stops short of n_H"), o
    # a zip with the work in a folder: the whole name wins over a bare one, whatever the order
    with zipfile.ZipFile(tmp_path / "hw.zip", "w") as z:
        z.writestr("hw/Z.npy", _npy_bytes(2 * key["conv1.Z"]))
        z.writestr("hw/conv1.Z.npy", _npy_bytes(key["conv1.Z"]))
    result, doc = graded(tmp_path / "hw.zip")
    assert result.exit_code == 0 and [a["entry"] for a in doc["against"]] == ["hw/conv1.Z"], doc
    # a zip of no .npy files says what it holds
    with zipfile.ZipFile(tmp_path / "txt.zip", "w") as z:
        z.writestr("hw/conv1.Z.txt", "1 2 3")
    result = run(["check", cfg, "--against", tmp_path / "txt.zip"])
    assert result.exit_code == 2 and "txt.zip holds no .npy arrays (it holds: hw/conv1.Z.txt)" in result.output
    # many kept attempts: only a chosen array that cannot be read is probed, not every duplicate (beside
    # the top level's: groups of the same quantities alone are several submissions, as a zip's folders)
    with h5py.File(tmp_path / "many.h5", "w") as f:
        f["conv1.Z"], f["conv1.dW"] = key["conv1.Z"], key["conv1.dW"]
        for k in range(30):
            f[f"try{k}/conv1.Z"] = key["conv1.Z"]
            f[f"try{k}/conv1.dW"] = key["conv1.dW"]
    probed = []
    readable = check_module._readable
    monkeypatch.setattr(check_module, "_readable", lambda s, where: probed.append(s.label) or readable(s, where))
    result, doc = graded(tmp_path / "many.h5")
    assert result.exit_code == 0 and len(doc["against"]) == 2 and len(doc["unknown"]) == 60
    assert len(probed) == 2, probed  # the two chosen ones, both readable


def test_the_plus_one_hint_of_a_dilated_layer_counts_its_dilation(tmp_path):
    """By hand: 10 rows, a 3-tap kernel at dilation 2 spans 5 rows: 6 outputs
    a side; the learner's 5 leave the + 1 out of
    floor((10 + 0 - 2 * (3 - 1) - 1) / 1) + 1 = 6."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "inputs:\n  A_prev: {random: [2, 10, 10, 1]}\n  W: {random: [3, 3, 1, 2]}\n"
                          "  b: {random: [2]}\nlayers:\n  - {type: conv, W: W, b: b, dilation: 2}\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "conv1.Z.npy", np.zeros((2, 5, 5, 2)))
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["expected_shape"] == [2, 6, 6, 2] and o["hints"] == ["geometry"], o
    assert "floor((n_H_prev + pad_top + pad_bottom - dilation * (f - 1) - 1) / stride) + 1" in o["note"], o


def test_unreadable_copies_are_probed_a_bounded_number_of_times(tmp_path, monkeypatch):
    """A review: with every copy of a quantity unreadable, each was probed,
    each probe of an .h5 walking the whole file (400 copies: 31 s). At most
    RIVALS_PROBED others are tried. And under --complete, a zip of no .npy
    files lists what it holds, as a folder's stray files are."""
    import json
    import zipfile

    import h5py

    from test_cli_helpers import CONFIGS, run

    import convcli.check as check_module

    cfg = CONFIGS / "seed.yaml"
    with h5py.File(tmp_path / "many.h5", "w") as f:
        f["conv1/Z"] = np.bytes_("x")  # (at the top level too: groups alone are several submissions)
        for k in range(40):
            f[f"try{k:02d}/conv1/Z"] = np.bytes_("x")
    probed = []
    readable = check_module._readable
    monkeypatch.setattr(check_module, "_readable", lambda s, where: probed.append(s.label) or readable(s, where))
    result = run(["check", cfg, "--against", tmp_path / "many.h5", "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 1 and [a["status"] for a in doc["against"]] == ["unreadable"], doc["against"]
    assert len(probed) == 1 + check_module.RIVALS_PROBED, probed
    with zipfile.ZipFile(tmp_path / "txt.zip", "w") as z:
        z.writestr("a.txt", "my answers")
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "txt.zip", "--complete", "--json"]).stdout)
    assert [(u["entry"], u["note"]) for u in doc["unknown"]] == [("txt.zip", "holds no .npy arrays (it holds: a.txt)")]


def test_an_output_of_another_size_is_named_by_its_values_not_its_size_alone(tmp_path):
    """A grading review: a size alone fits several settings. Stride 2, pad 1
    on 5x6 maps makes 3x3; a student whose loops stop one short and one who
    used pad 0 both hand in 2x2, and both were told 'stride 3 makes it'
    (which makes 2x2 too). A 2x2/2 max pool's student who took a 3x3
    window was told the same. Each is now told what their array is: the
    settings are rerun on the layer's input and compared; a pool's '+ 1'
    formula has no padding. Every array of the students' by hand loops."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [4, 5, 6, 3]}\n  W: {random: [3, 3, 3, 5]}\n"
                          "  b: {random: [5]}\nlayers:\n  - {type: conv, W: W, b: b, stride: 2, pad: 1}\n")
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    A, W, b = (np.load(tmp_path / "key" / f"{q}.npy") for q in ("A_prev", "W", "b"))

    def loops(pad, n_H, n_W):  # Z[i, h, w, c] = sum(A_pad[i, 2h:2h+3, 2w:2w+3] * W[..., c]) + b[c]
        A_pad = np.pad(A, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        Z = np.zeros((4, n_H, n_W, 5))
        for i, h, w, c in np.ndindex(Z.shape):
            Z[i, h, w, c] = np.sum(A_pad[i, 2 * h:2 * h + 3, 2 * w:2 * w + 3] * W[..., c]) + b.reshape(-1)[c]
        return Z

    np.testing.assert_allclose(loops(1, 3, 3), np.load(tmp_path / "key" / "conv1.Z.npy"), rtol=1e-12)

    def graded(array, config=cfg, q="conv1.Z"):
        sub = tmp_path / f"sub{len(list(tmp_path.iterdir()))}"
        sub.mkdir()
        np.save(sub / f"{q}.npy", array)
        result = run(["check", config, "--against", sub, "--json"])
        (o,) = json.loads(result.stdout)["against"]
        assert result.exit_code == 1 and o["hints"] == ["geometry"], o
        return o["note"]

    short = graded(loops(1, 2, 2))  # (5 + 2 - 3) // 2 = 2: the + 1 left out
    assert "stride 3" not in short and short.endswith(  # (every slip that makes it named: a later review)
        "yours are convcli's first 2x2 outputs of (4, 3, 3, 5), which 2 slips make alike: the output size is "
        "floor((n_H_prev + pad_top + pad_bottom - f) / stride) + 1, its + 1 or its padding left out; or the loops "
        "over h and w stop short of n_H and n_W"), short
    assert graded(loops(0, 2, 2)).endswith(  # (5 - 3) // 2 + 1 = 2
        "(4, 2, 2, 5) is what pad 0 makes of conv1's input (4, 5, 6, 3); the config's pad is 1")
    # neither's numbers: every setting of that size named, the size only
    assert graded(np.zeros((4, 2, 2, 5))).endswith(
        "(4, 2, 2, 5) is what stride 3 or pad 0 or dilation 2 makes of conv1's input (4, 5, 6, 3) (in size only: "
        "yours is none of their outputs); the config's stride is 2, pad is 1, dilation is 1")

    pool = write(tmp_path, "seed: 4\ninputs:\n  A_prev: {random: [3, 6, 6, 2]}\n"
                           "layers:\n  - {type: pool, f: 2, stride: 2, mode: max}\n", "pool.yaml")
    assert run(["forward", pool, "--out", tmp_path / "pkey"]).exit_code == 0
    x = np.load(tmp_path / "pkey" / "A_prev.npy")
    f3 = np.zeros((3, 2, 2, 2))  # a 3x3 window at stride 2: (6 - 3) // 2 + 1 = 2
    for i, h, w, c in np.ndindex(f3.shape):
        f3[i, h, w, c] = x[i, 2 * h:2 * h + 3, 2 * w:2 * w + 3, c].max()
    note = graded(f3, pool, "pool1.A")
    assert note.endswith("(3, 2, 2, 2) is what f 3 makes of pool1's input (3, 6, 6, 2); the config's f is 2"), note
    s3 = x[:, 0:6:3, 0:6:3].copy()  # a 2x2 window at stride 3: (6 - 2) // 3 + 1 = 2
    for i, h, w, c in np.ndindex(s3.shape):
        s3[i, h, w, c] = x[i, 3 * h:3 * h + 2, 3 * w:3 * w + 2, c].max()
    note = graded(s3, pool, "pool1.A")
    assert note.endswith("(3, 2, 2, 2) is what stride 3 makes of pool1's input (3, 6, 6, 2); the config's stride "
                         "is 2"), note  # (the config gives its stride: no word of the default)
    key = np.load(tmp_path / "pkey" / "pool1.A.npy")
    note = graded(key[:, :2, :2], pool, "pool1.A")
    assert note.endswith("which 2 slips make alike: the output size is floor((n_H_prev - f) / stride) + 1, the + 1 "
                         "for the first window left out; or the loops over h and w stop short of n_H and n_W"), note


def test_an_h5_with_one_quantity_in_two_groups_is_several_submissions(tmp_path):
    """An instructor's review: an .h5 holding attempt1/conv1/{Z,dA_prev,dW,db}
    (right) and attempt2/conv1/dW (a quarter of it) passed, "all 4 checks
    passed", the second group's dW a footnote; in the other order it failed.
    Its groups are folders, as a zip's: several submissions in one, which
    one is the work the user's to say; beside a dataset at the top level,
    a group's copy of it is one of two arrays for a quantity, as before."""
    import json

    import h5py

    from test_cli_helpers import CONFIGS, assert_error, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    key = {q: np.load(tmp_path / "key" / f"conv1.{q}.npy") for q in ("Z", "dA_prev", "dW", "db")}
    for first, second in (("attempt1", "attempt2"), ("attempt2", "attempt1")):
        path = tmp_path / f"{first}.h5"
        with h5py.File(path, "w") as f:
            for q, a in key.items():
                f[f"{first}/conv1/{q}"] = a
            f[f"{second}/conv1/dW"] = key["dW"] / 4
        assert_error(run(["check", cfg, "--against", path]),
                     f"{path.name}: {path.name} holds the same quantities in attempt1/ and attempt2/: several "
                     "submissions in one; copy the group that is the work into a file of its own (h5copy) and "
                     "--against that")
        result = run(["check", cfg, "--against", path, "--json", "--complete"])
        doc = json.loads(result.stdout)
        assert result.exit_code == 1 and doc["counts"]["against"]["passed"] == 0, result.stdout
    # the same .h5 as a folder's outputs.h5, beside a stray .npy that is no quantity (a later review: the
    # stray file skipped the check for several submissions, and attempt1's passed)
    folder = tmp_path / "folder"
    folder.mkdir()
    with h5py.File(folder / "outputs.h5", "w") as f:
        for q, a in key.items():
            f[f"attempt1/conv1/{q}"] = a
        f["attempt2/conv1/dW"] = key["dW"] / 4
    np.save(folder / "notes.npy", np.zeros(3))
    assert_error(run(["check", cfg, "--against", folder]), "outputs.h5 holds the same quantities in attempt1/ and "
                                                           "attempt2/: several submissions in one")
    with h5py.File(tmp_path / "layer.h5", "w") as f:  # a layer's own group is no folder (a later review:
        for q, a in key.items():  # attempt0/conv1.dW, one group deep, was graded over conv1/dW)
            f[f"conv1/{q}"] = a
        f["attempt0/conv1.dW"] = 2 * key["dW"]
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "layer.h5", "--json"]).stdout)
    assert doc["ok"] and [u["entry"] for u in doc["unknown"]] == ["attempt0/conv1.dW"], doc
    for group in ("old", "attempt0"):  # the top level's, graded, whatever the group's name (a later review:
        with h5py.File(tmp_path / "top.h5", "w") as f:  # attempt0/ sorted first and was graded); its copy listed
            for q, a in key.items():
                f[f"conv1/{q}"] = a
            f[f"{group}/conv1/dW"] = key["dW"] / 4
        result = run(["check", cfg, "--against", tmp_path / "top.h5", "--json", "--complete"])
        doc = json.loads(result.stdout)
        assert result.exit_code == 0 and doc["counts"]["against"]["passed"] == 4, result.stdout
        assert [u["entry"] for u in doc["unknown"]] == [f"{group}/conv1/dW"]


def test_a_zip_with_one_quantity_in_two_folders_is_several_submissions(tmp_path):
    """A grading review: draft/dW.npy (wrong) and final/dW.npy (right) in one
    zip graded the first by name (draft/), and an instructor's zip of three
    students' folders passed as one submission ("all 12 checks passed",
    the others' arrays footnotes), where the same folders unzipped are
    refused ("--against the one that is your work"). A zip is the same:
    which folder is the work is the user's to say; under --complete
    nothing is graded, each folder listed, whatever the zip's order."""
    import json
    import zipfile

    from test_cli_helpers import CONFIGS, assert_error, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    dW = np.load(tmp_path / "key" / "conv1.dW.npy")
    for order in (["draft", "final"], ["final", "draft"]):
        path = tmp_path / f"{order[0]}.zip"
        with zipfile.ZipFile(path, "w") as z:
            for folder in order:
                z.writestr(f"{folder}/dW.npy", _npy_bytes(2 * dW if folder == "draft" else dW))
        assert_error(run(["check", cfg, "--against", path]),
                     f"{path.name}: {path.name} holds the same quantities in draft/ and final/: several "
                     "submissions in one; unzip it and --against the folder that is the work")
        result = run(["check", cfg, "--against", path, "--json", "--complete"])
        doc = json.loads(result.stdout)
        assert result.exit_code == 1 and doc["counts"]["against"]["passed"] == 0, result.stdout
        assert [(u["entry"], u["note"]) for u in doc["unknown"]] == [
            (f"{f}/", f"one of several submissions in {path.name}; unzip it and --against the folder that is "
                      "the work") for f in ("draft", "final")]

    # a class's folders, each a whole submission, and arrays at the top level beside one folder
    key = sorted((tmp_path / "key").glob("*.npy"))
    with zipfile.ZipFile(tmp_path / "class.zip", "w") as z:
        for student, factor in (("s01", 1.0), ("s02", 2.0)):
            for f in key:
                z.writestr(f"subs/{student}/{f.name}", _npy_bytes(factor * np.load(f)))
    assert_error(run(["check", cfg, "--against", tmp_path / "class.zip"]),
                 "class.zip holds the same quantities in subs/s01/ and subs/s02/: several submissions")
    # arrays at the top level are the work, as a folder's own files are (a review: refused), and copies
    # of what the config gives, never graded, count for nothing (a review: W1.npy beside data/W1.npy refused)
    with zipfile.ZipFile(tmp_path / "top.zip", "w") as z:
        z.writestr("conv1.dW.npy", _npy_bytes(dW))
        z.writestr("old/conv1.dW.npy", _npy_bytes(2 * dW))
        for copy in ("W.npy", "data/W.npy", "more/W.npy"):
            z.writestr(copy, _npy_bytes(np.load(tmp_path / "key" / "W.npy")))
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "top.zip", "--json"]).stdout)
    assert [(a["entry"], a["status"]) for a in doc["against"]] == [("conv1.dW", "pass")]
    assert ("old/conv1.dW", "also conv1.dW: conv1.dW is graded instead, and the two differ; keep one") in [
        (u["entry"], u["note"]) for u in doc["unknown"]]
    # ...where it can be read: a folder's copy that can stands in for one that cannot (a later review: the
    # unreadable top-level array was graded, as the README says it is not)
    with zipfile.ZipFile(tmp_path / "bad_top.zip", "w") as z:
        z.writestr("conv1.dW.npy", b"not an array")
        z.writestr("hw3/conv1.dW.npy", _npy_bytes(dW))
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "bad_top.zip", "--json"]).stdout)
    assert [(a["entry"], a["status"]) for a in doc["against"]] == [("hw3/conv1.dW", "pass")], doc["against"]

    # one submission's quantities spread over folders (forward/, backward/) is one submission
    with zipfile.ZipFile(tmp_path / "spread.zip", "w") as z:
        z.writestr("forward/conv1.Z.npy", _npy_bytes(np.load(tmp_path / "key" / "conv1.Z.npy")))
        z.writestr("backward/conv1.dW.npy", _npy_bytes(dW))
    result = run(["check", cfg, "--against", tmp_path / "spread.zip", "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 0, result.stdout
    assert {(a["entry"], a["status"]) for a in doc["against"]} == {
        ("forward/conv1.Z", "pass"), ("backward/conv1.dW", "pass")}


def test_a_zip_member_named_with_backslashes_is_in_its_folder(tmp_path):
    """A grading review: a zip some Windows tools make names its members
    hw3\\conv1.Z.npy; no name resolved (exit 2, or 0 of 12 graded with
    --complete) for a correct submission. A backslash in a zip member's
    name separates folders as a slash does."""
    import json
    import zipfile

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    with zipfile.ZipFile(tmp_path / "hw.zip", "w") as z:
        for name in ("conv1.Z", "conv1.dW"):
            z.writestr(f"hw3\\{name}.npy", _npy_bytes(np.load(tmp_path / "key" / f"{name}.npy")))
        z.writestr("hw3\\conv1.db.npy", _npy_bytes(2 * np.load(tmp_path / "key" / "conv1.db.npy")))
    result = run(["check", cfg, "--against", tmp_path / "hw.zip", "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 1, result.stdout
    assert {(a["quantity"], a["status"]) for a in doc["against"]} == {
        ("conv1.Z", "pass"), ("conv1.dW", "pass"), ("conv1.db", "fail")}


def test_an_array_in_another_axis_order_is_a_cause_of_the_next_ones_only_as_a_condition(tmp_path):
    """A learner's review: conv1.Z saved NCHW (convcli's numbers, its own
    line says the transpose) sent a pool2.dA_prev with a slip of its own to
    'fix the forward first'; and --each-layer graded the pool on convcli's
    conv1.Z without a word. Now the NCHW numbers stand for the layer after
    them, and where they are not convcli's in any order, the note says the
    pool was graded on convcli's."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [3, 5, 5, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n"
                          "  - {type: pool, f: 2, stride: 2, mode: max}\nbackward: {grad: ones}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    Z = np.load(tmp_path / "key" / "conv1.Z.npy")
    # the pool's gradient by hand (grad: ones, 2x2 windows at stride 2 over 5x5: rows and columns 0-3)
    d = np.zeros_like(Z)
    for i, h, w, c in np.ndindex(3, 2, 2, 4):
        win = Z[i, 2 * h:2 * h + 2, 2 * w:2 * w + 2, c]
        d[i, 2 * h:2 * h + 2, 2 * w:2 * w + 2, c] += win == win.max()
    np.testing.assert_array_equal(d, np.load(tmp_path / "key" / "pool2.dA_prev.npy"))
    d[0, 0, 0, 0] += 1  # the slip of its own
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "conv1.Z.npy", Z.transpose(0, 3, 1, 2))
    np.save(sub / "pool2.dA_prev.npy", d)
    for each in ([], ["--each-layer"]):
        doc = json.loads(run(["check", cfg, "--against", sub, "--json", *each]).stdout)
        by = {o["quantity"]: o for o in doc["against"]}
        assert by["conv1.Z"]["hints"] == ["axis_order"], by["conv1.Z"]
        o = by["pool2.dA_prev"]
        assert o["status"] == "fail" and "differs too" not in o["note"], (each, o)
        assert "graded on convcli's" not in o["note"], (each, o)
        if each:  # the pool took the transpose, convcli's numbers: nothing of yours before it to blame
            assert o["hints"] == [], o
        else:  # a cause only if your pool took conv1.Z as saved
            assert o["hints"] == ["layout_first"], o
            assert o["note"].endswith("your conv1.Z has convcli's numbers with its axes in another order: if your "
                                      "layers after it took it so, fix that first, or grade each layer on your "
                                      "inputs with --each-layer"), o
    # not convcli's numbers in any order: the pool is graded on convcli's conv1.Z, and said
    np.save(sub / "conv1.Z.npy", 2 * Z.transpose(0, 3, 1, 2))
    np.save(sub / "pool2.A.npy", np.load(tmp_path / "key" / "pool2.A.npy"))
    doc = json.loads(run(["check", cfg, "--against", sub, "--json", "--each-layer"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert by["pool2.A"]["passed"]
    for q in ("pool2.A", "pool2.dA_prev"):
        assert "graded on convcli's conv1.Z: yours, (3, 4, 5, 5), has its axes in another order" in by[q]["note"], \
            by[q]


def test_a_pool_of_the_other_mode_says_so(tmp_path):
    """A grading review: an average pool handed in as a max pool (the mode
    passed or defaulted wrongly) failed bare. Both arrays by hand: the
    window's mean and maximum, and their gradients."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 5\ninputs:\n  A_prev: {random: [3, 7, 5, 2]}\nlayers:\n"
                          "  - {type: pool, f: [3, 2], stride: [2, 1], mode: average}\nbackward: {grad: random}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    x, g = np.load(tmp_path / "key" / "A_prev.npy"), np.load(tmp_path / "key" / "pool1.dA.npy")
    A, dA = np.zeros((3, 3, 4, 2)), np.zeros_like(x)  # (7 - 3) // 2 + 1 = 3 rows, (5 - 2) // 1 + 1 = 4 columns
    for i, h, w, c in np.ndindex(A.shape):
        win = x[i, 2 * h:2 * h + 3, w:w + 2, c]
        A[i, h, w, c] = win.max()
        dA[i, 2 * h:2 * h + 3, w:w + 2, c] += (win == win.max()) * g[i, h, w, c]
    np.testing.assert_allclose(
        np.load(tmp_path / "key" / "pool1.A.npy"),
        np.array([[[[x[i, 2 * h:2 * h + 3, w:w + 2, c].mean() for c in range(2)] for w in range(4)]
                   for h in range(3)] for i in range(3)]), rtol=1e-12)
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "A.npy", A)
    np.save(sub / "dA_prev.npy", dA)
    result = run(["check", cfg, "--against", sub, "--json"])
    by = {o["quantity"]: o for o in json.loads(result.stdout)["against"]}
    assert result.exit_code == 1 and set(by) == {"pool1.A", "pool1.dA_prev"}
    for o in by.values():
        assert o["hints"] == ["pool_mode"], o
        assert o["note"].endswith("yours is what a max pool makes here (mode: max); the config's pool is "
                                  "mode: average"), o


def test_an_expected_value_copied_from_a_table_says_where_every_digit_is(tmp_path):
    """A learner's review: conv1.Z.mean written as the forward table shows
    it (6 significant digits) failed with 'abs err 3.58e-07 > 2.84e-07
    allowed' and nothing else. The statistics here are NumPy's of the
    config's own input."""
    from test_cli_helpers import run, write

    body = "seed: 7\ninputs:\n  A_prev: {random: [2, 5, 5, 3]}\nlayers:\n  - {type: relu}\n"
    cfg = write(tmp_path, body)
    assert run(["forward", cfg, "--out", tmp_path / "out"]).exit_code == 0
    A = np.load(tmp_path / "out" / "A_prev.npy")
    values = {s: float(getattr(np, s)(A)) for s in ("mean", "std", "min", "max", "sum")}
    # a statistic whose 6 digits are off by more than rtol 1e-6 allows (the seventh rounds much)
    name, v = next((s, v) for s, v in values.items() if abs(float(f"{v:.6g}") - v) > 1e-8 + 1e-6 * abs(v))
    cfg = write(tmp_path, body + f"expected:\n  A_prev.{name}: {v:.6g}\n", "copied.yaml")
    result = run(["check", cfg])
    assert result.exit_code == 1
    said = " ".join(result.stdout.split())  # (the table wraps its notes)
    import re

    got = re.search(re.escape(f"{float(f'{v:.6g}')!r} is ") + r"(\S+) to the", said)
    assert got and abs(float(got[1]) - v) <= 1e-12 * abs(v), said  # (convcli's sums: the last digits may differ)
    assert ("to the 6 significant digits convcli's tables show: take expected values from OUT/expected.yaml or "
            "summary.json") in said, said
    # a value wrong in its sixth digit is no copy of the table's
    wrong = float(f"{v:.6g}") * (1 + 1e-5)
    cfg = write(tmp_path, body + f"expected:\n  A_prev.{name}: {wrong!r}\n", "wrong.yaml")
    result = run(["check", cfg])
    assert result.exit_code == 1 and "significant digits" not in result.stdout


def test_a_copy_s_name_suggests_the_quantity_it_copies(tmp_path):
    """A learner's review: 'db (1).npy' (a browser's second download) got no
    'did you mean', where 'dw.npy' did."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "db (1).npy").write_bytes((tmp_path / "key" / "conv1.db.npy").read_bytes())
    (sub / "dW - Copy.npy").write_bytes((tmp_path / "key" / "conv1.dW.npy").read_bytes())
    (sub / "Z.npy").write_bytes((tmp_path / "key" / "conv1.Z.npy").read_bytes())
    (sub / "zz (2).npy").write_bytes((tmp_path / "key" / "conv1.Z.npy").read_bytes())  # a copy of no quantity
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    notes = {u["entry"]: u["note"] for u in doc["unknown"]}
    assert notes["db (1).npy"] == "unknown quantity 'db (1)' (a copy's name: did you mean 'conv1.db'? save it as db.npy)"
    assert notes["dW - Copy.npy"].startswith("unknown quantity 'dW - Copy' (a copy's name: did you mean 'conv1.dW'?")
    assert notes["zz (2).npy"].startswith("unknown quantity 'zz (2)', a copy's name (did you mean 'Z'?)")  # spelling


def test_the_size_hint_says_the_config_s_pad_as_written_and_reruns_a_chunk_at_a_time(tmp_path, monkeypatch):
    """A review of the size hint: the config's pad [1, 2] was said as 1 (its
    top and bottom only); under pad: same the layer was rerun with same
    resolved again for the candidate's stride, so a student's stride-1
    output (with same's padding for stride 2) was 'in size only'; and each
    candidate reran the whole batch at once (9x the time, 5x the memory of
    the check on a 64x224x224 layer). By hand loops throughout."""
    import json

    from convcli import check as check_module
    from test_cli_helpers import run, write

    def loops(A, W, b, pads, s, n_H, n_W):
        t, bo, l, r = pads
        A = np.pad(A, ((0, 0), (t, bo), (l, r), (0, 0)))
        f = W.shape[0]
        Z = np.zeros((A.shape[0], n_H, n_W, W.shape[-1]))
        for i, h, w, c in np.ndindex(Z.shape):
            Z[i, h, w, c] = np.sum(A[i, s * h:s * h + f, s * w:s * w + f] * W[..., c]) + b.reshape(-1)[c]
        return Z

    def graded(cfg, Z):
        sub = tmp_path / f"sub{len(list(tmp_path.iterdir()))}"
        sub.mkdir()
        np.save(sub / "conv1.Z.npy", Z)
        (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
        assert o["hints"] == ["geometry"], o
        return o["note"]

    body = ("seed: 2\ninputs:\n  A_prev: {random: [6, 8, 8, 3]}\n  W: {random: [3, 3, 3, 4]}\n  b: {random: [4]}\n"
            "layers:\n  - {type: conv, W: W, b: b, PAD}\n")
    asym = write(tmp_path, body.replace("PAD", "pad: [1, 2]"), "asym.yaml")
    assert run(["forward", asym, "--out", tmp_path / "key"]).exit_code == 0
    A, W, b = (np.load(tmp_path / "key" / f"{q}.npy") for q in ("A_prev", "W", "b"))
    np.testing.assert_allclose(loops(A, W, b, (1, 1, 2, 2), 1, 8, 10), np.load(tmp_path / "key" / "conv1.Z.npy"),
                               rtol=1e-12)
    assert graded(asym, loops(A, W, b, (0, 0, 0, 0), 1, 6, 6)).endswith(
        "(6, 6, 6, 4) is what pad 0 makes of conv1's input (6, 8, 8, 3); the config's pad is [1, 2]")
    # pad: same at stride 2 on 8 rows: a total of (4 - 1) * 2 + 3 - 8 = 1, after (bottom, right); 4x4 out.
    # At stride 1 with that padding: 8 + 1 - 3 + 1 = 7 rows
    same = write(tmp_path, body.replace("PAD", "pad: same, stride: 2"), "same.yaml")
    stride1 = loops(A, W, b, (0, 1, 0, 1), 1, 7, 7)
    calls = []
    conv_forward = check_module.conv_forward
    monkeypatch.setattr(check_module, "conv_forward", lambda x, *a, **k: calls.append(len(x)) or conv_forward(x, *a, **k))
    monkeypatch.setattr(check_module, "HINT_CHUNK_BYTES", 2 * 7 * 7 * 4 * 8)  # 2 samples a chunk
    assert graded(same, stride1).endswith(
        "(6, 7, 7, 4) is what stride 1 makes of conv1's input (6, 8, 8, 3); the config's stride is 2")
    # the whole batch two samples at a time, never whole; and pad 4's first two (its (8 + 8 - 3) // 2 + 1 = 7
    # rows fit too), told by them that it is not it
    assert calls.count(2) == 4, calls
    # pad 0 at stride 1 (two settings off): 8 - 3 + 1 = 6, the size pad 3 makes at stride 2, (8 + 6 - 3) // 2 + 1
    assert graded(same, loops(A, W, b, (0, 0, 0, 0), 1, 6, 6)).endswith(
        "(6, 6, 6, 4) is what pad 3 makes of conv1's input (6, 8, 8, 3) (in size only: yours is not its output); "
        "the config's pad is same ([0, 1, 0, 1])")


def test_square_maps_saved_nchw_are_taken_transposed_by_the_next_layer(tmp_path):
    """A review: NCHW maps as wide as tall with as many channels keep their
    shape, so --each-layer ran the ReLU on conv1.Z as saved (scrambled),
    and a right relu2.A failed, told to transpose itself. Now the ReLU
    takes its transpose, convcli's numbers. By hand: ReLU of convcli's
    conv1.Z."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [2, 4, 4, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n  - {type: relu}\n")
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    Z = np.load(tmp_path / "key" / "conv1.Z.npy")
    assert Z.shape == (2, 4, 4, 4)
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "conv1.Z.npy", Z.transpose(0, 3, 1, 2))
    np.save(sub / "relu2.A.npy", np.maximum(Z, 0))
    doc = json.loads(run(["check", cfg, "--against", sub, "--json", "--each-layer"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert by["conv1.Z"]["hints"] == ["axis_order"] and not by["conv1.Z"]["passed"]
    assert by["relu2.A"]["passed"], by["relu2.A"]
    # a pipeline NCHW throughout: its ReLU took conv1.Z as stored; graded on the transpose (as the whole run
    # grades it: the layer's cache must hold convcli's order for the gradients after it), and said
    np.save(sub / "relu2.A.npy", np.maximum(Z.transpose(0, 3, 1, 2), 0))
    doc = json.loads(run(["check", cfg, "--against", sub, "--json", "--each-layer"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert not by["relu2.A"]["passed"] and not by["conv1.Z"]["passed"]
    assert by["relu2.A"]["hints"] == ["axis_order"], by["relu2.A"]
    assert by["relu2.A"]["note"].endswith("yours is what relu2 makes of your conv1.Z as you saved it, in another "
                                          "axis order: save conv1.Z in convcli's (NHWC) and make it again"), by["relu2.A"]


def test_copy_names_in_a_stack_chained_and_of_given_arrays(tmp_path):
    """A review of the copy names: in a config of several layers 'db (1)'
    said nothing and 'dA_prev (1)' suggested A_prev; 'dW - Copy - Copy'
    and macOS's 'db copy' were missed; 'W (1)' was told to be saved as
    W.npy, which the config gives (not graded)."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    sub2 = tmp_path / "sub2"
    sub2.mkdir()
    np.save(sub2 / "conv1.Z.npy", np.zeros(3))  # one array of a quantity: the rest are listed one by one
    for name in ("db (1)", "dA_prev (1)", "conv1.dW - Copy - Copy", "conv1.db copy", "conv1.db (copy)", "W1 (1)"):
        np.save(sub2 / f"{name}.npy", np.zeros(3))
    doc = json.loads(run(["check", cfg, "--against", sub2, "--json"]).stdout)
    notes = {u["entry"]: u["note"] for u in doc["unknown"]}
    assert notes["db (1).npy"].startswith("unknown quantity 'db (1)', a copy's name (did you mean 'conv1.db'?)")
    assert notes["dA_prev (1).npy"].startswith(
        "unknown quantity 'dA_prev (1)', a copy's name (did you mean 'conv1.dA_prev' or 'relu2.dA_prev' or "
        "'pool3.dA_prev'?)")
    assert notes["conv1.dW - Copy - Copy.npy"] == ("unknown quantity 'conv1.dW - Copy - Copy' (a copy's name: did "
                                                   "you mean 'conv1.dW'? save it as conv1.dW.npy)")
    for name in ("conv1.db copy", "conv1.db (copy)"):
        assert notes[f"{name}.npy"].startswith(f"unknown quantity '{name}' (a copy's name: did you mean 'conv1.db'?")
    assert notes["W1 (1).npy"] == "unknown quantity 'W1 (1)' (a copy's name, of W1, which the config gives: not graded)"


def _dilated_loops(A, W, b, d):
    """A valid conv at dilation d = (d_H, d_W), by hand loops over the taps."""
    f_H, f_W = W.shape[:2]
    n_H, n_W = A.shape[1] - d[0] * (f_H - 1), A.shape[2] - d[1] * (f_W - 1)
    Z = np.zeros((A.shape[0], n_H, n_W, W.shape[-1]))
    for i, h, w, c in np.ndindex(Z.shape):
        win = A[i, h:h + d[0] * (f_H - 1) + 1:d[0], w:w + d[1] * (f_W - 1) + 1:d[1]]
        Z[i, h, w, c] = np.sum(win * W[..., c]) + b.reshape(-1)[c]
    return Z


def _graded_at_a_dilation(tmp_path, name: str, body: str, config_d, student_d) -> tuple[tuple, dict]:
    """A one-conv config (``body``) run, its Z checked by hand at
    ``config_d``, and a student's Z made at ``student_d`` graded: (the
    student's shape, the outcome)."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, body, f"{name}.yaml")
    key = tmp_path / f"key_{name}"
    assert run(["forward", cfg, "--out", key]).exit_code == 0
    A, W, b = (np.load(key / f"{q}.npy") for q in ("A_prev", "W", "b"))
    np.testing.assert_allclose(_dilated_loops(A, W, b, config_d), np.load(key / "conv1.Z.npy"), rtol=1e-12)
    sub = tmp_path / f"sub_{name}"
    sub.mkdir()
    Z = _dilated_loops(A, W, b, student_d)
    np.save(sub / "conv1.Z.npy", Z)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    return Z.shape, o


def test_a_dilation_the_config_does_not_have_is_named(tmp_path):
    """A README audit: the size hint tried only dilation 1, and only for a
    dilated layer; a student's dilation 2 on an undilated 3x3 layer got no
    hint (9 - 2 * 2 = 5 rows against 9 - 3 + 1 = 7), and one of 3 on a
    dilation-2 layer was told a stride. By hand loops over the taps."""
    for config_d, student_d in ((1, 2), (2, 3), (2, 1)):
        body = ("seed: 3\ninputs: {A_prev: {random: [2, 9, 9, 3]}, W: {random: [3, 3, 3, 3]}, "
                f"b: {{random: [3]}}}}\nlayers:\n  - {{type: conv, W: W, b: b, dilation: {config_d}}}\n")
        shape, o = _graded_at_a_dilation(tmp_path, f"d{config_d}{student_d}", body, (config_d,) * 2,
                                         (student_d,) * 2)
        assert o["hints"] == ["geometry"], o
        assert o["note"].endswith(f"{shape} is what dilation {student_d} makes of conv1's input (2, 9, 9, 3); "
                                  f"the config's dilation is {config_d}"), o


def test_dilation_candidates_follow_the_kernel_s_axes_of_more_than_one_tap(tmp_path):
    """A review: with the dilation resolved to [1, k] (written [1, 2], or 2
    on a 1x3 kernel, whose 1-tap axis takes 1), no dilation was tried at
    all. By hand loops; the config's dilation said as written."""
    for kernel, written, student, said in (([3, 3], "[1, 2]", (1, 1), "dilation 1"),
                                           ([1, 3], "2", (1, 1), "dilation 1"),
                                           ([1, 3], "2", (1, 3), "dilation 3")):
        name = f"k{kernel[0]}{kernel[1]}_{written.strip('[]').replace(', ', '')}_{student[1]}"
        body = ("seed: 4\ninputs: {A_prev: {random: [2, 9, 9, 2]}, "
                f"W: {{random: [{kernel[0]}, {kernel[1]}, 2, 3]}}, b: {{random: [3]}}}}\n"
                f"layers:\n  - {{type: conv, W: W, b: b, dilation: {written}}}\n")
        shape, o = _graded_at_a_dilation(tmp_path, name, body, (1, 2), student)
        assert o["hints"] == ["geometry"], o
        assert o["note"].endswith(f"{shape} is what {said} makes of conv1's input (2, 9, 9, 2); the config's "
                                  f"dilation is {written}"), o


def test_settings_an_input_cannot_tell_apart_are_named_together(tmp_path):
    """An adversarial review: on an input of zeros every output is the bias,
    so pad 0 and dilation 2 make the same (2, 4, 4, 2) of 6x6 maps (6 - 3 +
    1 = 4; 6 + 2 - 5 + 1 = 4); a student who used dilation 2 was told pad 0
    alone. And a float16 array saved NCHW (another shape) was not told its
    transpose (the run's float64 tolerance was asked of it)."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs: {A_prev: {zeros: [2, 6, 6, 3]}, W: {random: [3, 3, 3, 2]}, "
                          "b: {random: [2]}}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n")
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    b = np.load(tmp_path / "key" / "b.npy").reshape(-1)
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "conv1.Z.npy", np.broadcast_to(b, (2, 4, 4, 2)))  # the bias everywhere, by hand
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["geometry"] and o["note"].endswith(
        "(2, 4, 4, 2) is what pad 0 or dilation 2 makes of conv1's input (2, 6, 6, 3); the config's pad is 1, "
        "dilation is 1"), o
    # float16, NCHW, (2, 2, 6, 6) for (2, 6, 6, 2): the bias everywhere again
    np.save(sub / "conv1.Z.npy", np.broadcast_to(b[:, None, None], (2, 2, 6, 6)).astype(np.float16))
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["axis_order"] and "save yours.transpose(0, 2, 3, 1)" in o["note"], o


def test_each_layer_grades_no_layer_on_an_input_that_tests_nothing(tmp_path):
    """An adversarial review: a submission of zeros (every array np.zeros_like
    of convcli's) scored 0 of 8 on the whole run and 6 of 8 layer by layer:
    a ReLU, a pool and every gradient are right on zeros by doing nothing.
    A layer whose input of yours is constant now takes the rerun's, and the
    note says so; a few NaN still test a layer (whether it carries them)."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    sub = tmp_path / "zeros"
    sub.mkdir()
    for q in ("conv1.Z", "relu2.A", "pool3.A", "conv1.dA_prev", "conv1.dW", "conv1.db", "relu2.dA_prev",
              "pool3.dA_prev"):
        np.save(sub / f"{q}.npy", np.zeros_like(np.load(tmp_path / "key" / f"{q}.npy")))
    doc = json.loads(run(["check", cfg, "--against", sub, "--json", "--each-layer"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert not any(o["passed"] for o in by.values()), {q: o["passed"] for q, o in by.items()}
    assert "graded on convcli's conv1.Z: yours, (4, 8, 8, 4), tests no layer (every element 0.0)" in \
        by["relu2.A"]["note"], by["relu2.A"]


def one_conv_by_hand(tmp_path):
    """A config of one 2x2 conv over (3, 5, 5, 2) random inputs from files,
    grad: output; returns (config, W, Z, dW), Z and dW by hand (windows
    times W; A's windows times Z)."""
    from test_cli_helpers import write

    rng = np.random.default_rng(5)
    A, W, b = rng.standard_normal((3, 5, 5, 2)), rng.standard_normal((2, 2, 2, 4)), rng.standard_normal(4)
    for name, a in (("x", A), ("W", W), ("b", b)):
        np.save(tmp_path / f"{name}.npy", a)
    cfg = write(tmp_path, {"inputs": {"A_prev": {"file": "x.npy"}, "W": {"file": "W.npy"}, "b": {"file": "b.npy"}},
                           "layers": [{"type": "conv", "W": "W", "b": "b"}], "backward": {"grad": "output"}})
    Z = np.einsum("nhwijc,ijck->nhwk", np.stack([np.stack([A[:, i:i + 4, j:j + 4] for j in range(2)], 3)
                                                for i in range(2)], 3), W) + b
    dW = np.stack([np.stack([np.einsum("nhwc,nhwk->ck", A[:, i:i + 4, j:j + 4], Z) for j in range(2)])
                   for i in range(2)])
    return cfg, W, Z, dW


def test_each_layer_grades_no_gradient_on_a_gradient_of_yours_whose_nan_void_it(tmp_path):
    """A learner's review: under grad: output, a conv1.Z of yours with one
    NaN pixel is the upstream gradient of conv1's backward, which makes
    every element of dW and db NaN; an all-NaN dW then passed, error 0.
    That gradient now tests nothing and is replaced by the rerun's (the
    config's inputs here: convcli's Z), and the note says so: the all-NaN dW
    fails and a right one, by hand, passes. A few NaN in a layer's forward
    input still test it (test_each_layer_grades_no_layer_on_an_input_that_tests_nothing)."""
    import json

    from test_cli_helpers import run

    cfg, W, Z, dW = one_conv_by_hand(tmp_path)
    sub = tmp_path / "sub"
    sub.mkdir()
    nan_Z = Z.copy()
    nan_Z[0, 0, 0, :] = np.nan
    np.save(sub / "conv1.Z.npy", nan_Z)
    np.save(sub / "conv1.dW.npy", np.full(W.shape, np.nan))  # what a backward on that Z makes
    np.save(sub / "conv1.db.npy", np.full(4, np.nan))
    doc = json.loads(run(["check", cfg, "--against", sub, "--json", "--each-layer"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert not any(o["passed"] for o in by.values()), by
    assert ("graded on convcli's conv1.Z: yours, (3, 4, 4, 4), holds NaN: every element of conv1.dW and conv1.db "
            "made of it is NaN, which tests nothing") in by["conv1.dW"]["note"], by["conv1.dW"]
    np.save(sub / "conv1.dW.npy", dW)
    np.save(sub / "conv1.db.npy", Z.sum(axis=(0, 1, 2)))
    # dA_prev, whose NaN that Z makes only under its pixel's windows, is graded on it (a review: it failed,
    # graded on convcli's Z too); by hand, each kernel offset's share of that Z added in place
    dA = np.zeros((3, 5, 5, 2))
    for i in range(2):
        for j in range(2):
            dA[:, i:i + 4, j:j + 4] += np.einsum("nhwk,ck->nhwc", nan_Z, W[i, j])
    assert 0 < np.isnan(dA).sum() < dA.size
    np.save(sub / "conv1.dA_prev.npy", dA)
    doc = json.loads(run(["check", cfg, "--against", sub, "--json", "--each-layer"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert by["conv1.dW"]["passed"] and by["conv1.db"]["passed"] and not by["conv1.Z"]["passed"], by
    assert by["conv1.dA_prev"]["passed"] and "tests nothing" not in by["conv1.dA_prev"]["note"], by


def test_a_forward_output_rounded_to_decimals_says_so_and_is_not_blamed(tmp_path):
    """An adversarial review: a Z saved as np.round(Z, 4) failed with no
    hint, and the dW after it was told to fix it first. It says it is
    convcli's rounded to 4 decimals, and a dW with its channels reversed
    is not blamed on it; a Z rounded otherwise (to a multiple of 3e-4)
    gets no such hint."""
    import json

    from test_cli_helpers import run

    cfg, _, Z, dW = one_conv_by_hand(tmp_path)
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "conv1.dW.npy", dW[..., ::-1])
    np.save(sub / "conv1.Z.npy", np.round(Z, 4))
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]}
    assert by["conv1.Z"]["hints"] == ["decimals"] and "rounded to 4 decimals" in by["conv1.Z"]["note"], by
    assert not by["conv1.dW"]["passed"] and "fix the forward first" not in by["conv1.dW"]["note"], by
    np.save(sub / "conv1.Z.npy", np.round(Z / 3e-4) * 3e-4)
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]}
    assert "decimals" not in by["conv1.Z"]["hints"] and "fix the forward first" in by["conv1.dW"]["note"], by


def test_a_forward_output_right_to_the_precision_it_was_saved_in_is_not_blamed(tmp_path):
    """A learner's review: a conv1.Z saved as float16, convcli's to that
    precision (its float16 hint says so), was blamed for a dW with its
    output channels reversed ("your forward output conv1.Z differs too
    ... fix the forward first"). A Z of other numbers still is, and so is
    one the float16 hint's tolerance takes that is more than an ulp of
    float16 off convcli's rounded to it."""
    import json

    from test_cli_helpers import run

    cfg, _, Z, dW = one_conv_by_hand(tmp_path)
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "conv1.dW.npy", dW[..., ::-1])
    # (a later review: a Z 0.8% off, which the float16 hint's tolerance takes, saved as float16, is blamed)
    off = Z * (1 + np.random.default_rng(1).uniform(-0.008, 0.008, Z.shape))
    for z, hinted, blamed in ((Z.astype(np.float16), True, False), (off.astype(np.float16), True, True),
                              (1.5 * Z, False, True)):
        np.save(sub / "conv1.Z.npy", z)
        doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
        by = {o["quantity"]: o for o in doc["against"]}
        assert not by["conv1.Z"]["passed"] and not by["conv1.dW"]["passed"], by
        assert ("float16" in by["conv1.Z"]["hints"]) == hinted, by["conv1.Z"]
        assert ("fix the forward first" in by["conv1.dW"]["note"]) == blamed, by["conv1.dW"]


def test_each_layer_grades_a_backward_on_a_constant_gradient_of_yours(tmp_path):
    """An instructor's review: a max pool's backward written as an average
    one gives a gradient of 0.25 everywhere (upstream ones, 2x2 windows);
    the ReLU's backward right on it, 0.25 where Z > 0, failed layer by layer,
    graded on convcli's pool gradient ("tests no layer"): a constant
    gradient tests a backward's mask. Zeros still test none."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, {"seed": 4, "inputs": {"A_prev": {"random": [2, 6, 6, 3]}, "W": {"random": [3, 3, 3, 4]},
                                                 "b": {"random": [4]}},
                           "layers": [{"type": "conv", "W": "W", "b": "b", "pad": 1}, {"type": "relu"},
                                      {"type": "pool", "f": 2}], "backward": {"grad": "ones"}})
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    Z = np.load(tmp_path / "key" / "conv1.Z.npy")
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "pool3.dA_prev.npy", np.full(Z.shape, 0.25))  # the average pool's gradient of ones
    np.save(sub / "relu2.dA_prev.npy", 0.25 * (Z > 0))           # the ReLU's of that, by hand
    doc = json.loads(run(["check", cfg, "--against", sub, "--json", "--each-layer"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert not by["pool3.dA_prev"]["passed"] and by["relu2.dA_prev"]["passed"], by
    np.save(sub / "pool3.dA_prev.npy", np.zeros(Z.shape))  # zeros: the ReLU's graded on convcli's gradient
    np.save(sub / "relu2.dA_prev.npy", np.zeros(Z.shape))
    doc = json.loads(run(["check", cfg, "--against", sub, "--json", "--each-layer"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert not by["relu2.dA_prev"]["passed"] and "tests no layer (every element 0.0)" in by["relu2.dA_prev"]["note"]


def test_each_layer_grades_no_pool_on_a_constant_gradient_of_yours(tmp_path):
    """A review of the test above's fix: a constant gradient tests a ReLU's
    mask, but not a pool's routing (which window element, which channel):
    a max pool backward reading g[i, w, h, 0] is right on ones. Under ones
    from a ReLU backward that does nothing, the pool's gradient is graded
    on convcli's, and its mask of ones (by hand) fails."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, {"seed": 4, "inputs": {"A_prev": {"random": [2, 6, 6, 3]}, "W": {"random": [3, 3, 3, 4]},
                                                 "b": {"random": [4]}},
                           "layers": [{"type": "conv", "W": "W", "b": "b", "pad": 1}, {"type": "pool", "f": 2},
                                      {"type": "relu"}], "backward": {"grad": "ones"}})
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    Z = np.load(tmp_path / "key" / "conv1.Z.npy")
    mask = np.zeros_like(Z)  # the max pool's backward of ones: 1 at each window's maximum
    for n, h, w, c in np.ndindex(2, 3, 3, 4):
        window = Z[n, 2 * h:2 * h + 2, 2 * w:2 * w + 2, c]
        i, j = np.unravel_index(np.argmax(window), window.shape)
        mask[n, 2 * h + i, 2 * w + j, c] = 1
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "relu3.dA_prev.npy", np.ones((2, 3, 3, 4)))  # a ReLU backward that does nothing
    np.save(sub / "pool2.dA_prev.npy", mask)
    doc = json.loads(run(["check", cfg, "--against", sub, "--json", "--each-layer"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert not by["pool2.dA_prev"]["passed"] and "tests no layer (every element 1.0)" in by["pool2.dA_prev"]["note"]


def test_a_folder_whose_work_is_an_archive_further_down_names_it(tmp_path):
    """An instructor's review: an LMS's d/hw3/results.npz (or .zip, .h5),
    given as d/, read "the folder has no .npy files" and, with --complete,
    8 missing and nothing listed: the file was never named."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    (tmp_path / "d" / "hw3").mkdir(parents=True)
    np.savez(tmp_path / "d" / "hw3" / "results.npz", Z=np.ones(3))
    (tmp_path / "d" / "__MACOSX").mkdir()
    np.savez(tmp_path / "d" / "__MACOSX" / "._results.npz", Z=np.ones(3))  # (macOS's: passed over)
    result = run(["check", cfg, "--against", tmp_path / "d"])
    (line,) = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and line.endswith(
        "the folder has no .npy files (and no outputs.h5); hw3/results.npz: an .npz file inside; --against "
        f"{tmp_path / 'd' / 'hw3' / 'results.npz'} grades it"), line
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "d", "--complete", "--json"]).stdout)
    assert [u["entry"] for u in doc["unknown"]] == ["hw3/results.npz"], doc["unknown"]
    # (a review) beside a stray .npy that is no quantity; an archive convcli does not read, said so; the
    # folder's own .npz listed once, as not read from a folder
    np.save(tmp_path / "d" / "scratch.npy", np.ones(2))
    (tmp_path / "d" / "old").mkdir()
    (tmp_path / "d" / "old" / "hw2.tar.gz").write_bytes(b"\x1f\x8b not unpacked")
    line = run(["check", cfg, "--against", tmp_path / "d"]).stderr
    assert "hw3/results.npz: an .npz file inside; --against" in line and "old/hw2.tar.gz" in line, line
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "d", "--complete", "--json"]).stdout)
    assert {u["entry"]: u["note"] for u in doc["unknown"]}["old/hw2.tar.gz"] == (
        "a .tar.gz archive inside, which convcli does not read: unpack it and give its folder"), doc["unknown"]
    (tmp_path / "e").mkdir()
    np.savez(tmp_path / "e" / "results.npz", Z=np.ones(3))
    line = run(["check", cfg, "--against", tmp_path / "e"]).stderr
    assert line.count("results.npz") == 2 and "results.npz: not read from a folder" in line, line  # (and its path)


def test_a_gradient_saved_under_the_upstream_gradient_s_name_is_told_its_name(tmp_path):
    """An instructor's review: a pool's input gradient saved as pool3.dA.npy
    (the config's upstream gradient's name, (4, 4, 4, 4)) in a stack whose
    (4, 8, 8, 4) is four quantities' shape read "given by the config, not
    computed", nothing more: the name it begins, pool3.dA_prev, is named;
    of a shape several share and no name begun, they are listed."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "pool3.dA.npy", np.load(tmp_path / "key" / "pool3.dA_prev.npy"))
    (u,) = json.loads(run(["check", cfg, "--against", sub, "--json", "--complete"]).stdout)["unknown"]
    assert u["misnamed"] == ("shape (4, 8, 8, 4), not pool3.dA's (4, 4, 4, 4) (the config gives it) but "
                             "pool3.dA_prev's: save it as pool3.dA_prev.npy to be graded"), u
    np.save(sub / "pool3.dA.npy", np.ones((4, 8, 8, 4)))
    (sub / "other").mkdir()
    np.save(sub / "other" / "A_prev.npy", np.ones((4, 8, 8, 4)))  # the input's name, the shape of four
    (u,) = json.loads(run(["check", cfg, "--against", sub / "other", "--json", "--complete"]).stdout)["unknown"]
    assert u["misnamed"].startswith("shape (4, 8, 8, 4), not A_prev's (4, 8, 8, 3) (the config gives it) but that "
                                    "of conv1.Z, "), u
    assert u["misnamed"].endswith(": save it under the name of the one it is to be graded"), u


def test_macos_resource_forks_beside_the_work_are_passed_over(tmp_path):
    """An instructor's review: a folder copied from a Mac holds
    ._conv1.dW.npy (AppleDouble, no array) beside each file; each was listed
    as "unknown quantity 'hw3/._conv1.dW' (did you mean 'conv1.dW'?)", where
    the zip's __MACOSX/ copies are passed over. At the top and a folder
    down, alike."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    for sub in (tmp_path / "top", tmp_path / "up" / "hw3"):
        sub.mkdir(parents=True)
        for q in ("conv1.Z", "conv1.dW"):
            np.save(sub / f"{q}.npy", np.load(tmp_path / "key" / f"{q}.npy"))
            (sub / f"._{q}.npy").write_bytes(b"\x00\x05\x16\x07 a resource fork")
    for given, entry in ((tmp_path / "top", "conv1.Z.npy"), (tmp_path / "up", "hw3/conv1.Z.npy")):
        result = run(["check", cfg, "--against", given, "--json"])
        doc = json.loads(result.stdout)
        assert result.exit_code == 0 and doc["unknown"] == [], doc["unknown"]
        assert entry in [o["entry"] for o in doc["against"]], doc["against"]


def test_a_user_s_array_named_like_a_resource_fork_is_no_fork(tmp_path):
    """A review: ._conv1.Z.npy holding a real array (no AppleDouble magic)
    was passed over silently ("no .npy files"); it is listed, as before. A
    zip's forks beside their files (not under __MACOSX/) are passed over as a
    folder's are, and a folder of forks alone is no rival to the work."""
    import json
    import zipfile

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    np.save(mine / "._conv1.Z.npy", np.load(tmp_path / "key" / "conv1.Z.npy"))
    line = run(["check", cfg, "--against", mine]).stderr
    assert "._conv1.Z.npy" in line and "no .npy files" not in line, line
    up = tmp_path / "up"
    (up / "hw3").mkdir(parents=True)
    (up / "old").mkdir()
    np.save(up / "hw3" / "conv1.Z.npy", np.load(tmp_path / "key" / "conv1.Z.npy"))
    (up / "old" / "._conv1.Z.npy").write_bytes(b"\x00\x05\x16\x07 a resource fork")
    result = run(["check", cfg, "--against", up, "--json"])
    assert result.exit_code == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "w.zip", "w") as z:
        z.write(up / "hw3" / "conv1.Z.npy", "conv1.Z.npy")
        z.writestr("._conv1.Z.npy", b"\x00\x05\x16\x07 a resource fork")
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "w.zip", "--json"]).stdout)
    assert doc["unknown"] == [] and [o["passed"] for o in doc["against"]] == [True], doc


def test_a_zip_grades_no_folder_beside_the_work_at_its_top_as_its_folder_does_not(tmp_path):
    """A review: work at a zip's top level with convcli's own output folder
    beside it had convcli's arrays graded as the student's, for the
    quantities the student left out (8 of 8 passed); the same tree as a
    folder grades the top level's 2 and lists the folder. Both now grade 2,
    and the zip lists its folder."""
    import json
    import zipfile

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    alice = tmp_path / "alice"
    alice.mkdir()
    for q in ("conv1.Z", "conv1.dW"):
        np.save(alice / f"{q}.npy", np.load(tmp_path / "key" / f"{q}.npy"))
    assert run(["backward", cfg, "--out", alice / "convcli-out"]).exit_code == 0
    with zipfile.ZipFile(tmp_path / "alice.zip", "w") as z:
        for f in sorted(alice.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(alice).as_posix())
    graded = {}
    for given in (alice, tmp_path / "alice.zip"):
        doc = json.loads(run(["check", cfg, "--against", given, "--json"]).stdout)
        graded[given.name] = sorted(o["quantity"] for o in doc["against"] if o["entry"])
        assert graded[given.name] == ["conv1.Z", "conv1.dW"], (given, doc["against"])
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "alice.zip", "--json"]).stdout)
    assert {u["entry"]: u["note"] for u in doc["unknown"]}["convcli-out/"].startswith(
        "a folder beside the work at the top level, not graded (unzip it and --against the folder"), doc["unknown"]


def test_a_copy_beside_the_array_it_copies_is_not_told_to_replace_it(tmp_path):
    """An adversarial review: 'conv1.dW (1).npy' (2 x dW) beside a right
    conv1.dW.npy was told 'save it as conv1.dW.npy', which replaces a
    passing array with a wrong one."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    dW = np.load(tmp_path / "key" / "conv1.dW.npy")
    np.save(sub / "conv1.dW.npy", dW)
    np.save(sub / "conv1.dW (1).npy", 2 * dW)
    np.save(sub / "conv1.dW copy.npy", dW)
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    assert [(o["quantity"], o["passed"]) for o in doc["against"]] == [("conv1.dW", True)]
    notes = {u["entry"]: u["note"] for u in doc["unknown"]}
    assert notes == {
        "conv1.dW (1).npy": "a copy's name: conv1.dW.npy is graded as conv1.dW, and the two differ; keep one",
        "conv1.dW copy.npy": "a copy's name: conv1.dW.npy is graded as conv1.dW (the same numbers); keep one"}


def test_another_setting_of_the_same_output_size_is_named_by_its_values(tmp_path):
    """An adversarial review: a 3x3 window for a 2x2 one at stride 2 on 7
    rows makes 3 rows either way ((7 - 3) // 2 + 1 = (7 - 2) // 2 + 1), so
    no size hint was tried and the student got a bare failure. By hand."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 6\ninputs: {A_prev: {random: [2, 7, 7, 3]}}\n"
                          "layers:\n  - {type: pool, f: 2, stride: 2, mode: max}\n")
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    x = np.load(tmp_path / "key" / "A_prev.npy")
    f3 = np.zeros((2, 3, 3, 3))
    for i, h, w, c in np.ndindex(f3.shape):
        f3[i, h, w, c] = x[i, 2 * h:2 * h + 3, 2 * w:2 * w + 3, c].max()
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "pool1.A.npy", f3)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["geometry"], o
    assert o["note"].endswith("yours is what f 3 makes of pool1's input (2, 7, 7, 3); the config's f is 2"), o
    np.save(sub / "pool1.A.npy", f3 + 1)  # of that size, and no setting's output: no such hint
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert "geometry" not in o["hints"], o


def test_close_is_compare_s_verdict():
    """check._close, the hints' yes/no, against compare's first result on
    the cases compare sets apart: NaN where NaN, an infinity where the same
    one, an infinite expected value against a number, the tolerance's edge,
    shapes that differ, nothing to compare."""
    from convcli.check import _close, compare

    inf, nan = np.inf, np.nan
    cases = [([1.0, 2.0], [1.0, 2.0]), ([1.0, nan], [1.0, nan]), ([nan], [1.0]), ([1.0], [nan]),
             ([inf], [inf]), ([-inf], [inf]), ([1e308], [inf]), ([inf], [1e308]), ([1.0 + 1e-7], [1.0]),
             ([1.0 + 1e-5], [1.0]), ([1.0, 2.0], [1.0]), ([], []), ([[0.0, 1e-9]], [[1e-9, 0.0]]),
             (np.float32([1.0000001]), [1.0]), (np.int64([3]), [3.0])]
    for got, expected in cases:
        assert _close(got, expected, 1e-6, 1e-8) == compare(got, expected, 1e-6, 1e-8)[0], (got, expected)
    # and compare's first failing index, found without listing every one
    got = np.zeros((3, 4, 5))
    got[1, 2, 3] = got[2, 0, 0] = 1.0
    assert compare(got, np.zeros((3, 4, 5)), 1e-6, 1e-8)[3] == (1, 2, 3)


def test_compare_s_errors_and_first_index_by_hand():
    """compare's finite path (a third of the passes over memory: a wrong
    400 MB array took 4.6 s) against numbers worked out by hand."""
    from convcli.check import compare

    passed, abs_err, rel_err, first, _ = compare([1.0, 2.5, 0.1], [1.0, 2.0, 0.0], 1e-6, 1e-8)
    assert (passed, abs_err, rel_err, first) == (False, 0.5, np.inf, (1,))  # 0.1 off an expected 0: infinite
    passed, abs_err, rel_err, first, _ = compare(np.float32([[1.0, 3.0]]), [[1.0, 2.0]], 1e-6, 1e-8)
    assert (passed, abs_err, rel_err, first) == (False, 1.0, 0.5, (0, 1))
    passed, abs_err, rel_err, first, _ = compare([0.0, 4.0], [0.0, 4.0 + 4e-7], 1e-6, 1e-8)  # within 4e-6 + 1e-8
    assert passed and first is None and abs_err == abs(4.0 - (4.0 + 4e-7)) and rel_err == abs_err / (4.0 + 4e-7)
    assert compare(3.0, 3.0, 1e-6, 1e-8)[:4] == (True, 0.0, 0.0, None)  # 0-d


def test_a_folder_of_drafts_names_each_folder_inside(tmp_path):
    """An adversarial review: --against a folder holding draft/ and final/
    (no .npy files of its own) suggested --against .../draft alone, the
    first by name."""
    from test_cli_helpers import CONFIGS, assert_error, run

    top = tmp_path / "hw"
    for folder in ("draft", "final"):
        (top / folder).mkdir(parents=True)
        np.save(top / folder / "conv1.Z.npy", np.zeros(2))
    assert_error(run(["check", CONFIGS / "seed.yaml", "--against", top]),
                 "the folder has no .npy files (and no outputs.h5); draft/ and final/ inside it have some: --against "
                 "the one that is your work, as")


def test_the_notebook_s_means_in_a_bias_once_config_are_said_to_be_bias_window_s(tmp_path, monkeypatch):
    """A review: a learner who pastes the seed notebook's printed means into
    a config whose conv layer adds b once saw three bare FAILs, where
    --against names the convention. The means are the notebook's own
    (configs/seed.yaml, printed by its last cell); the run with bias: window
    passes them all, so each FAIL says to set it. A value no convention
    gives gets no such word."""
    import json

    from test_cli_helpers import CONFIGS, run

    text = (CONFIGS / "seed.yaml").read_text()
    assert "    bias: window\n" in text
    cfg = tmp_path / "seed_once.yaml"
    cfg.write_text(text.replace("    bias: window\n", "    bias: once\n"))
    result = run(["check", cfg])
    assert result.exit_code == 1, result.output
    fails = [line for line in result.output.splitlines() if line.startswith("FAIL ")]
    assert len(fails) == 3 and all("set bias: window on the conv layer to reproduce them (the config says bias: once)"
                                   in line for line in fails), fails
    # a learner's review: a config without bias: was said to say bias: once
    cfg.write_text(text.replace("    bias: window\n", ""))
    out = run(["check", cfg]).output
    assert "to reproduce them (bias: once, the default: the config says none)" in out, out
    assert "the config says bias" not in out, out
    cfg.write_text(text.replace("    bias: window\n", "    bias: once\n"))
    doc = json.loads(run(["check", cfg, "--json"]).stdout)
    assert sorted(e["entry"] for e in doc["expected"] if "set bias: window" in e["note"]) == [
        "dA_prev.mean", "dW.mean", "db.mean"]
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text.replace("db.mean: 76.37106919563735", "db.mean: 70.0"))
    out = run(["check", wrong]).output
    assert "FAIL db.mean" in out and "set bias" not in out
    # arrays too large to hold twice: the layers are not run again, nothing said
    import convcli.check as check_module

    monkeypatch.setattr(check_module, "BIAS_RERUN_MAX_BYTES", 0)
    out = run(["check", cfg]).output
    assert "FAIL db.mean" in out and "set bias" not in out


def test_a_db_of_zeros_whose_last_term_is_within_atol_of_zero_is_graded_not_a_crash(tmp_path):
    """A review: a db of zeros where the last window's gradient was 1e-12
    (not 0, within atol) ended check with an internal error (exit 3): the
    hint read the window a db's term has none of. It is graded and hinted:
    the last term alone is 1e-12 here, which zeros fit."""
    import json

    from test_cli_helpers import run, write

    g = np.random.RandomState(0).randn(2, 2, 2, 1)
    g[-1, -1, -1] = 1e-12
    np.save(tmp_path / "g.npy", g)
    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 3, 3, 1]}\n  W: {random: [2, 2, 1, 1]}\n"
                          "  b: {zeros: [1]}\nlayers:\n  - {type: conv, W: W, b: b}\nbackward:\n"
                          "  grad: {file: g.npy}\n", "tiny.yaml")
    sub = tmp_path / "mine"
    sub.mkdir()
    np.save(sub / "db.npy", np.zeros(1))
    np.save(sub / "dW.npy", np.zeros((2, 2, 1, 1)))
    result = run(["check", cfg, "--against", sub, "--json"])
    assert result.exit_code == 1, result.output
    by = {o["quantity"]: o for o in json.loads(result.stdout)["against"]}
    assert by["conv1.db"]["hints"] == ["last_term", "all_zeros"] and by["conv1.db"]["note"].endswith(
        "(the last sample's last window, whose term is within atol (1e-08) of 0): db adds up every window's, "
        "db[...] += ..., not =; or yours was never filled"), by["conv1.db"]
    assert by["conv1.dW"]["status"] == "fail"


def test_layers_of_both_bias_conventions_are_each_told_their_own_flip(tmp_path):
    """A review: with conv1 bias: window and conv2 bias: once, values made
    the other way round (conv1 once, conv2 window) were said to be 'b added
    once', with 'set bias: once on the conv layers', which still fails.
    Each layer is now told its own flip. The expected mean is by hand:
    conv1 adds b1 once; conv2 adds b2 to each of its 2x2 window's
    elements, so 4 * b2."""
    from test_cli_helpers import run, write

    rs = np.random.RandomState(7)
    A, W1, b1, W2, b2 = rs.randn(1, 4, 4, 1), rs.randn(2, 2, 1, 1), rs.randn(1), rs.randn(2, 2, 1, 1), rs.randn(1)
    for name, arr in (("A", A), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
        np.save(tmp_path / f"{name}.npy", arr)
    Z1 = np.array([[np.sum(A[0, h:h + 2, w:w + 2, 0] * W1[:, :, 0, 0]) + b1[0] for w in range(3)] for h in range(3)])
    Z2 = np.array([[np.sum(Z1[h:h + 2, w:w + 2] * W2[:, :, 0, 0]) + 4 * b2[0] for w in range(2)] for h in range(2)])
    cfg = write(tmp_path, "inputs: {A_prev: {file: A.npy}, W1: {file: W1.npy}, b1: {file: b1.npy}, "
                          "W2: {file: W2.npy}, b2: {file: b2.npy}}\n"
                          "layers: [{type: conv, W: W1, b: b1, bias: window}, {type: conv, W: W2, b: b2}]\n"
                          f"expected: {{conv2.Z.mean: {float(Z2.mean())!r}}}\n", "mixed.yaml")
    out = run(["check", cfg]).output
    assert "FAIL conv2.Z.mean" in out and ("every value that fails here is what each conv layer's bias convention "
                                           "flipped gives: set bias: once on conv1, bias: window on conv2 to "
                                           "reproduce them (the config says window, once)") in out, out


def test_a_relu_gradient_passed_at_zero_gets_its_hint(tmp_path):
    """A grader's review: a ReLU's dA_prev from the mask Z >= 0 (the gradient
    passed where the input is exactly 0) failed with hints: [] though its
    input and incoming gradient were right. By hand: input 0 at two places
    (one of them under a zero gradient, which no mask can show), the
    gradient 1 everywhere else."""
    import json

    from test_cli_helpers import run, write

    x = np.array([[[[0.0], [2.0]], [[-1.0], [0.0]]]])  # (1, 2, 2, 1)
    g = np.array([[[[3.0], [4.0]], [[5.0], [0.0]]]])
    cfg = write(tmp_path, f"inputs:\n  A_prev: {{value: {x.tolist()}}}\n"
                          f"layers:\n  - {{type: relu}}\nbackward: {{grad: {{value: {g.tolist()}}}}}\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "relu1.dA_prev.npy", np.where(x >= 0, g, 0))  # the learner's mask: [3, 4, 0, 0]
    result = run(["check", cfg, "--against", sub, "--json"])
    assert result.exit_code == 1, result.stdout + result.stderr
    (graded,) = json.loads(result.stdout)["against"]
    assert graded["hints"] == ["relu_kink"] and graded["first_index"] == [0, 0, 0, 0]
    assert ("yours passes the gradient where the ReLU's input is exactly 0 (1 element): its derivative there is "
            "taken as 0 (Z > 0, not Z >= 0)") in graded["note"]
    # the right mask, and one wrong elsewhere, get no such hint
    np.save(sub / "relu1.dA_prev.npy", np.where(x > 0, g, 0))
    assert run(["check", cfg, "--against", sub]).exit_code == 0
    np.save(sub / "relu1.dA_prev.npy", np.where(x > 0, g, 0) + np.array([0, 0, 0, 1.0]).reshape(x.shape))
    (graded,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert "relu_kink" not in graded["hints"]


def test_a_max_pool_gradient_of_masks_alone_gets_its_hint(tmp_path):
    """A learner's review: a max pool's backward that adds each window's mask
    without multiplying it by the window's gradient failed with no hint.
    By hand: one 3x3 map, 2x2 windows at stride 1, distinct values (no
    ties); the masks' sum against the right gradient, the masks times it."""
    import json

    from test_cli_helpers import run, write

    x = np.array([[1.0, 5.0, 2.0], [4.0, 3.0, 9.0], [0.0, 8.0, 6.0]]).reshape(1, 3, 3, 1)
    g = np.array([[2.0, -1.0], [0.5, 3.0]]).reshape(1, 2, 2, 1)
    cfg = write(tmp_path, f"inputs:\n  A_prev: {{value: {x.tolist()}}}\n"
                          "layers:\n  - {type: pool, f: 2, stride: 1}\n"
                          f"backward: {{grad: {{value: {g.tolist()}}}}}\n")
    # the windows' maxima: 5 at (0, 1), 9 at (1, 2), 8 at (2, 1), 9 at (1, 2)
    masks = np.array([[0, 1, 0], [0, 0, 2], [0, 1, 0]], float).reshape(x.shape)
    right = np.array([[0, 2.0, 0], [0, 0, -1.0 + 3.0], [0, 0.5, 0]]).reshape(x.shape)
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "pool1.dA_prev.npy", masks)
    (graded,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert graded["hints"] == ["mask_only"] and "yours is the windows' masks alone" in graded["note"], graded
    np.save(sub / "pool1.dA_prev.npy", right)
    assert run(["check", cfg, "--against", sub]).exit_code == 0
    np.save(sub / "pool1.dA_prev.npy", masks + np.eye(3).reshape(x.shape))  # wrong otherwise: no such hint
    (graded,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert "mask_only" not in graded["hints"], graded


def test_a_stride_slip_in_the_backward_loops_gets_the_stride_hint(tmp_path):
    """A grader's review: a learner whose loops start each window at h
    instead of h * stride got the stride hint on Z, and none on dA_prev and
    dW, made by the same slip in the backward loops. The learner's loops are
    written out by hand, as the notebook's (upstream gradient ones)."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 2\ninputs:\n  A_prev: {random: [2, 7, 7, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1, stride: 2}\n"
                          "backward: {grad: ones}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    A, W = (np.load(tmp_path / "key" / f"{q}.npy") for q in ("A_prev", "W"))
    A_pad = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0)))
    n = (7 + 2 - 3) // 2 + 1  # 4
    dZ = np.ones((2, n, n, 4))
    dA_pad, dW = np.zeros_like(A_pad), np.zeros_like(W)
    for i in range(2):
        for h in range(n):
            for w in range(n):
                for c in range(4):  # the slip: the window starts at h, not h * stride
                    dA_pad[i, h:h + 3, w:w + 3, :] += W[..., c] * dZ[i, h, w, c]
                    dW[..., c] += A_pad[i, h:h + 3, w:w + 3, :] * dZ[i, h, w, c]
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "conv1.dA_prev.npy", dA_pad[:, 1:-1, 1:-1, :])
    np.save(sub / "conv1.dW.npy", dW)
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    for q in ("conv1.dA_prev", "conv1.dW"):
        assert by[q]["status"] == "fail" and by[q]["hints"] == ["stride"], (q, by[q])
        assert "dZ[h, w] goes back to the window that starts at h * 2 (the stride), not at h" in by[q]["note"]
    # the right gradients get no such hint
    for q in ("conv1.dA_prev", "conv1.dW"):
        np.save(sub / f"{q}.npy", np.load(tmp_path / "key" / f"{q}.npy"))
    assert run(["check", cfg, "--against", sub]).exit_code == 0
    # an average pool's backward with the same slip (f 2, stride 2 on 6x6: windows at h, h + 1)
    cfg = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [2, 6, 6, 2]}\nlayers:\n"
                          "  - {type: pool, f: 2, stride: 2, mode: average}\nbackward: {grad: random}\n", "pool.yaml")
    assert run(["backward", cfg, "--out", tmp_path / "pkey"]).exit_code == 0
    dA = np.load(tmp_path / "pkey" / "pool1.dA.npy")
    mine = np.zeros((2, 6, 6, 2))
    for i in range(2):
        for h in range(3):
            for w in range(3):
                mine[i, h:h + 2, w:w + 2, :] += dA[i, h, w, :] / 4
    np.save(sub / "pool1.dA_prev.npy", mine)
    for q in ("conv1.dA_prev", "conv1.dW"):
        (sub / f"{q}.npy").unlink()
    (graded,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert graded["status"] == "fail" and graded["hints"] == ["stride"], graded
    # (a pool's upstream gradient is the course's dA, not dZ: a learner's review)
    assert "dA[h, w] goes back to the window that starts at h * 2 (the stride), not at h" in graded["note"], graded
    # a stride along W alone is said along W (a review: "starts at h * 1 and w * 2 (the stride), not at h")
    cfg = write(tmp_path, "seed: 4\ninputs:\n  A_prev: {random: [2, 5, 7, 2]}\n  W: {random: [2, 2, 2, 3]}\n"
                          "  b: {random: [3]}\nlayers:\n  - {type: conv, W: W, b: b, stride: [1, 2]}\n"
                          "backward: {grad: ones}\n", "cols.yaml")
    assert run(["backward", cfg, "--out", tmp_path / "ckey"]).exit_code == 0
    A, W, b = (np.load(tmp_path / "ckey" / f"{q}.npy") for q in ("A_prev", "W", "b"))
    Z = np.zeros((2, 4, 3, 3))  # (5 - 2) + 1 rows, (7 - 2) // 2 + 1 columns
    for i in range(2):
        for h in range(4):
            for w in range(3):  # the slip: the window starts at w, not w * 2
                Z[i, h, w] = [np.sum(A[i, h:h + 2, w:w + 2, :] * W[..., c]) + b[c] for c in range(3)]
    cols = tmp_path / "cols"
    cols.mkdir()
    np.save(cols / "conv1.Z.npy", Z)
    (graded,) = json.loads(run(["check", cfg, "--against", cols, "--json"]).stdout)["against"]
    assert graded["hints"] == ["stride"] and graded["note"].endswith(
        "a window starts at w * 2 (the stride), not at w"), graded


@pytest.mark.torch
@pytest.mark.parametrize("mode", ["max", "average"])
def test_a_pool_output_of_pytorchs_ceil_mode_is_named(tmp_path, torch, mode):
    """A semantics review: a 2x2/2 pool over 5x5 maps in PyTorch with
    ceil_mode=True makes 3x3 (its last windows hang over the edge), and
    check said only 'shape (2, 3, 3, 2), expected (2, 2, 2, 2)'. And an
    instructor's review: PyTorch's padding=1, of that size too, was told
    of ceil_mode, in size only."""
    import json

    from test_cli_helpers import run, write

    F = torch.nn.functional
    cfg = write(tmp_path, f"seed: 4\ninputs:\n  A_prev: {{random: [2, 5, 7, 2]}}\n"
                          f"layers:\n  - {{type: pool, f: 2, stride: 2, mode: {mode}}}\n")
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    x = torch.tensor(np.ascontiguousarray(np.load(tmp_path / "key" / "A_prev.npy").transpose(0, 3, 1, 2)))
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    ceil = pool(x, 2, 2, ceil_mode=True).numpy().transpose(0, 2, 3, 1)
    assert ceil.shape == (2, 3, 4, 2)  # PyTorch's, not convcli's arithmetic
    # and PyTorch's padding=1, which makes the same size here (an instructor's review: sent to ceil_mode)
    padded = pool(x, 2, 2, padding=1).numpy().transpose(0, 2, 3, 1)
    assert padded.shape == ceil.shape
    torch_name = "max_pool2d" if mode == "max" else "avg_pool2d"
    counted = ", its zeros counted in each mean" if mode == "average" else ""
    for array, said in [
        (ceil, "(2, 3, 4, 2) is what PyTorch's ceil_mode=True makes of pool1's input (2, 5, 7, 2): its last windows "
               "hang over the edge (yours are convcli's outputs and those); convcli's output size is "
               "floor((n_H_prev - f) / stride) + 1 (ceil_mode=False)"),
        (padded, f"(2, 3, 4, 2) is what PyTorch's {torch_name}(..., padding=1) makes of pool1's input (2, 5, 7, 2) "
                 f"(yours is its output{counted}); convcli's pools take no padding"),
        (np.zeros_like(ceil), f"(2, 3, 4, 2) is what PyTorch's {torch_name}(..., padding=1) makes of pool1's input "
                              "(2, 5, 7, 2) (in size only: yours is not its output); convcli's pools take no "
                              "padding; or PyTorch's ceil_mode=True makes it (in size only too)")] + ([
        # (a later review: count_include_pad=False was "in size only")
        (F.avg_pool2d(x, 2, 2, padding=1, count_include_pad=False).numpy().transpose(0, 2, 3, 1),
         "(2, 3, 4, 2) is what PyTorch's avg_pool2d(..., padding=1) makes of pool1's input (2, 5, 7, 2) (yours is "
         "its output with count_include_pad=False, each mean over the window inside the input); convcli's pools "
         "take no padding")] if mode == "average" else []):
        sub = tmp_path / f"sub{len(list(tmp_path.iterdir()))}"
        sub.mkdir()
        np.save(sub / "pool1.A.npy", array)
        result = run(["check", cfg, "--against", sub, "--json"])
        (o,) = json.loads(result.stdout)["against"]
        assert result.exit_code == 1 and o["hints"] == ["geometry"], o
        assert o["note"].endswith(said), o["note"]


def test_a_strided_output_a_row_short_names_every_slip_that_makes_it(tmp_path):
    """An instructor's review: stride 2, pad 1 on 7x7 maps makes 4x4; a
    learner's n_H = int((n_H_prev - f) / stride) + 1 (no 2 * pad) gives 3x3,
    convcli's first outputs, and was told only that it is what padding the
    top and left alone makes. Z by hand: the learner's loops."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [4, 7, 7, 3]}\n  W: {random: [3, 3, 3, 5]}\n"
                          "  b: {random: [5]}\nlayers:\n  - {type: conv, W: W, b: b, stride: 2, pad: 1}\n")
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    A, W, b = (np.load(tmp_path / "key" / f"{n}.npy") for n in ("A_prev", "W", "b"))
    A_pad = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0)))
    n_H = n_W = int((7 - 3) / 2) + 1
    Z = np.zeros((4, n_H, n_W, 5))
    for i, h, w, c in np.ndindex(*Z.shape):
        Z[i, h, w, c] = np.sum(A_pad[i, 2 * h:2 * h + 3, 2 * w:2 * w + 3] * W[..., c]) + b.reshape(-1)[c]
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "Z.npy", Z)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["geometry"] and o["status"] == "fail", o
    assert o["note"].endswith(
        "yours are convcli's first 3x3 outputs of (4, 4, 4, 5), which 3 slips make alike: the output size is "
        "floor((n_H_prev + pad_top + pad_bottom - f) / stride) + 1, its + 1 or its padding left out; or the loops "
        "over h and w stop short of n_H and n_W; or yours is what pad [1, 0, 1, 0] (top and left only) makes of "
        "conv1's input (4, 7, 7, 3) (the config's pad is 1)"), o["note"]
    # at stride 1, the padding left out is two rows short: no + 1 (a later review: the loops alone named)
    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 7, 7, 3]}\n  W: {random: [3, 3, 3, 5]}\n"
                          "  b: {random: [5]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n", "s1.yaml")
    assert run(["forward", cfg, "--out", tmp_path / "key1"]).exit_code == 0
    np.save(sub / "Z.npy", np.load(tmp_path / "key1" / "conv1.Z.npy")[:, :5, :5])
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["note"].endswith(
        "yours are convcli's first 5x5 outputs of (2, 7, 7, 5), which 2 slips make alike: the output size is "
        "floor((n_H_prev + pad_top + pad_bottom - f) / stride) + 1, its padding left out; or the loops over h and "
        "w stop short of n_H and n_W"), o["note"]


def test_a_stray_file_beside_an_unpacked_uploads_folder_does_not_hide_it(tmp_path):
    """A review: a hidden .scratch.npy (no quantity) beside hw3/ made the
    folder 'none of its arrays is a quantity' (exit 2; 0 of 4 under
    --complete) and hw3/ was never named. The one folder inside is graded,
    the stray file listed."""
    import json
    import shutil

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    hw = tmp_path / "upload" / "hw3"
    hw.mkdir(parents=True)
    for q in ("Z", "dA_prev", "dW", "db"):
        shutil.copy(tmp_path / "key" / f"conv1.{q}.npy", hw)
    np.save(tmp_path / "upload" / ".scratch.npy", np.zeros(2))
    result = run(["check", cfg, "--against", tmp_path / "upload", "--json", "--complete"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and doc["counts"]["against"]["passed"] == 4, result.stdout
    assert ".scratch.npy" in [u["entry"] for u in doc["unknown"]]


# configs/stack.yaml's conv, relu and pool: each one's output and dA_prev, and conv's dW and db
STACK_GRADED = ("conv1.Z", "relu2.A", "pool3.A", "conv1.dA_prev", "conv1.dW", "conv1.db", "relu2.dA_prev",
                "pool3.dA_prev")


def _zip_tree(folder, name):
    """A zip of ``folder``'s files, each under its path in it (home/alice/hw3/conv1.Z.npy), as a student's
    upload was before it was unpacked."""
    import zipfile

    with zipfile.ZipFile(folder.parent / name, "w") as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(folder).as_posix())
    return folder.parent / name


def test_an_unpacked_upload_is_searched_as_deep_as_its_zip(tmp_path):
    """An instructor's review: a correct upload unpacked three levels down
    (home/alice/hw3/, an archiver keeping the student's whole path) was
    "the folder has no .npy files" (exit 2), and under --complete every
    quantity missing with no word of where the arrays are, where its zip
    graded 8 of 8. A folder is searched as deep as its zip is read: three
    and four levels down, graded as the zip, a __MACOSX/ copy aside. The
    wrong db is made by hand: twice convcli's."""
    import json
    import shutil

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    for deep in ("home/alice/hw3", "srv/uploads/alice/hw3"):
        up = tmp_path / f"up{deep.count('/') + 1}"
        shutil.copytree(tmp_path / "key", up / deep, ignore=shutil.ignore_patterns("*.json", "*.yaml"))
        (up / "__MACOSX" / deep).mkdir(parents=True)
        (up / "__MACOSX" / deep / "._conv1.Z.npy").write_bytes(b"\x00\x05\x16\x07 a resource fork")
        for wrong in ((), ("conv1.db",)):
            if wrong:
                np.save(up / deep / "conv1.db.npy", 2 * np.load(tmp_path / "key" / "conv1.db.npy"))
            status = {q: "fail" if q in wrong else "pass" for q in STACK_GRADED}
            graded = {}
            for against in (up, _zip_tree(up, f"{up.name}.zip")):
                result = run(["check", cfg, "--against", against, "--complete", "--json"])
                doc = json.loads(result.stdout)
                assert result.exit_code == (1 if wrong else 0), (deep, against, result.output)
                assert doc["counts"]["against"]["passed"] == len(STACK_GRADED) - len(wrong), doc["counts"]
                graded[against.suffix] = {a["entry"].removesuffix(".npy"): a["status"] for a in doc["against"]}
                assert not any("MACOSX" in u["entry"] for u in doc["unknown"]), doc["unknown"]
            # each array named by its path in the upload, unpacked or zipped
            assert graded[""] == graded[".zip"] == {f"{deep}/{q}": s for q, s in status.items()}, graded
        result = run(["check", cfg, "--against", up])  # without --complete: graded too, not "no .npy files"
        assert result.exit_code == 1 and "FAIL" in result.stdout, result.output


def test_folders_deep_inside_the_work_are_its_own_not_rivals(tmp_path):
    """A review of the deep walk: hw3/ with convcli's own output inside it
    (hw3/convcli-out/stack/, where ``convcli backward`` writes when run in
    hw3/), or a virtualenv's test data (.npy files four levels down), was
    refused as two submissions, where it had been graded from hw3/ before
    and its zip still is. Folders more than a level below the work are the
    work's own: hw3/ is graded, at one level down and at three."""
    import json
    import shutil

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    for top in ("up", "deep/home/alice"):
        hw = tmp_path / top / "hw3"
        shutil.copytree(tmp_path / "key", hw, ignore=shutil.ignore_patterns("*.json", "*.yaml"))
        shutil.copytree(tmp_path / "key", hw / "convcli-out" / "stack")
        data = hw / "venv" / "lib" / "numpy" / "data"
        data.mkdir(parents=True)
        np.save(data / "conv1.Z.npy", np.zeros(3))
        root = tmp_path / top.split("/")[0]
        result = run(["check", cfg, "--against", root, "--complete", "--json"])
        doc = json.loads(result.stdout)
        assert result.exit_code == 0 and doc["counts"]["against"]["passed"] == len(STACK_GRADED), result.output
        assert {a["entry"] for a in doc["against"]} == {f"{top.partition('/')[2] + '/' if '/' in top else ''}hw3/"
                                                        f"{q}.npy" for q in STACK_GRADED}, doc["against"]


def test_deep_work_beside_a_stray_file_a_hand_out_or_another_attempt_higher_up(tmp_path):
    """A review of a depth limit on the walk for rivals: deep work
    (home/alice/hw3/) beside a stray .npy at the top or a hand-out folder
    (inputs/) was refused, and beside an earlier attempt one level down
    (old/) was graded from old/ without a word. As in their zips: graded,
    graded, and two submissions."""
    import json
    import shutil

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    for case in ("stray", "handout", "attempt", "venv", "link", "layers"):
        up = tmp_path / case
        shutil.copytree(tmp_path / "key", up / "home" / "alice" / "hw3",
                        ignore=shutil.ignore_patterns("*.json", "*.yaml"))
        if case == "stray":
            np.save(up / "scratch.npy", np.zeros(3))
        elif case == "venv":  # a later review: test data deep in a venv beside the work, no quantity, was a rival
            (up / "venv" / "lib" / "numpy" / "tests" / "data").mkdir(parents=True)
            np.save(up / "venv" / "lib" / "numpy" / "tests" / "data" / "win64python2.npy", np.zeros(3))
        elif case == "link":  # ... and a link to the work counted it twice
            (up / "short").symlink_to(up / "home" / "alice" / "hw3")
        elif case == "layers":  # a rival in a folder per layer (bob/conv1/dW.npy is conv1.dW), a dW of its own
            (up / "home" / "bob" / "conv1").mkdir(parents=True)
            for q in ("Z", "dA_prev", "dW", "db"):
                a = np.load(tmp_path / "key" / f"conv1.{q}.npy")
                np.save(up / "home" / "bob" / "conv1" / f"{q}.npy", 2 * a if q == "dW" else a)
        elif case == "handout":
            (up / "inputs").mkdir()
            for q in ("A_prev", "W1", "b1"):
                shutil.copy(tmp_path / "key" / f"{q}.npy", up / "inputs")
        else:
            (up / "old").mkdir()
            for q in STACK_GRADED:
                a = np.load(tmp_path / "key" / f"{q}.npy")
                np.save(up / "old" / f"{q}.npy", 2 * a if q == "conv1.dW" else a)
        for against in (up, _zip_tree(up, f"{case}.zip")):
            result = run(["check", cfg, "--against", against, "--json"])
            if case in ("attempt", "layers"):  # which one is the work is the user's to say
                assert result.exit_code == 2 and "hw3/" in result.output and (
                    "old/" in result.output or "bob/" in result.output), result.output
                continue
            doc = json.loads(result.stdout)
            assert result.exit_code == 0 and doc["counts"]["against"]["passed"] == len(STACK_GRADED), result.output
            if case != "link":  # (graded through short/, as a link in the first two levels always was)
                assert {a["entry"].removesuffix(".npy") for a in doc["against"]} == {
                    f"home/alice/hw3/{q}" for q in STACK_GRADED}, doc["against"]


def test_two_folders_deep_in_an_unpacked_upload_are_several_submissions(tmp_path):
    """Two folders of work three and four levels down (hw3/ and
    old/attempt1/ in home/alice/) are two submissions, which one is the
    work the user's to say, as in their zip; a deep folder of the hand-out
    is no rival; and a link up to a folder it sits in, however deep, is
    walked no further (it would loop), a link out of the upload in its
    first two levels still graded as before, and named."""
    import json
    import os
    import shutil

    from test_cli_helpers import CONFIGS, assert_error, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    graded = [f"conv1.{q}" for q in ("Z", "dA_prev", "dW", "db")]
    up = tmp_path / "up"
    for deep in ("home/alice/hw3", "home/alice/old/attempt1"):
        (up / deep).mkdir(parents=True)
        for q in graded:
            shutil.copy(tmp_path / "key" / f"{q}.npy", up / deep)
    np.save(up / "home" / "alice" / "old" / "attempt1" / "conv1.db.npy", np.zeros(8))  # an older, other db
    assert_error(run(["check", cfg, "--against", _zip_tree(up, "up.zip")]),
                 "holds the same quantities in home/alice/hw3/ and home/alice/old/attempt1/: several submissions")
    # and a link up to a folder it sits in, past the second level: walked no further (no third copy, no loop)
    os.symlink(up / "home", up / "home" / "alice" / "hw3" / "up")
    assert_error(run(["check", cfg, "--against", up]),
                 "the folder has no .npy files (and no outputs.h5); home/alice/hw3/ and home/alice/old/attempt1/ "
                 "inside it have some: --against the one that is your work")
    result = run(["check", cfg, "--against", up, "--complete", "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 1 and doc["counts"]["against"]["passed"] == 0, result.output
    assert [u["entry"] for u in doc["unknown"]] == ["home/alice/hw3/", "home/alice/old/attempt1/"], doc["unknown"]
    # the older attempt a folder of the hand-out now, as deep: hw3/ graded, the hand-out listed
    for f in (up / "home" / "alice" / "old" / "attempt1").iterdir():
        f.unlink()
    for q in ("A_prev", "W", "b"):
        shutil.copy(tmp_path / "key" / f"{q}.npy", up / "home" / "alice" / "old" / "attempt1")
    doc = json.loads(run(["check", cfg, "--against", up, "--json"]).stdout)
    assert doc["ok"] and [a["entry"] for a in doc["against"]] == [f"home/alice/hw3/{q}.npy" for q in graded], doc
    assert ("home/alice/old/attempt1/", "a folder of what the config gives (the hand-out), not graded") in [
        (u["entry"], u["note"]) for u in doc["unknown"]], doc["unknown"]
    # a link out of the upload one level down, as before: followed, graded, and named where it leads
    link = tmp_path / "linked"
    link.mkdir()
    os.symlink(tmp_path / "key", link / "hw3")
    doc = json.loads(run(["check", cfg, "--against", link, "--json"]).stdout)
    assert doc["ok"] and {a["entry"]: a["linked_from"] for a in doc["against"]} == {
        f"hw3/{q}.npy": str((tmp_path / "key" / f"{q}.npy").resolve()) for q in graded}, doc["against"]


def test_an_upload_with_no_npy_at_any_depth_says_so(tmp_path):
    """Where no folder at any depth holds .npy files (or an outputs.h5) the
    folder has none: exit 2, or every quantity missing under --complete;
    where a folder past the second level is a link out of the upload, not
    searched, it is named with the message, for the work may be there."""
    import json
    import os
    import shutil

    from test_cli_helpers import CONFIGS, assert_error, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    up = tmp_path / "up"
    (up / "home" / "alice" / "hw3").mkdir(parents=True)
    (up / "home" / "alice" / "hw3" / "notes.txt").write_text("no arrays here")
    line = assert_error(run(["check", cfg, "--against", up]), "the folder has no .npy files (and no outputs.h5)")
    assert "inside it" not in line and "not searched" not in line, line
    result = run(["check", cfg, "--against", up, "--complete", "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 1 and doc["counts"]["against"]["missing"] == 4, result.output
    # the work elsewhere, linked in three levels down: not walked into, named
    (tmp_path / "elsewhere" / "hw3").mkdir(parents=True)
    shutil.copy(tmp_path / "key" / "conv1.Z.npy", tmp_path / "elsewhere" / "hw3")
    os.symlink(tmp_path / "elsewhere", up / "home" / "alice" / "hw3" / "mine")
    assert_error(run(["check", cfg, "--against", up]), "the folder has no .npy files (and no outputs.h5); "
                 "home/alice/hw3/mine/: not searched: a link out of the folder")
    doc = json.loads(run(["check", cfg, "--against", up, "--complete", "--json"]).stdout)
    assert ("home/alice/hw3/mine/", "not searched: a link out of the folder") in [
        (u["entry"], u["note"]) for u in doc["unknown"]], doc["unknown"]


def test_a_copys_name_in_an_unpacked_uploads_folder_is_told_so(tmp_path):
    """A review: an unpacked upload's hw3/db (1).npy (twice db) beside
    hw3/db.npy was "unknown quantity 'hw3/db (1)'", where the same files
    flat said it is a copy's name and that the two differ."""
    import json
    import shutil

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    hw = tmp_path / "upload" / "hw3"
    hw.mkdir(parents=True)
    for q in ("Z", "dA_prev", "dW", "db"):
        shutil.copy(tmp_path / "key" / f"conv1.{q}.npy", hw / f"{q}.npy")
    np.save(hw / "db (1).npy", 2 * np.load(hw / "db.npy"))
    (hw / "dW.txt").write_text("1 2 3")  # not read, named as in the upload (a review: without its hw3/)
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "upload", "--json"]).stdout)
    assert doc["ok"] and [(u["entry"], u["note"]) for u in doc["unknown"]] == [
        ("hw3/db (1).npy", "a copy's name: hw3/db.npy is graded as conv1.db, and the two differ; keep one"),
        ("hw3/dW.txt", "not read: only .npy files are; save conv1.dW with np.save")]


def test_convclis_own_folder_for_this_config_is_said_to_be_convclis(tmp_path):
    """A learner's review: ``check --against`` a folder that ``convcli
    backward`` wrote for this same config (or one that holds it, two levels
    up) passed "your arrays: all 4 checks passed" with nothing saying they
    were convcli's own. Another engine's or dtype's run of it is a real
    comparison, and said as that. Only where the arrays are convcli's (a
    later review: a learner's own beside a copied summary.json)."""
    import json
    import shutil

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "hw" / "convcli-out" / "seed"]).exit_code == 0
    for against in (tmp_path / "hw" / "convcli-out" / "seed", tmp_path / "hw"):
        result = run(["check", cfg, "--against", against, "--json"])
        doc = json.loads(result.stdout)
        assert result.exit_code == 0 and doc["counts"]["against"]["passed"] == 4, doc
        assert doc["note"].endswith("seed/summary.json says convcli wrote these arrays for this config: they are "
                                    "convcli's own results, so they pass against themselves; give the folder of "
                                    "your own arrays"), doc["note"]
        assert doc["convcli_own"] is True  # (an instructor's review: a script scoring counts gave 8 of 8)
    # zipped, as uploads are (a review: convcli_own false, and no note)
    import zipfile

    with zipfile.ZipFile(tmp_path / "own.zip", "w") as zf:
        for f in sorted((tmp_path / "hw").rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(tmp_path / "hw").as_posix())
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "own.zip", "--json"]).stdout)
    assert doc["convcli_own"] is True and doc["note"].endswith("own.zip/convcli-out/seed/summary.json says convcli "
                                                               "wrote these arrays for this config: they are "
                                                               "convcli's own results, so they pass against "
                                                               "themselves; give the folder of your own arrays"), doc
    assert run(["backward", cfg, "--engine", "reference", "--out", tmp_path / "ref"]).exit_code == 0
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "ref", "--json"]).stdout)
    assert doc["convcli_own"] is False  # a real comparison: another engine's
    assert doc["note"].endswith("ref/summary.json says convcli wrote these arrays for this config, with the "
                                "reference engine (this run: the fast engine in float64)"), doc["note"]
    assert run(["backward", cfg, "--dtype", "float32", "--out", tmp_path / "f32"]).exit_code == 0
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "f32", "--rtol", "1e-3", "--json"]).stdout)
    assert doc["note"].endswith("f32/summary.json says convcli wrote these arrays for this config, in float32 "
                                "(this run: the fast engine in float64)"), doc["note"]
    # a review: a learner's own arrays beside a copied summary.json are theirs, failing or passing to rounding
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(tmp_path / "ref" / "summary.json", mine)
    for q in ("Z", "dA_prev", "dW", "db"):
        np.save(mine / f"conv1.{q}.npy", 1.1 * np.load(tmp_path / "ref" / f"conv1.{q}.npy"))
    doc = json.loads(run(["check", cfg, "--against", mine, "--json"]).stdout)
    assert doc["counts"]["against"]["passed"] == 0 and doc["note"] == "", doc
    for q in ("Z", "dA_prev", "dW", "db"):  # within rounding of convcli's: they pass, but are not convcli's
        np.save(mine / f"conv1.{q}.npy", np.load(tmp_path / "ref" / f"conv1.{q}.npy") * (1 + 1e-12))
    shutil.copy(tmp_path / "hw" / "convcli-out" / "seed" / "summary.json", mine)
    doc = json.loads(run(["check", cfg, "--against", mine, "--json"]).stdout)
    assert doc["counts"]["against"]["passed"] == 4 and doc["note"] == "" and doc["convcli_own"] is False, doc


def test_a_convcli_folder_one_level_down_keeps_its_provenance_note(tmp_path):
    """A review: graded from the one folder inside (outer/run/), convcli's
    own output folder written for another config lost the note its
    summary.json gives when named itself."""
    import json

    from test_cli_helpers import CONFIGS, run

    assert run(["backward", CONFIGS / "seed.yaml", "--out", tmp_path / "outer" / "run"]).exit_code == 0
    other = tmp_path / "seed2.yaml"
    other.write_text((CONFIGS / "seed.yaml").read_text().replace("seed: 1", "seed: 2"))
    assert other.read_text() != (CONFIGS / "seed.yaml").read_text()
    for against in (tmp_path / "outer" / "run", tmp_path / "outer"):
        doc = json.loads(run(["check", other, "--against", against, "--json"]).stdout)
        assert "run/summary.json says these arrays were written for" in doc["note"], doc["note"]
    # a stray .npy beside it, no quantity: still graded from run/, and still said (a later review)
    np.save(tmp_path / "outer" / ".scratch.npy", np.zeros(2))
    doc = json.loads(run(["check", other, "--against", tmp_path / "outer", "--json"]).stdout)
    assert "run/summary.json says these arrays were written for" in doc["note"], doc["note"]
    (tmp_path / "outer" / ".scratch.npy").unlink()
    # an outputs.h5 beside it is what is graded: the folder inside says nothing of it (a later review)
    assert run(["backward", other, "--format", "h5", "--out", tmp_path / "h5run"]).exit_code == 0
    (tmp_path / "h5run" / "outputs.h5").rename(tmp_path / "outer" / "outputs.h5")
    doc = json.loads(run(["check", other, "--against", tmp_path / "outer", "--json"]).stdout)
    against = doc["counts"]["against"]
    assert against["passed"] == against["checks"] == 4 and doc["note"] == "", doc


def test_an_uploaded_folder_holding_convclis_h5_folder_is_graded_from_it(tmp_path):
    """A review: an upload whose one folder inside is an --format h5 run
    (run/outputs.h5, no .npy files) was "the folder has no .npy files (and
    no outputs.h5)", the folder inside never named. It is graded as given
    itself, each array named as in it; two such folders are named, not
    guessed between. The wrong db is made by hand: twice the right one."""
    import json
    import shutil

    import h5py

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    run_dir = tmp_path / "upload" / "run"
    assert run(["backward", cfg, "--format", "h5", "--out", run_dir]).exit_code == 0
    with h5py.File(run_dir / "outputs.h5", "r+") as f:
        f["conv1.db"][...] = 2 * f["conv1.db"][...]
    result = run(["check", cfg, "--against", tmp_path / "upload", "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 1, result.stdout
    status = {a["entry"]: a["status"] for a in doc["against"]}
    assert status == {"run/outputs.h5/conv1.Z": "pass", "run/outputs.h5/conv1.dA_prev": "pass",
                      "run/outputs.h5/conv1.dW": "pass", "run/outputs.h5/conv1.db": "fail"}, status
    # the same folder named itself grades the same arrays
    doc = json.loads(run(["check", cfg, "--against", run_dir, "--json"]).stdout)
    assert {a["entry"]: a["status"] for a in doc["against"]} == {
        e.removeprefix("run/outputs.h5/"): s for e, s in status.items()}
    # two of them: which one is the work is the student's to say
    (tmp_path / "upload" / "run2").mkdir()
    shutil.copy(run_dir / "outputs.h5", tmp_path / "upload" / "run2")
    result = run(["check", cfg, "--against", tmp_path / "upload"])
    assert result.exit_code == 2 and "run/ and run2/ inside it hold work (.npy files or an outputs.h5)" in \
        result.output, result.output
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "upload", "--json", "--complete"]).stdout)
    assert [(u["entry"], u["note"].split(";")[0]) for u in doc["unknown"]] == [
        ("run/", "a folder with an outputs.h5 inside"), ("run2/", "a folder with an outputs.h5 inside")]
    # a review of the above: a scratch .npy beside the h5 made it "none of its arrays is a quantity" (0 of 4
    # under --complete), and a stray file beside it was named run/outputs.h5/conv1.dW.txt: the folder is
    # read as given itself, its own files named as in it
    shutil.rmtree(tmp_path / "upload" / "run2")
    np.save(run_dir / "scratch.npy", np.zeros(3))
    (run_dir / "conv1.dW.txt").write_text("1 2 3")
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "upload", "--json", "--complete"]).stdout)
    assert {a["entry"]: a["status"] for a in doc["against"]} == status, doc["against"]
    assert {"run/scratch.npy", "run/conv1.dW.txt"} <= {u["entry"] for u in doc["unknown"]}, doc["unknown"]
    (run_dir / "scratch.npy").unlink()
    (run_dir / "conv1.dW.txt").unlink()
    # written for another config: its summary.json one folder down says so, as for a folder of .npy files
    other = tmp_path / "seed2.yaml"
    other.write_text(cfg.read_text().replace("seed: 1", "seed: 2"))
    doc = json.loads(run(["check", other, "--against", tmp_path / "upload", "--json"]).stdout)
    assert "run/summary.json says these arrays were written for" in doc["note"], doc["note"]


def test_an_output_short_on_one_axis_or_of_both_plus_one_and_padding_names_that_slip(tmp_path):
    """A review: the cut-short hint named the output size's slips only where
    both axes had the same one of them: n_W's formula alone without its
    + 1 (n_H right) was told only of the loop over w, and a size without
    both its + 1 and its padding only of the loops. Z by hand: the
    learner's loops, over the padded input."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 7, 7, 3]}\n  W: {random: [3, 3, 3, 5]}\n"
                          "  b: {random: [5]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n")
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    A, W, b = (np.load(tmp_path / "key" / f"{n}.npy") for n in ("A_prev", "W", "b"))
    A_pad = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0)))

    def learners(n_H, n_W):
        Z = np.zeros((2, n_H, n_W, 5))
        for i, h, w, c in np.ndindex(*Z.shape):
            Z[i, h, w, c] = np.sum(A_pad[i, h:h + 3, w:w + 3] * W[..., c]) + b.reshape(-1)[c]
        return Z

    sub = tmp_path / "sub"
    sub.mkdir()
    for n_H, n_W, said in [
        (int((7 + 2 * 1 - 3) / 1) + 1, int((7 + 2 * 1 - 3) / 1), "yours are convcli's first 7x6 outputs of "
         "(2, 7, 7, 5), which 2 slips make alike: the output width n_W is floor((n_W_prev + pad_left + pad_right "
         "- f) / stride) + 1, the + 1 for the first window left out; or the loop over w stops short of n_W"),
        (int((7 - 3) / 1), int((7 - 3) / 1), "yours are convcli's first 4x4 outputs of (2, 7, 7, 5), which 2 "
         "slips make alike: the output size is floor((n_H_prev + pad_top + pad_bottom - f) / stride) + 1, its + 1 "
         "and its padding left out; or the loops over h and w stop short of n_H and n_W")]:
        np.save(sub / "Z.npy", learners(n_H, n_W))
        (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
        assert o["hints"] == ["geometry"] and o["status"] == "fail", o
        assert o["note"].endswith(said), o["note"]


def test_one_submission_saved_twice_in_an_upload_is_graded_once(tmp_path):
    """A review: an .h5 holding the same arrays in results/ and backup/ (one
    submission saved twice), or a zip of hw3/ and its copy, was refused as
    several submissions (exit 2; 0 graded under --complete), where either
    gives the same grade. Graded once, the copies listed as the same
    numbers; a copy that differs in one quantity keeps the refusal. The
    wrong dW is a hand-made one: a quarter of the right one."""
    import json
    import zipfile

    import h5py

    from test_cli_helpers import CONFIGS, assert_error, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    key = {q: np.load(tmp_path / "key" / f"conv1.{q}.npy") for q in ("Z", "dA_prev", "dW", "db")}
    key["dW"] = key["dW"] / 4  # wrong, in both copies: each copy graded would fail it
    path = tmp_path / "twice.h5"
    with h5py.File(path, "w") as f:
        for group in ("results", "backup"):
            for q, a in key.items():
                f[f"{group}/conv1/{q}"] = a
    result = run(["check", cfg, "--against", path, "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 1, result.stdout
    assert {a["quantity"]: a["status"] for a in doc["against"]} == {
        "conv1.Z": "pass", "conv1.dA_prev": "pass", "conv1.dW": "fail", "conv1.db": "pass"}
    assert [a["entry"] for a in doc["against"]] == [f"backup/conv1/{q}" for q in key]  # the first by name
    assert [(u["entry"], u["note"]) for u in doc["unknown"]] == [
        (f"results/conv1/{q}", f"also conv1.{q}: backup/conv1/{q} is graded instead (the same numbers); keep one")
        for q in key]
    # a zip of hw3/ and its copy, the same
    with zipfile.ZipFile(tmp_path / "hw.zip", "w") as z:
        for folder in ("hw3", "hw3 copy"):
            for q, a in key.items():
                with z.open(f"{folder}/conv1.{q}.npy", "w") as m:
                    np.save(m, a)
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "hw.zip", "--json"]).stdout)
    assert len(doc["against"]) == 4 and sum(a["status"] == "pass" for a in doc["against"]) == 3, doc["against"]
    # one quantity differs between the copies: which is the work is the user's to say
    with h5py.File(path, "a") as f:
        f["backup/conv1/db"][...] = 2 * f["backup/conv1/db"][...]
    assert_error(run(["check", cfg, "--against", path]),
                 "twice.h5 holds the same quantities in backup/ and results/: several submissions in one")


def test_work_in_a_folder_inside_beside_the_top_levels_is_listed(tmp_path):
    """A review: a folder whose own .npy files (or outputs.h5) are graded
    passed over a folder inside it holding more work (attempt2/) unsaid;
    it is listed, not graded, with the command that grades it."""
    import json
    import shutil

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    assert run(["backward", cfg, "--format", "h5", "--out", tmp_path / "h5key"]).exit_code == 0
    for top in ("npy", "h5"):
        up = tmp_path / f"up_{top}"
        (up / "attempt2").mkdir(parents=True)
        for q in ("Z", "dA_prev", "dW", "db"):
            shutil.copy(tmp_path / "key" / f"conv1.{q}.npy", up / "attempt2")
            if top == "npy":
                shutil.copy(tmp_path / "key" / f"conv1.{q}.npy", up)
        if top == "h5":
            shutil.copy(tmp_path / "h5key" / "outputs.h5", up)
        doc = json.loads(run(["check", cfg, "--against", up, "--json"]).stdout)
        assert doc["ok"] and [a["entry"] for a in doc["against"]] == [
            "conv1.Z.npy" if top == "npy" else "conv1.Z", "conv1.dA_prev.npy" if top == "npy" else "conv1.dA_prev",
            "conv1.dW.npy" if top == "npy" else "conv1.dW", "conv1.db.npy" if top == "npy" else "conv1.db"], doc
        notes = {u["entry"]: u["note"] for u in doc["unknown"]}
        assert notes["attempt2/"].startswith("a folder of .npy files inside; --against "), notes
        assert notes["attempt2/"].endswith("attempt2 grades it"), notes


def test_a_lone_copys_name_in_a_folder_inside_is_told_what_to_save_it_as(tmp_path):
    """A review: hw3/db (1).npy alone (no hw3/db.npy) was "unknown quantity
    'hw3/db (1)', a copy's name; known: ...", where db (1).npy flat was told
    "did you mean 'conv1.db'? save it as db.npy"; in a folder, as in it."""
    import json
    import shutil

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    hw = tmp_path / "upload" / "hw3"
    hw.mkdir(parents=True)
    for q in ("Z", "dA_prev", "dW"):
        shutil.copy(tmp_path / "key" / f"conv1.{q}.npy", hw / f"{q}.npy")
    shutil.copy(tmp_path / "key" / "conv1.db.npy", hw / "db (1).npy")
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "upload", "--json"]).stdout)
    assert [(u["entry"], u["note"]) for u in doc["unknown"]] == [
        ("hw3/db (1).npy", "unknown quantity 'db (1)' (a copy's name: did you mean 'conv1.db'? save it as hw3/db.npy)")]


def test_both_axes_short_by_the_same_slip_name_it_when_one_axis_is_padded(tmp_path):
    """A review: with rows padded and columns not, leaving out the + 1 on
    both axes makes the rows' size that leaving out their padding does too;
    the axes' lists of slips differed and neither was named. Z by hand: the
    learner's loops, n_H = (n_H_prev + 2 - f) // stride, n_W likewise, with
    no + 1. And an outputs.h5 inside that cannot be read is named as itself."""
    import json

    from test_cli_helpers import run, write

    rng = np.random.RandomState(0)
    A, W, b = rng.randn(2, 6, 6, 3), rng.randn(3, 3, 3, 2), rng.randn(2)
    for n, x in (("A", A), ("W", W), ("b", b)):
        np.save(tmp_path / f"{n}.npy", x)
    cfg = write(tmp_path, "dtype: float64\ninputs:\n  A_prev: {file: A.npy}\n  W: {file: W.npy}\n  b: {file: b.npy}\n"
                          "layers:\n  - {type: conv, W: W, b: b, stride: 2, pad: [1, 0]}\n")
    A_pad = np.pad(A, ((0, 0), (1, 1), (0, 0), (0, 0)))
    n_H, n_W = (6 + 2 - 3) // 2, (6 - 3) // 2
    Z = np.zeros((2, n_H, n_W, 2))
    for i, h, w, c in np.ndindex(*Z.shape):
        Z[i, h, w, c] = np.sum(A_pad[i, 2 * h:2 * h + 3, 2 * w:2 * w + 3] * W[..., c]) + b[c]
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "Z.npy", Z)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["geometry"] and o["status"] == "fail", o
    assert "yours are convcli's first 2x1 outputs of (2, 3, 2, 2), which 2 slips make alike: the output size is " \
           "floor((n_H_prev + pad_top + pad_bottom - f) / stride) + 1, the + 1 for the first window left out; or " \
           "the loops over h and w stop short of n_H and n_W" in o["note"], o["note"]
    (tmp_path / "up" / "run").mkdir(parents=True)
    (tmp_path / "up" / "run" / "outputs.h5").write_bytes(b"garbage")
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "up", "--json", "--complete"]).stdout)
    assert [u["entry"] for u in doc["unknown"]] == ["run/outputs.h5"], doc["unknown"]


def test_review_of_uploads_saved_twice_and_folders_inside(tmp_path):
    """A review of this session's check --against commits: identical copies
    that cannot be read (over --max-memory; a corrupt member) or that hold
    the same draft beside the answer were refused as several submissions;
    a folder of the hand-out beside the answers was offered as "--against
    inputs grades it", which refused it; a folder found below an inner h5
    run was named run/outputs.h5/x/y/; hw3/conv1.db (1).npy was not told
    what to save it as; strays beside two folders of work read "none of its
    arrays is a quantity: scratch.npy, hw3/, old/". The wrong dW is a
    hand-made quarter of the right one."""
    import io
    import json
    import shutil
    import zipfile

    from test_cli_helpers import CONFIGS, assert_error, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    key = {q: np.load(tmp_path / "key" / f"conv1.{q}.npy") for q in ("Z", "dA_prev", "dW", "db")}

    def npy(a) -> bytes:
        buf = io.BytesIO()
        np.save(buf, a)
        return buf.getvalue()

    def zipped(name, members):
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            for folder in ("hw3", "hw3 copy"):
                for member, data in members.items():
                    z.writestr(f"{folder}/{member}", data)
        return tmp_path / name

    answers = {f"conv1.{q}.npy": npy(a) for q, a in key.items()}
    # an identical dW of 8 MB over --max-memory 4MiB, in both: graded once, failing on its own
    big = zipped("big.zip", {**answers, "conv1.dW.npy": npy(np.zeros((1000, 1000)))})
    result = run(["check", cfg, "--against", big, "--max-memory", "4MiB", "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 1 and len(doc["against"]) == 4, result.output
    assert {a["quantity"]: a["status"] for a in doc["against"]}["conv1.dW"] == "fail"
    # a corrupt db, the same bytes in both
    bad = zipped("bad.zip", {**answers, "conv1.db.npy": b"garbage"})
    doc = json.loads(run(["check", cfg, "--against", bad, "--json"]).stdout)
    assert sorted(a["status"] for a in doc["against"]) == ["pass", "pass", "pass", "unreadable"], doc["against"]
    # a draft dW.npy (a quarter) beside conv1.dW.npy, in both copies: each copy grades conv1.dW.npy
    draft = zipped("draft.zip", {**answers, "dW.npy": npy(key["dW"] / 4)})
    doc = json.loads(run(["check", cfg, "--against", draft, "--json"]).stdout)
    assert doc["ok"] and len(doc["against"]) == 4, doc
    # the original graded, not its copy ("hw3 copy/" sorts before "hw3/")
    assert [a["entry"] for a in doc["against"]] == [f"hw3/conv1.{q}" for q in key], doc["against"]
    # the two copies differing in their drafts alone: each would still be graded alike
    with zipfile.ZipFile(tmp_path / "drafts.zip", "w") as z:
        for folder, k in (("hw3", 4), ("hw3 copy", 2)):
            for member, data in {**answers, "dW.npy": npy(key["dW"] / k)}.items():
                z.writestr(f"{folder}/{member}", data)
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "drafts.zip", "--json"]).stdout)
    assert doc["ok"] and len(doc["against"]) == 4, doc
    # the hand-out in a folder beside the answers: no folder of work, not offered
    up = tmp_path / "up"
    (up / "inputs").mkdir(parents=True)
    for q in key:
        shutil.copy(tmp_path / "key" / f"conv1.{q}.npy", up)
    for q in ("A_prev", "W", "b"):
        shutil.copy(tmp_path / "key" / f"{q}.npy", up / "inputs")
    doc = json.loads(run(["check", cfg, "--against", up, "--json"]).stdout)
    assert doc["ok"] and [(u["entry"], u["note"]) for u in doc["unknown"] if u["entry"].startswith("inputs")] == [
        ("inputs/", "a folder of what the config gives (the hand-out), not graded")], doc["unknown"]
    # a folder below an inner h5 run is named as a folder
    assert run(["backward", cfg, "--format", "h5", "--out", tmp_path / "up2" / "run"]).exit_code == 0
    (tmp_path / "up2" / "run" / "x" / "y").mkdir(parents=True)
    shutil.copy(tmp_path / "key" / "conv1.Z.npy", tmp_path / "up2" / "run" / "x" / "y")
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "up2", "--json"]).stdout)
    assert "run/x/y/" in [u["entry"] for u in doc["unknown"]], doc["unknown"]
    # the whole name with a download's suffix, in a folder inside
    hw = tmp_path / "cp" / "hw3"
    hw.mkdir(parents=True)
    for q in ("Z", "dA_prev", "dW"):
        shutil.copy(tmp_path / "key" / f"conv1.{q}.npy", hw)
    shutil.copy(tmp_path / "key" / "conv1.db.npy", hw / "conv1.db (1).npy")
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "cp", "--json"]).stdout)
    assert [u["note"] for u in doc["unknown"]] == [
        "unknown quantity 'conv1.db (1)' (a copy's name: did you mean 'conv1.db'? save it as hw3/conv1.db.npy)"]
    # a stray beside two folders of work: the folders named, as without it
    s1 = tmp_path / "s1"
    for folder in ("hw3", "old"):
        (s1 / folder).mkdir(parents=True)
        for q in key:
            shutil.copy(tmp_path / "key" / f"conv1.{q}.npy", s1 / folder)
    np.save(s1 / "scratch.npy", np.zeros(3))
    assert_error(run(["check", cfg, "--against", s1]),
                 "none of the folder's .npy files is a quantity this run computes (scratch.npy); hw3/ and old/ "
                 "inside it have some: --against the one that is your work")
    doc = json.loads(run(["check", cfg, "--against", s1, "--json", "--complete"]).stdout)
    assert {"hw3/", "old/", "scratch.npy"} <= {u["entry"] for u in doc["unknown"]}, doc["unknown"]


def test_an_output_with_no_rows_names_the_size_slip_that_makes_it(tmp_path):
    """A review: on a 3x6 input a 3x3 kernel makes one output row; a
    learner's n_H = (3 - 3) // 1 (no + 1) makes none, and the array of shape
    (2, 0, 4, 2) was told nothing but the shapes. By hand: that learner's
    n_H and n_W, and the (empty) array their loops fill."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 3, 6, 3]}\n  W: {random: [3, 3, 3, 2]}\n"
                          "  b: {random: [2]}\nlayers:\n  - {type: conv, W: W, b: b}\n")
    n_H, n_W = (3 - 3) // 1, (6 - 3) // 1 + 1
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "Z.npy", np.zeros((2, n_H, n_W, 2)))
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["geometry"] and o["note"].endswith(
        "(2, 0, 4, 2) holds no outputs: the output height n_H is floor((n_H_prev + pad_top + pad_bottom - f) / "
        "stride) + 1, the + 1 for the first window left out"), o


def test_copies_are_compared_as_stored_never_inflated(tmp_path, monkeypatch):
    """A third review: identical copies were compared by inflating them (a
    2 MB upload of 1 GiB of zeros took 8 s), so copies corrupt at the
    compression level were refused as several submissions; a corrupt LZMA
    member was exit 3 (LZMAError is no OSError); and hw3/ beside the
    hand-out's inputs/ was refused where their zip was graded."""
    import io
    import json
    import shutil
    import zipfile

    from test_cli_helpers import CONFIGS, assert_error, run

    import convcli.check as check_module
    from convcli.config import Source

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    members = {}
    for q in ("Z", "dA_prev", "dW", "db"):
        buf = io.BytesIO()
        np.save(buf, np.load(tmp_path / "key" / f"conv1.{q}.npy"))
        members[f"conv1.{q}.npy"] = buf.getvalue()

    def zipped(name, compression):
        with zipfile.ZipFile(tmp_path / name, "w", compression) as z:
            for folder in ("hw3", "hw3 (1)"):
                for member, data in members.items():
                    z.writestr(f"{folder}/{member}", data)
        return tmp_path / name

    path = zipped("deflated.zip", zipfile.ZIP_DEFLATED)
    with monkeypatch.context() as m:  # compared without opening (inflating) a member
        m.setattr(zipfile.ZipFile, "open", lambda *a, **k: (_ for _ in ()).throw(AssertionError("inflated")))
        assert check_module._same_stored(Source(file=path.name, key="hw3/conv1.dW"),
                                         Source(file=path.name, key="hw3 (1)/conv1.dW"), tmp_path, "w")
        assert not check_module._same_stored(Source(file=path.name, key="hw3/conv1.dW"),
                                             Source(file=path.name, key="hw3 (1)/conv1.db"), tmp_path, "w")
    for compression in (zipfile.ZIP_DEFLATED, zipfile.ZIP_LZMA):
        path = zipped(f"corrupt{compression}.zip", compression)
        data = bytearray(path.read_bytes())
        for folder in ("hw3", "hw3 (1)"):  # the same 8 bytes flipped in each copy's dW, mid-stream
            with zipfile.ZipFile(path) as z:
                info = z.getinfo(f"{folder}/conv1.dW.npy")
            start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + info.compress_size // 2
            data[start:start + 8] = bytes(b ^ 0xFF for b in data[start:start + 8])
        path.write_bytes(bytes(data))
        result = run(["check", cfg, "--against", path, "--json"])
        assert result.exit_code == 1, result.output
        status = {a["quantity"]: a["status"] for a in json.loads(result.stdout)["against"]}
        assert status == {"conv1.Z": "pass", "conv1.dA_prev": "pass", "conv1.dW": "unreadable",
                          "conv1.db": "pass"}, status
    # the hand-out's folder beside the work's
    up = tmp_path / "up"
    (up / "inputs").mkdir(parents=True)
    shutil.copytree(tmp_path / "key", up / "hw3", ignore=shutil.ignore_patterns("A_prev*", "W.*", "b.*", "*.json",
                                                                                "*.yaml", "conv1.dZ*"))
    for q in ("A_prev", "W", "b"):
        shutil.copy(tmp_path / "key" / f"{q}.npy", up / "inputs")
    doc = json.loads(run(["check", cfg, "--against", up, "--json"]).stdout)
    assert doc["ok"] and [a["entry"] for a in doc["against"]] == [
        f"hw3/conv1.{q}.npy" for q in ("Z", "dA_prev", "dW", "db")], doc
    # encrypted copies (each member behind its own random header, so their stored bytes differ): alike by the
    # zip's CRC and size, graded once, each quantity told it is encrypted. Marked encrypted by hand (zipfile
    # writes no encryption): bit 0 of the flags of each local header and central directory entry
    path = zipped("enc.zip", zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:  # the copy's first 12 stored bytes otherwise, as another random header
        for info in z.infolist():
            if info.filename.startswith("hw3 (1)/"):
                start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
                data[start:start + 12] = bytes(b ^ 0x5A for b in data[start:start + 12])
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        k = data.find(sig)
        while k >= 0:
            data[k + at] |= 0x1
            k = data.find(sig, k + 4)
    path.write_bytes(bytes(data))
    result = run(["check", cfg, "--against", path, "--json"])
    against = json.loads(result.stdout)["against"]
    assert result.exit_code == 1 and len(against) == 4, result.output
    assert all("encrypted" in a["note"] for a in against), against
    # a fourth review: a folder of misnamed work (work/my_dW.npy) beside another is no hand-out: both are
    # named, not one graded and the other passed over; beside graded work, it is listed as such
    mixed = tmp_path / "mixed"
    for folder, names in (("old", {"Z": "Z"}), ("work", {q: f"my_{q}" for q in ("Z", "dA_prev", "dW", "db")})):
        (mixed / folder).mkdir(parents=True)
        for q, name in names.items():
            shutil.copy(tmp_path / "key" / f"conv1.{q}.npy", mixed / folder / f"{name}.npy")
    assert_error(run(["check", cfg, "--against", mixed]),
                 "the folder has no .npy files (and no outputs.h5); old/ and work/ inside it have some")
    for q in ("Z", "dA_prev", "dW", "db"):
        shutil.copy(tmp_path / "key" / f"conv1.{q}.npy", mixed)
    notes = {u["entry"]: u["note"] for u in json.loads(run(["check", cfg, "--against", mixed, "--json"]).stdout)[
        "unknown"]}
    assert notes["work/"] == "a folder of .npy files inside; none of its .npy files is named as a quantity this " \
                             "run grades", notes
    # a corrupt bzip2 member: cannot be read, not exit 3 (its RuntimeError is no OSError)
    with zipfile.ZipFile(tmp_path / "bz.zip", "w", zipfile.ZIP_BZIP2) as z:
        for member, data in members.items():
            z.writestr(f"hw3/{member}", data)
    with zipfile.ZipFile(tmp_path / "bz.zip") as z:
        info = z.getinfo("hw3/conv1.dW.npy")
    data = bytearray((tmp_path / "bz.zip").read_bytes())
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size - 2] = 0
    (tmp_path / "bz.zip").write_bytes(bytes(data))
    result = run(["check", cfg, "--against", tmp_path / "bz.zip", "--json"])
    assert result.exit_code == 1, result.output
    assert {a["quantity"]: a["status"] for a in json.loads(result.stdout)["against"]} == {
        "conv1.Z": "pass", "conv1.dA_prev": "pass", "conv1.dW": "unreadable", "conv1.db": "pass"}


def test_review_of_the_hand_out_folder_rule(tmp_path, monkeypatch):
    """A fifth review: a folder of work inside a hand-out's folder (old/ of
    A_prev, W, b holding old/attempt1/) was hidden; a misnamed gradient
    saved under the upstream gradient's name, in its own folder, made it
    "the hand-out"; and widening the zip errors to RuntimeError failed a
    student's .h5 for a bug of convcli's (exit 1, "cannot read"), where a
    bug is exit 3. The misnamed array is convcli's dA_prev under dZ's name."""
    import json
    import shutil

    from test_cli_helpers import CONFIGS, assert_error, run

    import convcli.arrays as arrays_module

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    up = tmp_path / "up"
    (up / "old" / "attempt1").mkdir(parents=True)
    for q in ("Z", "dA_prev", "dW", "db"):
        shutil.copy(tmp_path / "key" / f"conv1.{q}.npy", up)
        shutil.copy(tmp_path / "key" / f"conv1.{q}.npy", up / "old" / "attempt1")
    for q in ("A_prev", "W", "b"):
        shutil.copy(tmp_path / "key" / f"{q}.npy", up / "old")
    notes = {u["entry"]: u["note"] for u in json.loads(run(["check", cfg, "--against", up, "--json"]).stdout)[
        "unknown"]}
    assert notes["old/"] == "a folder of what the config gives (the hand-out), not graded", notes
    assert notes["old/attempt1/"].endswith("attempt1 grades it"), notes
    # dZ.npy in the shape of dA_prev, beside hw3/: no hand-out, so which folder is the work is asked
    mis = tmp_path / "mis"
    (mis / "backward").mkdir(parents=True)
    shutil.copytree(tmp_path / "up" / "old" / "attempt1", mis / "hw3")
    shutil.copy(tmp_path / "key" / "conv1.dA_prev.npy", mis / "backward" / "dZ.npy")
    assert np.load(mis / "backward" / "dZ.npy").shape != np.load(tmp_path / "key" / "conv1.dZ.npy").shape
    assert_error(run(["check", cfg, "--against", mis]), "backward/ and hw3/ inside it have some")
    # a bug of convcli's while reading an .h5 is exit 3, not the student's unreadable array
    assert run(["backward", cfg, "--format", "h5", "--out", tmp_path / "h5"]).exit_code == 0
    monkeypatch.setattr(arrays_module, "_linked_target", lambda *a: (_ for _ in ()).throw(RuntimeError("a bug")))
    assert run(["check", cfg, "--against", tmp_path / "h5" / "outputs.h5"]).exit_code == 3


def test_a_hand_out_under_the_configs_own_file_names_is_the_hand_out(tmp_path):
    """A review: an inputs/ folder holding the hand-out under the config's
    own file names (x.npy for A_prev: {file: x.npy}, g.npy for the upstream
    gradient's file) was a rival to hw3/, and the upload refused; named as
    quantities it was not. A wrong shape under that name is still no
    hand-out."""
    import json
    import shutil

    from test_cli_helpers import assert_error, run, write

    rng = np.random.RandomState(0)
    np.save(tmp_path / "x.npy", rng.randn(2, 5, 5, 3))
    np.save(tmp_path / "g.npy", rng.randn(2, 5, 5, 4))
    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {file: x.npy}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n"
                          "backward: {grad: {file: g.npy}}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    up = tmp_path / "up"
    (up / "inputs").mkdir(parents=True)
    shutil.copytree(tmp_path / "key", up / "hw3", ignore=shutil.ignore_patterns("A_prev*", "W.*", "b.*", "*.json",
                                                                                "*.yaml", "conv1.dZ*"))
    shutil.copy(tmp_path / "x.npy", up / "inputs")
    shutil.copy(tmp_path / "g.npy", up / "inputs")
    doc = json.loads(run(["check", cfg, "--against", up, "--json"]).stdout)
    assert doc["ok"] and len(doc["against"]) == 4, doc
    assert ("inputs/", "a folder of what the config gives (the hand-out), not graded") in [
        (u["entry"], u["note"]) for u in doc["unknown"]], doc["unknown"]
    np.save(up / "inputs" / "x.npy", rng.randn(2, 4, 4, 3))  # not A_prev's shape: a rival, asked about
    assert_error(run(["check", cfg, "--against", up]), "hw3/ and inputs/ inside it have some")


def test_a_pass_that_any_array_that_small_would_get_says_so_and_zeros_are_not_called_a_slip(tmp_path):
    """An instructor's review: with float32's default atol (1e-5) against a
    gradient of ~1e-6, an array of zeros passed (rel err 1.00) with nothing
    said; and where the zeros failed, the hint called them the = for +=
    slip, whose terms were all within atol of 0 too. Bounded by hand: with
    0.5 <= W <= 1 and dZ = 1e-8 everywhere, every dA_prev is in (0, 3*3*8 *
    1e-8], under 1e-5; with dZ = 1e-9 in float64 (atol 1e-8), one window's
    term is <= 1e-9 (the slip's array is zeros to atol) while a position
    under all 9 windows sums 72 terms, >= 3.6e-8."""
    import json

    from test_cli_helpers import run, write

    rs = np.random.RandomState(5)
    W = rs.uniform(0.5, 1.0, (3, 3, 3, 8))
    for dtype, g in (("float32", 1e-8), ("float64", 1e-9)):
        np.save(tmp_path / "A.npy", rs.randn(2, 6, 6, 3).astype(dtype))
        np.save(tmp_path / "W.npy", W.astype(dtype))
        np.save(tmp_path / "dZ.npy", np.full((2, 6, 6, 8), g, dtype=dtype))
        cfg = write(tmp_path, f"dtype: {dtype}\n"
                              "inputs: {A_prev: {file: A.npy}, W: {file: W.npy}, b: {zeros: [8]}}\n"
                              "layers: [{type: conv, W: W, b: b, pad: 1}]\n"
                              "backward: {grad: {file: dZ.npy}}\n", f"{dtype}.yaml")
        sub = tmp_path / dtype
        sub.mkdir()
        np.save(sub / "conv1.dA_prev.npy", np.zeros((2, 6, 6, 3), dtype=dtype))
        result = run(["check", cfg, "--against", sub, "--json"])
        (o,) = json.loads(result.stdout)["against"]
        if dtype == "float32":  # every |value| within atol: a pass, and said to be one whatever yours held
            assert result.exit_code == 0 and o["passed"] and o["hints"] == ["atol_dominates"], o
            assert "within atol (1e-05) of 0" in o["note"] and "array of zeros would pass too: --atol" in o["note"]
            text = run(["check", cfg, "--against", sub]).stdout
            assert "pass conv1.dA_prev.npy: every |value| of convcli's is within atol (1e-05) of 0" in text
            # at an atol below the last term (the last window's A_prev times dZ's 1e-8, A_prev ~ N(0, 1)): a dW
            # of zeros is no = slip there (a review: told so at the hints' looser tolerance)
            np.save(sub / "conv1.dW.npy", np.zeros((3, 3, 3, 8), dtype=dtype))
            doc = json.loads(run(["check", cfg, "--against", sub, "--atol", "1e-13", "--json"]).stdout)
            (o,) = [a for a in doc["against"] if a["quantity"] == "conv1.dW"]
            assert not o["passed"] and o["hints"] == ["all_zeros"], o
            (sub / "conv1.dW.npy").unlink()
        else:
            assert result.exit_code == 1 and not o["passed"] and o["hints"] == ["all_zeros"], o
            assert o["note"].endswith("; yours is all zeros: was it filled? (an array made with np.zeros that no "
                                      "loop wrote to)"), o["note"]
    # a right answer at a scale above atol passes with nothing said
    np.save(tmp_path / "dZ.npy", np.ones((2, 6, 6, 8)))
    key = tmp_path / "key"
    assert run(["backward", tmp_path / "float64.yaml", "--out", key]).exit_code == 0
    (o,) = json.loads(run(["check", tmp_path / "float64.yaml", "--against", key / "conv1.dA_prev.npy",
                           "--json"]).stdout)["against"]
    assert o["passed"] and o["hints"] == [] and not o["note"], o


def test_an_underscore_for_the_quantitys_dot_grades_as_that_quantity(tmp_path):
    """An instructor's review: ``np.savez(f, conv1_Z=Z, ...)`` (keywords
    cannot hold a dot) scored 0 of 8 under --complete, every array 'unknown
    quantity 'conv1_Z' (did you mean 'conv1.Z'?)'. A name whose one reading
    with a dot for an underscore is a quantity grades as it, in an .npz
    and as a file; one with none stays unknown. The
    arrays are the key's own, each renamed: the expected outcome (8 of 8,
    a doubled db failing) follows from that, not from a run of check."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    names = ["conv1.Z", "relu2.A", "pool3.A", "conv1.dA_prev", "conv1.dW", "conv1.db", "relu2.dA_prev",
             "pool3.dA_prev"]
    arrays = {q.replace(".", "_"): np.load(tmp_path / "key" / f"{q}.npy") for q in names}
    np.savez(tmp_path / "under.npz", **arrays)
    (tmp_path / "under").mkdir()
    for k, a in arrays.items():
        np.save(tmp_path / "under" / f"{k}.npy", 2 * a if k == "conv1_db" else a)
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "under.npz", "--complete", "--json"]).stdout)
    assert doc["ok"] and doc["missing"] == [] and doc["unknown"] == [], doc
    assert sorted(o["quantity"] for o in doc["against"]) == sorted(names)
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "under", "--complete", "--json"]).stdout)
    assert [o["quantity"] for o in doc["against"] if not o["passed"]] == ["conv1.db"], doc
    # no reading, or a name that is a quantity already: as before
    np.savez(tmp_path / "other.npz", conv9_Z=arrays["conv1_Z"], conv1_Z_old=arrays["conv1_Z"])
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "other.npz", "--complete", "--json"]).stdout)
    assert sorted(u["entry"] for u in doc["unknown"]) == ["conv1_Z_old", "conv9_Z"], doc["unknown"]


def test_atol_dominates_only_where_zeros_would_pass():
    """Zeros pass an array whose every |value| is within atol of 0, and fail
    one holding a NaN or an infinity there (a review: the note said zeros
    would pass a max pool's output with a NaN in it); all zeros, or one
    value past atol, say nothing."""
    from convcli.check import _atol_dominates

    said = _atol_dominates(np.array([1e-10, -3e-10]), 1e-6, 1e-8)
    assert said.startswith("every |value| of convcli's is within atol (1e-08) of 0 (the largest is 3e-10), so an "
                           "array of zeros would pass too: --atol 3e-16 grades"), said
    for ours in ([1e-10, np.nan], [1e-10, np.inf], [0.0, 0.0], [1e-10, 2e-8]):
        assert _atol_dominates(np.array(ours), 1e-6, 1e-8) == "", ours


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("f, stride, slip, f_, s_", [
    (3, 1, "a window ends at vert_start + stride, not + f", 1, 1),
    (3, 2, "a window ends at vert_start + stride, not + f", 2, 2),
    (2, 3, "a window starts at h * f, not h * stride", 2, 2),
    (2, 2, "", 3, 2),
])
def test_a_pool_gradient_with_another_window_says_which(tmp_path, mode, f, stride, slip, f_, s_, size=11):
    """An instructor's review: a pool's dA_prev from backward loops with the
    wrong window (vert_end = vert_start + stride) failed bare, where the
    forward output's slip is named. Yours made by hand: loops over dA's
    n_H x n_W windows of f_ rows and columns, h * s_ apart."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, f"seed: 3\ninputs:\n  A_prev: {{random: [2, {size}, {size}, 3]}}\nlayers:\n"
                          f"  - {{type: pool, f: {f}, stride: {stride}, mode: {mode}}}\nbackward: {{grad: random}}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    x, g = np.load(tmp_path / "key" / "A_prev.npy"), np.load(tmp_path / "key" / "pool1.dA.npy")
    n = (size - f) // stride + 1
    assert g.shape == (2, n, n, 3)
    dA = np.zeros_like(x)
    for i, h, w, c in np.ndindex(g.shape):
        win = x[i, h * s_:h * s_ + f_, w * s_:w * s_ + f_, c]
        share = (win == win.max()) if mode == "max" else np.full(win.shape, 1 / (f_ * f_))
        dA[i, h * s_:h * s_ + f_, w * s_:w * s_ + f_, c] += share * g[i, h, w, c]
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "dA_prev.npy", dA)
    result = run(["check", cfg, "--against", sub, "--json"])
    (o,) = json.loads(result.stdout)["against"]
    assert result.exit_code == 1 and not o["passed"] and o["hints"] == ["geometry"], o
    said = f" ({slip})" if slip else ""
    assert o["note"].endswith(f"yours is what the backward loops make with windows of f {f_} at stride {s_}{said}; "
                              f"the config's f is {f}, stride {stride}"), o


def _seed_once_case(tmp_path, torch):
    """The seed notebook's layer with the bias once under grad: output (a
    config in tmp_path), and its inputs drawn as the config draws them (A,
    W, b from RandomState(1)) with PyTorch's Z: ``(cfg, (A, W, b, Z))``."""
    from helpers import torch_conv
    from test_cli_helpers import write

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [10, 4, 4, 3]}\n  W: {random: [2, 2, 3, 8]}\n"
                          "  b: {random: [1, 1, 1, 8]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 2}\n"
                          "backward: {grad: output}\n")
    rng = np.random.RandomState(1)
    A, W, b = rng.randn(10, 4, 4, 3), rng.randn(2, 2, 3, 8), rng.randn(1, 1, 1, 8)
    return cfg, (A, W, b, torch_conv(torch, A, W, b, np.zeros((10, 7, 7, 8)), sides=(2, 2, 2, 2))[0])

def test_a_backward_right_for_your_own_z_that_passes_is_graded_on_it(tmp_path, torch):
    """A learner's review: a Z within the check's tolerance (each element
    off by 5e-7 relative, rtol 1e-6) and a backward exactly right for it
    (PyTorch's autograd of that Z as dZ, under grad: output) failed dA and
    dW with --each-layer, which graded them on convcli's Z. Layer by layer
    they pass now, graded on your Z as saved; the whole run, which grades
    on convcli's arrays, fails them and says why."""
    import json

    from helpers import torch_conv
    from test_cli_helpers import run

    cfg, (A, W, b, Z) = _seed_once_case(tmp_path, torch)
    Z = Z * (1 + 5e-7 * np.random.RandomState(5).choice([-1, 1], Z.shape))
    _, dA, dW, db = torch_conv(torch, A, W, b, Z, sides=(2, 2, 2, 2))
    sub = tmp_path / "sub"
    sub.mkdir()
    for name, a in (("Z", Z), ("dA", dA), ("dW", dW), ("db", db)):
        np.save(sub / f"{name}.npy", a)
    result = run(["check", cfg, "--against", sub, "--json", "--each-layer"])
    by = {o["quantity"]: o for o in json.loads(result.stdout)["against"]}
    assert result.exit_code == 0 and all(o["passed"] for o in by.values()), by
    for q in ("conv1.dA_prev", "conv1.dW"):
        assert by[q]["note"] == ("graded on your conv1.Z as saved (it is convcli's to the tolerance or to the "
                                 "precision it was saved in, not exactly): yours is what conv1's backward makes of "
                                 "it"), by[q]
        assert by[q]["abs_err"] < 1e-12, by[q]
    result = run(["check", cfg, "--against", sub, "--json"])
    by = {o["quantity"]: o for o in json.loads(result.stdout)["against"]}
    assert result.exit_code == 1 and by["conv1.Z"]["passed"]
    for q in ("conv1.dA_prev", "conv1.dW"):
        assert not by[q]["passed"] and by[q]["hints"] == ["inputs_as_saved"], by[q]
        assert by[q]["note"].endswith("yours is what conv1's backward makes of your conv1.Z as saved, which passes "
                                      "but is not convcli's exactly: --each-layer grades each layer on your own "
                                      "inputs"), by[q]


def test_arrays_of_another_shape_that_hold_convclis_numbers_say_the_fix(tmp_path, torch):
    """A learner's review: a db saved (1, 8) or (8, 1) was told only the
    shapes a bias may have, and a dA_prev saved as one sample (dA[0]) a
    bare shape error. Under grad: output (each sample's gradient its own),
    dA_prev and db are PyTorch's."""
    import json

    from helpers import torch_conv
    from test_cli_helpers import run

    cfg, (A, W, b, Z) = _seed_once_case(tmp_path, torch)
    _, dA, _, db = torch_conv(torch, A, W, b, Z, sides=(2, 2, 2, 2))
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "dA.npy", dA[3])
    for shape in ((1, 8), (8, 1)):
        np.save(sub / "db.npy", db.reshape(shape))
        result = run(["check", cfg, "--against", sub, "--json"])
        by = {o["quantity"]: o for o in json.loads(result.stdout)["against"]}
        assert result.exit_code == 1 and not by["conv1.db"]["passed"]
        assert by["conv1.db"]["note"] == (f"shape {shape}, expected (1, 1, 1, 8); yours is convcli's numbers in "
                                          "another shape: save yours.reshape(1, 1, 1, 8) (a bias or its gradient "
                                          "is (8,) or (1, 1, 1, 8))"), by["conv1.db"]
        assert by["conv1.dA_prev"]["note"] == ("shape (4, 4, 3), expected (10, 4, 4, 3); yours is convcli's "
                                               "sample 3 alone: conv1.dA_prev holds all 10 samples, "
                                               "(10, 4, 4, 3)"), by["conv1.dA_prev"]
    # numbers that are not convcli's: the shapes alone
    np.save(sub / "db.npy", db.reshape(1, 8) + 1)
    np.save(sub / "dA.npy", dA[3] + 1)
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]}
    assert by["conv1.db"]["note"] == "shape (1, 8), expected (1, 1, 1, 8); a bias or its gradient is (8,) or " \
                                     "(1, 1, 1, 8)", by["conv1.db"]
    assert by["conv1.dA_prev"]["note"] == "shape (4, 4, 3), expected (10, 4, 4, 3)", by["conv1.dA_prev"]


def test_an_npz_saved_without_names_says_how_to_name_them(tmp_path):
    """A learner's review: np.savez(f, Z, dA) stores arr_0 and arr_1, and
    the error listed them with no word of why."""
    from test_cli_helpers import assert_error, run, write

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [2, 4, 4, 3]}\n  W: {random: [2, 2, 3, 8]}\n"
                          "  b: {random: [8]}\nlayers:\n  - {type: conv, W: W, b: b}\n")
    np.savez(tmp_path / "mine.npz", np.zeros((2, 3, 3, 8)), np.zeros((2, 4, 4, 3)))
    result = run(["check", cfg, "--against", tmp_path / "mine.npz"])
    # (with the quantity of its shape: a 2x2 kernel over 4x4 maps makes Z (2, 3, 3, 8); A_prev's shape, a
    # copy's as much as dA_prev's, offers none)
    assert_error(result, "none of its arrays is a quantity this run computes: arr_0 (did you mean 'conv1.Z', of its "
                         "shape (2, 3, 3, 8)?), arr_1; np.savez names the arrays it is given without a name arr_0, "
                         "arr_1, ...: name each, np.savez(file, Z=..., dA_prev=...)")
    # a pool's output is A; several layers' names take an _ for the dot (reviews: Z= and bare names failed again)
    for layers, said in (("  - {type: pool, f: 2}\n", "np.savez(file, A=..., dA_prev=...)"),
                         ("  - {type: conv, W: W, b: b}\n  - {type: relu}\n", "np.savez(file, conv1_Z=..., relu2_A=...)")):
        other = write(tmp_path, cfg.read_text().split("layers:")[0] + "layers:\n" + layers, "other.yaml")
        np.savez(tmp_path / "mine.npz", np.zeros(3), np.zeros(2))
        assert_error(run(["check", other, "--against", tmp_path / "mine.npz"]), said)
    np.savez(tmp_path / "mine.npz", scratch=np.zeros(3), arr_0=np.zeros((2, 3, 3, 8)))  # not all: not said
    assert "np.savez names" not in run(["check", cfg, "--against", tmp_path / "mine.npz"]).stderr


def test_inputs_drawn_in_another_order_than_the_configs_say_so(tmp_path, torch):
    """A learner's review: a config that lists W before A_prev draws W
    first; a learner who drew A_prev first (the notebook's order) was told
    only that A_prev and W are not the config's (another seed?). Their
    draws by NumPy's RandomState, their Z by PyTorch."""
    import json

    from helpers import torch_conv
    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs:\n  W: {random: [2, 2, 3, 8]}\n  A_prev: {random: [10, 4, 4, 3]}\n"
                          "  b: {random: [1, 1, 1, 8]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 2}\n")
    for seed, drawn in ((1, True), (2, False)):
        rng = np.random.RandomState(seed)
        A, W, b = rng.randn(10, 4, 4, 3), rng.randn(2, 2, 3, 8), rng.randn(1, 1, 1, 8)
        sub = tmp_path / f"sub{seed}"
        sub.mkdir()
        for name, a in (("A_prev", A), ("W", W), ("b", b)):
            np.save(sub / f"{name}.npy", a)
        np.save(sub / "Z.npy", torch_conv(torch, A, W, b, np.zeros((10, 7, 7, 8)), sides=(2, 2, 2, 2))[0])
        result = run(["check", cfg, "--against", sub, "--json"])
        doc = json.loads(result.stdout)
        (o,) = doc["against"]
        differs = {u["entry"]: u["differs"] for u in doc["unknown"]}
        assert result.exit_code == 1 and o["hints"] == ["other_inputs"], o
        if drawn:
            assert differs["b.npy"] is None  # drawn third either way
            said = "the config's random inputs drawn in the order A_prev, W, b; it draws them as listed, W, " \
                   "A_prev, b"
            assert differs["A_prev.npy"] == differs["W.npy"] == said, differs
            assert o["note"].endswith(f"yours follow from other inputs: your A_prev and W are not the config's "
                                      f"({said})"), o
            text = run(["check", cfg, "--against", sub]).stdout
            assert f"note: your A_prev.npy and W.npy are not the config's ({said}): yours follow from other " \
                   "inputs\n" in text, text
        else:
            assert "drawn in the order" not in differs["A_prev.npy"], differs
            assert o["note"].endswith("yours follow from other inputs: your A_prev, W and b are not the "
                                      "config's"), o


def test_gradients_made_of_a_z_drawn_in_another_order_say_so_not_fix_the_forward(tmp_path, torch):
    """A learner's review: inputs drawn in the notebook's order where the
    config lists W first, and only Z and the gradients saved: Z was told
    the draw order, but dA_prev, dW and db "fix the forward first", of a
    forward pass that was right. Their arrays by PyTorch, grad: output."""
    import json

    from helpers import torch_conv
    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs:\n  W: {random: [2, 2, 3, 8]}\n  A_prev: {random: [10, 4, 4, 3]}\n"
                          "  b: {random: [1, 1, 1, 8]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 2}\n"
                          "backward: {grad: output}\n")
    rng = np.random.RandomState(1)
    A, W, b = rng.randn(10, 4, 4, 3), rng.randn(2, 2, 3, 8), rng.randn(1, 1, 1, 8)
    Z = torch_conv(torch, A, W, b, np.zeros((10, 7, 7, 8)), sides=(2, 2, 2, 2))[0]
    _, dA, dW, db = torch_conv(torch, A, W, b, Z, sides=(2, 2, 2, 2))
    _save_all(tmp_path / "sub", {"Z": Z, "dA": dA, "dW": dW, "db": db})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "sub",
                                                    "--json"]).stdout)["against"]}
    assert by["conv1.Z"]["hints"] == ["other_inputs"] and "drawn in the order A_prev, W, b" in by["conv1.Z"]["note"]
    for q in ("conv1.dA_prev", "conv1.dW", "conv1.db"):
        o = by[q]
        assert not o["passed"] and o["hints"] == ["other_inputs"], o
        assert "your conv1.Z is made of the config's inputs drawn in another order (said there), and so may " \
               "this one be" in o["note"], o
        assert "fix the forward first" not in o["note"], o
    # and through a ReLU after it (a code review: told both, and "relu2.dA_prev differs too: fix that one first")
    cfg2 = write(tmp_path, cfg.read_text().replace("pad: 2}\n", "pad: 2}\n  - {type: relu}\n"), name="cfg2.yaml")
    A2 = np.maximum(Z, 0)
    G = A2 * (Z > 0)  # relu2.dA_prev of grad: output's A2
    _, dA, dW, db = torch_conv(torch, A, W, b, G, sides=(2, 2, 2, 2))
    _save_all(tmp_path / "sub2", {"conv1.Z": Z, "relu2.A": A2, "relu2.dA_prev": G, "conv1.dA_prev": dA,
                                  "conv1.dW": dW, "conv1.db": db})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg2, "--against", tmp_path / "sub2",
                                                    "--json"]).stdout)["against"]}
    for q in ("relu2.A", "relu2.dA_prev", "conv1.dA_prev", "conv1.dW", "conv1.db"):
        o = by[q]
        assert not o["passed"] and o["hints"] == ["other_inputs"], o
        assert "your conv1.Z is made of the config's inputs drawn in another order" in o["note"], o
        assert "fix the forward first" not in o["note"] and "differs too" not in o["note"], o
    # layer by layer (an instructor's review: dW and dA_prev told nothing): they follow from the config's
    # inputs the first layer takes, drawn otherwise; the ReLU's, graded on your conv1.Z, pass
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg2, "--against", tmp_path / "sub2", "--json",
                                                    "--each-layer"]).stdout)["against"]}
    assert by["relu2.A"]["passed"] and by["relu2.dA_prev"]["passed"], by
    for q in ("conv1.dA_prev", "conv1.dW"):
        o = by[q]
        assert not o["passed"] and o["hints"] == ["other_inputs"], o
        assert "your conv1.Z is made of the config's inputs drawn in another order (said there), and so may " \
               "this one be" in o["note"], o


def test_the_draw_order_search_drops_an_order_at_its_first_draw_and_draws_the_seed_once(tmp_path, monkeypatch):
    """The search for the order the user's copies were drawn in tries each
    copy about once per place it may take while every copy prunes it (6
    tries for three inputs, not 3! orders of 3), each a slice of the seed's
    stream drawn once (a review: drawn again for every order, a budget cut
    the search short); a stream of more than DRAWS_KEPT elements is not
    drawn. The copies are NumPy's own RandomState draws."""
    import convcli.check as chk
    from convcli import runner
    from test_cli_helpers import write

    cfg = write(tmp_path, "seed: 4\ninputs:\n  W: {random: [2, 2, 3, 8]}\n  b: {random: [8]}\n"
                          "  A_prev: {random: [5, 4, 4, 3]}\nlayers:\n  - {type: conv, W: W, b: b}\n")
    p = runner.plan(cfg)
    random = ["W", "b", "A_prev"]
    rng = np.random.RandomState(4)  # drawn A_prev, W, b
    copies = {"A_prev": rng.randn(5, 4, 4, 3), "W": rng.randn(2, 2, 3, 8), "b": rng.randn(8)}
    seeded = []
    real_state = np.random.RandomState
    monkeypatch.setattr(chk.np.random, "RandomState", lambda *a: seeded.append(a) or real_state(*a))
    normals = chk._seed_normals(p, random)
    assert normals.shape == (96 + 8 + 240,) and len(seeded) == 1
    drawn = []
    real = runner.load_input
    monkeypatch.setattr(runner, "load_input", lambda p, name, *a: drawn.append(name) or real(p, name, *a))
    assert chk._drawn_order(p, random, copies, normals) == ([["A_prev", "W", "b"]], True)
    assert len(drawn) <= 6 and len(seeded) == 1, drawn  # (every order of 3 drawn in full: 3 + 6 + 6 = 15 draws)
    # A_prev's copy alone: W and b in either order after it (a review: one of them was said as the order)
    orders, complete = chk._drawn_order(p, random, {"A_prev": copies["A_prev"]}, normals)
    assert orders == [["A_prev", "W", "b"], ["A_prev", "b", "W"]] and complete, orders
    assert chk._drawn_words(orders, random, ["A_prev"]) == (
        "the config's random inputs drawn in another order, A_prev 1st; it draws them as listed, W, b, A_prev")
    # not all the orders found (a review: places told from the first 32): none said
    assert chk._drawn_words(orders[:1], random, ["A_prev"], complete=False) == (
        "the config's random inputs drawn in another order; it draws them as listed, W, b, A_prev")
    monkeypatch.setattr(chk, "ORDERS_KEPT", 1)
    assert chk._drawn_order(p, random, {"A_prev": copies["A_prev"]}, normals) == ([["A_prev", "W", "b"]], False)
    monkeypatch.setattr(chk, "DRAWS_KEPT", 96 + 8 + 240 - 1)
    assert chk._seed_normals(p, random) is None


def test_a_max_pool_gradient_whose_windows_numpy_cut_short_says_which(tmp_path):
    """An instructor's review: vert_start = h * f with overlapping windows
    (f 3, stride 2, on 8 rows: windows at 0, 3, 6) runs its last window past
    the input's edge, where NumPy's slice cuts it short and the loops take
    the maximum of what is left; no note was given. (An average pool's f*f
    shares do not fit a window cut short: NumPy raises, no array is made.)"""
    test_a_pool_gradient_with_another_window_says_which(tmp_path, "max", 3, 2, "a window starts at h * f, not h * "
                                                        "stride", 3, 3, size=8)


def test_an_array_that_passes_only_to_its_own_precision_is_not_graded_on_as_saved(tmp_path):
    """A review: --each-layer took a Z saved as whole numbers (or in
    float16), which passes only to the precision it holds, as the input the
    next layer is graded on as saved, and the ReLU of it passed. Such Z and
    A fail layer by layer as they do in the whole run."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 2\ninputs:\n  A_prev: {random: [2, 5, 5, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n  - {type: relu}\n")
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    Z = np.load(tmp_path / "key" / "conv1.Z.npy")
    for dtype, kept in ((np.int64, np.round), (np.float16, lambda z: z)):
        sub = tmp_path / f"sub_{np.dtype(dtype).name}"
        sub.mkdir()
        np.save(sub / "conv1.Z.npy", kept(Z).astype(dtype))
        np.save(sub / "relu2.A.npy", np.maximum(kept(Z), 0).astype(dtype))
        by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--json",
                                                        "--each-layer"]).stdout)["against"]}
        assert not by["conv1.Z"]["passed"] and not by["relu2.A"]["passed"], by
        assert "as saved" not in by["relu2.A"]["note"], by["relu2.A"]


def test_a_kernel_gradient_saved_without_an_axis_is_no_sample(tmp_path):
    """A review: dW[1] saved for dW was told it is convcli's sample 1
    alone; dW's first axis is the kernel's rows."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 2\ninputs:\n  A_prev: {random: [3, 5, 5, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b}\nbackward: {grad: ones}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "dW.npy", np.load(tmp_path / "key" / "conv1.dW.npy")[1])
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["note"] == "shape (3, 3, 4), expected (3, 3, 3, 4)", o


def test_inputs_drawn_in_another_order_and_a_file_input_that_differs_are_told_apart(tmp_path, torch):
    """A review: a config drawing b, then A_prev, with W from a file; the
    learner drew A_prev first and saved another W. The order was said of
    all three, and W's own difference (another file?) lost. And an
    instructor's: with only A_prev's copy saved, the order explained it but
    b's draw, which differs too, went unsaid (db, the sum of Z, names both);
    with no copies at all, conv1.Z gets the order from a rerun of the
    layer on the config's inputs drawn in each other order. The learner's
    draws by NumPy's RandomState, Z by PyTorch."""
    import json

    from helpers import torch_conv
    from test_cli_helpers import run, write

    W = np.random.RandomState(9).randn(2, 2, 3, 4)
    np.save(tmp_path / "W.npy", W)
    cfg = write(tmp_path, "seed: 5\ninputs:\n  b: {random: [4]}\n  A_prev: {random: [3, 4, 4, 3]}\n"
                          "  W: {file: W.npy}\nlayers:\n  - {type: conv, W: W, b: b}\nbackward: {grad: output}\n")
    rng = np.random.RandomState(5)
    A, b = rng.randn(3, 4, 4, 3), rng.randn(4)
    said = "the config's random inputs drawn in the order A_prev, b; it draws them as listed, b, A_prev"

    def grade(sub, *flags):
        result = run(["check", cfg, "--against", sub, "--json", *flags])
        return result, {o["quantity"]: o for o in json.loads(result.stdout)["against"]}

    sub = tmp_path / "sub"
    sub.mkdir()
    mine = W + 1
    for name, a in (("A_prev", A), ("b", b), ("W", mine)):
        np.save(sub / f"{name}.npy", a)
    np.save(sub / "Z.npy", torch_conv(torch, A, mine, b, np.zeros((3, 3, 3, 4)))[0])
    result, by = grade(sub)
    assert by["conv1.Z"]["note"].endswith(f"yours follow from other inputs: your W is not the config's; and your "
                                          f"A_prev and b are not the config's ({said})"), by["conv1.Z"]
    text = run(["check", cfg, "--against", sub]).stdout
    assert "note: your W.npy is not the config's (W: first differs at" in text, text
    assert f"note: your A_prev.npy and b.npy are not the config's ({said}): yours follow from other inputs" in text
    # A_prev's copy alone, the learner's W the config's: db (the sum of Z) follows from b too
    for f in sub.iterdir():
        f.unlink()
    np.save(sub / "A_prev.npy", A)
    Z, _, _, db = torch_conv(torch, A, W, b, torch_conv(torch, A, W, b, np.zeros((3, 3, 3, 4)))[0])
    np.save(sub / "db.npy", db)
    result, by = grade(sub, "--each-layer")
    assert f"yours follow from other inputs: your A_prev and b are not the config's ({said})" in \
        by["conv1.db"]["note"], by["conv1.db"]
    # no copies: Z rerun on the inputs drawn in each other order
    for f in sub.iterdir():
        f.unlink()
    np.save(sub / "Z.npy", Z)
    for flags in ((), ("--each-layer",)):
        result, by = grade(sub, *flags)
        assert by["conv1.Z"]["hints"] == ["other_inputs"], by["conv1.Z"]
        assert by["conv1.Z"]["note"].endswith(f"yours is what conv1 makes of {said}"), by["conv1.Z"]


def test_a_draw_order_the_first_layer_cannot_tell_is_said_by_its_inputs_places(tmp_path, monkeypatch):
    """A review: with no copies, a pool first took the first order of the
    inputs whose output fitted, W, b, A_prev, where b, W, A_prev (the
    learner's) fits as well: the pool takes A_prev alone, whose draw only
    its place in the seed's stream decides. Said: A_prev 3rd. The pool by
    hand (NumPy's maximum over 2x2 windows)."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [4, 6, 6, 3]}\n  W: {random: [2, 2, 3, 4]}\n"
                          "  b: {random: [1, 1, 1, 4]}\nlayers:\n  - {type: pool, f: 2}\n"
                          "  - {type: conv, W: W, b: b}\n")
    rng = np.random.RandomState(3)
    rng.randn(1, 1, 1, 4), rng.randn(2, 2, 3, 4)  # b, then W, then A_prev: the learner's order
    A = rng.randn(4, 6, 6, 3)
    pooled = A.reshape(4, 3, 2, 3, 2, 3).max(axis=(2, 4))
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "pool1.A.npy", pooled)
    import convcli.check as chk

    # (a review: the hint drew no stream past DRAWS_KEPT, the copies' limit; its own is HINT_DRAWS)
    monkeypatch.setattr(chk, "DRAWS_KEPT", 10)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == ["other_inputs"], o
    assert o["note"].endswith("yours is what pool1 makes of the config's random inputs drawn in another order, "
                              "A_prev 3rd; it draws them as listed, A_prev, W, b"), o
    monkeypatch.setattr(chk, "HINT_DRAWS", 10)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert o["hints"] == [], o


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("raised", ["relu2.A", "conv1.Z"])
def test_each_layer_grades_a_max_pool_on_an_input_an_ulp_off_as_saved(tmp_path, dtype, raised):
    """An instructor's review: convcli's own float64 arrays from another
    thread setting failed pool6.dA_prev under --each-layer, with no hint: its
    input, relu5.A, was convcli's but in its last digits, which moved a tie,
    and a float64 input that close was taken as convcli's (INEXACT). A max
    pool's input is now run on as saved too where it is not convcli's
    exactly, and so is one the layers make of the user's through ReLUs (a
    review: a submission without relu2.A, its conv1.Z raised, still failed).
    Here a submission is consistent through every layer from a ``raised``
    array with one element of a tie raised by an ulp: by hand, that window's
    gradient goes to it alone (ties: all gave all four theirs). The whole
    run, graded on convcli's arrays, fails the pool's gradient, and says
    why."""
    from test_cli_helpers import run, write

    import convcli as cc

    images = np.zeros((2, 8, 8, 1))
    images[:, 2:6, 2:6] = 1.0  # flat: equal windows tie
    np.save(tmp_path / "x.npy", images)
    cfg = write(tmp_path, {"seed": 2, "dtype": dtype, "inputs": {"A_prev": {"file": "x.npy"},
                                                                  "W": {"value": [[[[1.0]]]]}, "b": {"value": [0.0]}},
                           "layers": [{"type": "conv", "W": "W", "b": "b"}, {"type": "relu"},
                                      {"type": "pool", "f": 2}],
                           "backward": {"grad": "ones"}})
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    key = {f.name[:-4]: np.load(f) for f in (tmp_path / "key").glob("*.npy")}
    Z = key["conv1.Z"].copy()
    Z[0, 2, 2, 0] = np.nextafter(Z[0, 2, 2, 0], np.inf)  # the window (2:4, 2:4) of four ones: one past the rest
    A = cc.relu_forward(Z)[0]
    P, cache = cc.pool_forward(A, {"f": 2})
    dA_pool = cc.pool_backward(np.ones_like(P), cache)
    assert dA_pool[0, 2:4, 2:4, 0].tolist() == [[1, 0], [0, 0]] and key["pool3.dA_prev"][0, 2:4, 2:4, 0].all()
    if raised == "relu2.A":
        Z = key["conv1.Z"]
    dZ = cc.relu_backward(dA_pool, Z)
    W, b = key["W"], key["b"]
    dA_prev, dW, db = cc.conv_backward(dZ, cc.conv_forward(key["A_prev"], W, b, {})[1])
    sub = tmp_path / "sub"
    sub.mkdir()
    arrays = {"conv1.Z": Z, "relu2.A": A, "pool3.A": P, "pool3.dA_prev": dA_pool, "relu2.dA_prev": dZ,
              "conv1.dA_prev": dA_prev, "conv1.dW": dW, "conv1.db": db}
    if raised == "conv1.Z":
        del arrays["relu2.A"]  # made of their conv1.Z by the ReLU
    for name, a in arrays.items():
        np.save(sub / f"{name}.npy", a.astype(dtype))
    result = run(["check", cfg, "--against", sub, "--each-layer"])
    assert result.exit_code == 0, result.stdout
    whole = run(["check", cfg, "--against", sub])  # the whole run grades on convcli's relu2.A: the tie holds
    assert whole.exit_code == 1 and "FAIL pool3.dA_prev.npy" in whole.stdout, whole.stdout
    if raised == "relu2.A":  # (a review: no hint said why)
        assert (f"yours is what pool3's backward makes of your relu2.A as saved, which passes but is not "
                "convcli's exactly: --each-layer grades each layer on your own inputs") in whole.stdout, whole.stdout


@pytest.mark.parametrize("between", [{"type": "conv", "W": "W2", "b": "b2"}, {"type": "pool", "f": 1,
                                                                            "mode": "average"}])
def test_each_layer_grades_a_max_pool_as_saved_through_a_conv_or_an_average_pool(tmp_path, between):
    """A review: the test above's regrading walked back through ReLUs only;
    with a 1x1 conv (or a 1x1 average pool) between the ReLU and the max
    pool, and its output not submitted, a submission consistent from a
    relu2.A an ulp off still failed pool4.dA_prev under --each-layer. By
    hand, as above: the raised element takes its window's whole gradient."""
    from test_cli_helpers import run, write

    import convcli as cc

    images = np.zeros((2, 8, 8, 1))
    images[:, 2:6, 2:6] = 1.0
    np.save(tmp_path / "x.npy", images)
    cfg = write(tmp_path, {"seed": 2, "inputs": {"A_prev": {"file": "x.npy"}, "W": {"value": [[[[1.0]]]]},
                                                 "b": {"value": [0.0]}, "W2": {"value": [[[[1.0]]]]},
                                                 "b2": {"value": [0.0]}},
                           "layers": [{"type": "conv", "W": "W", "b": "b"}, {"type": "relu"}, between,
                                      {"type": "pool", "f": 2}], "backward": {"grad": "ones"}})
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    key = {f.name[:-4]: np.load(f) for f in (tmp_path / "key").glob("*.npy")}
    Z = key["conv1.Z"].copy()
    Z[0, 2, 2, 0] = np.nextafter(Z[0, 2, 2, 0], np.inf)
    A = cc.relu_forward(Z)[0]
    if between["type"] == "conv":
        X, cache = cc.conv_forward(A, key["W2"], key["b2"], {})
    else:
        X, cache = cc.pool_forward(A, {"f": 1}, mode="average")
    P, pool_cache = cc.pool_forward(X, {"f": 2})
    dX = cc.pool_backward(np.ones_like(P), pool_cache)
    assert dX[0, 2:4, 2:4, 0].tolist() == [[1, 0], [0, 0]] and key["pool4.dA_prev"][0, 2:4, 2:4, 0].all()
    if between["type"] == "conv":
        dA, dW2, db2 = cc.conv_backward(dX, cache)
        more = {"conv3.dA_prev": dA, "conv3.dW": dW2, "conv3.db": db2}
    else:
        dA = cc.pool_backward(dX, cache, mode="average")
        more = {"pool3.dA_prev": dA}
    dZ = cc.relu_backward(dA, Z)
    dA_prev, dW, db = cc.conv_backward(dZ, cc.conv_forward(key["A_prev"], key["W"], key["b"], {})[1])
    sub = tmp_path / "sub"
    sub.mkdir()
    for name, a in {"conv1.Z": Z, "relu2.A": A, "pool4.A": P, "pool4.dA_prev": dX, **more, "relu2.dA_prev": dZ,
                    "conv1.dA_prev": dA_prev, "conv1.dW": dW, "conv1.db": db}.items():
        np.save(sub / f"{name}.npy", a)
    result = run(["check", cfg, "--against", sub, "--each-layer"])
    assert result.exit_code == 0, result.stdout


def float32_conv(tmp_path, A, W, g, *, allow_nonfinite=False, **layer):
    """A float32 config of one conv layer (``layer``: its hyperparameters)
    over ``A`` and ``W`` with the upstream gradient ``g``, saved as x.npy,
    W.npy and g.npy beside it, b zeros; returns its path."""
    from test_cli_helpers import write

    for name, a in (("x", A), ("W", W), ("g", g)):
        np.save(tmp_path / f"{name}.npy", a)
    data = {"dtype": "float32", "inputs": {"A_prev": {"file": "x.npy"}, "W": {"file": "W.npy"},
                                           "b": {"zeros": [W.shape[-1]]}},
            "layers": [{"type": "conv", "W": "W", "b": "b", **layer}], "backward": {"grad": {"file": "g.npy"}}}
    return write(tmp_path, {**data, "allow_nonfinite": True} if allow_nonfinite else data)


def halves(rng, shape, axis=1):
    """A float32 upstream gradient of magnitudes 0.5 to 1.5, positive on the
    first half along ``axis`` (H: every map's top half) and negative on the
    rest: a sum over it runs up before it cancels."""
    g = (rng.random(shape) + 0.5).astype(np.float32)
    g[(slice(None),) * axis + (slice(shape[axis] // 2, None),)] *= -1
    return g


def test_a_float32_dw_summed_in_another_order_passes_where_the_run_is_too_large_to_run_again(tmp_path, monkeypatch):
    """An instructor's review: convcli's own float32 dW from another thread
    setting (117,600 terms an element) failed 7 of 18,432 elements: a run
    too large to run again in float64 had no float32 rounding allowance,
    and elements near zero failed rtol. A dW's floor is now what a float32
    sum of its terms' magnitudes rounds by, bounded by the channel norms
    (Cauchy-Schwarz). Here a dW summed sample by sample in float32 (the
    notebook's loop order) passes; one sample's terms left out fails."""
    import convcli.check as check_module
    from test_cli_helpers import run

    monkeypatch.setattr(check_module, "BIAS_RERUN_MAX_BYTES", 0)  # as for a run too large to hold twice
    rng = np.random.default_rng(0)
    A = rng.standard_normal((64, 14, 14, 8)).astype(np.float32)
    dZ = rng.standard_normal((64, 14, 14, 16)).astype(np.float32)
    W = rng.standard_normal((3, 3, 8, 16)).astype(np.float32)
    cfg = float32_conv(tmp_path, A, W, dZ, pad=1)
    dW = np.zeros_like(W)
    Ap = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0)))  # each sample's dW by hand, in float32 (a review: not convcli's)
    parts = [np.stack([np.stack([np.einsum("hwc,hwk->ck", Ap[n, a:a + 14, c:c + 14], dZ[n]) for c in range(3)])
                       for a in range(3)]) for n in range(64)]
    assert parts[0].dtype == np.float32
    for part in parts:  # a float32 running sum, a sample at a time
        dW += part
    key = run(["backward", cfg, "--out", tmp_path / "key"])
    assert key.exit_code == 0
    ours = np.load(tmp_path / "key" / "conv1.dW.npy")
    assert not np.allclose(dW, ours, rtol=1e-4, atol=1e-5)  # past the default tolerance: rounding alone
    for name, a in (("right", dW), ("wrong", dW - parts[0])):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "conv1.dW.npy", a)
    assert run(["check", cfg, "--against", tmp_path / "right"]).exit_code == 0
    wrong = run(["check", cfg, "--against", tmp_path / "wrong"])
    assert wrong.exit_code == 1 and "FAIL conv1.dW.npy" in wrong.stdout


@pytest.mark.parametrize("quantity", ["dW", "db"])
def test_a_float32_running_sum_over_a_batch_sorted_by_sign_passes_and_one_sample_short_fails(tmp_path, quantity):
    """A review: the notebook's float32 loop (one running sum, position after
    position) over 64 images in [0, 1] whose upstream gradient is positive
    for the first half of the batch and negative for the second (a batch
    sorted by class) was off by 79 unit roundoffs of its terms' magnitudes:
    its partial sums grow to the order of the whole before they cancel, and
    round by as much. It failed against an allowance of 16. A db and a dW
    are now allowed what a running sum in the batch's order rounds by
    (check._running_sums: about 2.7 times the loop's error here). The
    exact sums, in float64, are the reference for how far off the loop is;
    the loop with one sample's terms left out still fails."""
    from test_cli_helpers import run

    rng = np.random.default_rng(0)
    m, H, f, C = 64, 28, 3, 8
    n_H = H - f + 1
    A = rng.random((m, H, H, 1)).astype(np.float32)
    g = np.abs(rng.standard_normal((m, n_H, n_H, C))).astype(np.float32)
    g[m // 2:] *= -1
    cfg = float32_conv(tmp_path, A, rng.standard_normal((f, f, 1, C)).astype(np.float32), g)

    def loop(samples):  # the notebook's: dW[..., c] += a_slice * dZ[i, h, w, c], db[c] += dZ[i, h, w, c]
        total = np.zeros((f, f, 1, C) if quantity == "dW" else C, np.float32)
        for i in samples:
            for h in range(n_H):
                for w in range(n_H):
                    total += A[i, h:h + f, w:w + f, :, None] * g[i, h, w] if quantity == "dW" else g[i, h, w]
        return total

    right = loop(range(m))
    A64, g64 = A.astype(np.float64), g.astype(np.float64)
    if quantity == "dW":
        exact = np.stack([np.stack([np.einsum("nhwc,nhwk->ck", A64[:, a:a + n_H, b:b + n_H], g64)
                                    for b in range(f)]) for a in range(f)])
        magnitudes = max(np.einsum("nhwc,nhwk->ck", A64[:, a:a + n_H, b:b + n_H], np.abs(g64)).max()
                         for a in range(f) for b in range(f))
    else:
        exact, magnitudes = g64.sum(axis=(0, 1, 2)), np.abs(g64).sum(axis=(0, 1, 2)).max()
    off = np.abs(right - exact).max() / (2.0 ** -24 * magnitudes)
    assert off > 16, off  # past the old allowance
    for name, value in (("right", right), ("wrong", loop(range(1, m)))):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / f"conv1.{quantity}.npy", value)
    passed = run(["check", cfg, "--against", tmp_path / "right"])
    assert passed.exit_code == 0, passed.stdout
    wrong = run(["check", cfg, "--against", tmp_path / "wrong"])
    assert wrong.exit_code == 1 and f"FAIL conv1.{quantity}.npy" in wrong.stdout, wrong.stdout


@pytest.mark.parametrize("quantity, H, W", [("db", 100, 100), ("dW", 200, 200), ("dW", 1, 40000)])
def test_a_float32_running_sum_over_the_positions_passes_and_one_sample_short_fails(tmp_path, quantity, H, W):
    """A review: a float32 backward that loops over the output positions
    with the batch summed at each (``db += dZ[:, h, w].sum(0)``, the usual
    half-vectorised one), over 64 samples whose upstream gradient is
    positive on their top half and negative below, was off by more than the
    running sums in the batch's order allow (db 0.74 against 0.61 at
    100x100 maps; dW 2.3 against 1.47 at 200x200): its partial sums run up
    over the rows before they cancel. The positions' order is now allowed
    too. The exact sums are float64's; by hand, the sample left out moves
    db by the sum of its gradient and dW by the sum of A times it. (At
    200x200 maps a db one sample short is within what the loop may round
    by: no allowance can tell them apart.) One row of 1x40000 maps, positive
    on its left half (a conv1d as 2-D), runs up inside the row: a later
    review found it off 2.30 against 1.47, dW's partial sums taken at the
    rows' edges only; now at runs of 64 positions."""
    from test_cli_helpers import run

    rng = np.random.default_rng(0)
    m, C = 64, 2
    A = rng.random((m, H, W, 1)).astype(np.float32)
    g = halves(rng, (m, H, W, C), axis=1 if H > 1 else 2)
    cfg = float32_conv(tmp_path, A, rng.standard_normal((1, 1, 1, C)).astype(np.float32), g)
    total = np.zeros(C if quantity == "db" else (1, C), np.float32)
    for h in range(H):
        for w in range(W):
            total += g[:, h, w].sum(axis=0) if quantity == "db" else A[:, h, w].T @ g[:, h, w]
    A64, g64 = A.astype(np.float64), g.astype(np.float64)
    exact = g64.sum(axis=(0, 1, 2)) if quantity == "db" else np.einsum("nhwc,nhwk->ck", A64, g64)
    assert np.abs(total - exact).max() > 0.5  # the loop's own rounding: far past the default atol
    s = 5
    short = total - (g64[s].sum(axis=(0, 1)) if quantity == "db" else np.einsum("hwc,hwk->ck", A64[s], g64[s]))
    shape = (C,) if quantity == "db" else (1, 1, 1, C)
    for name, a in {"right": total, "short": short}.items():
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / f"conv1.{quantity}.npy", np.asarray(a, np.float32).reshape(shape))
    passed = run(["check", cfg, "--against", tmp_path / "right"])
    assert passed.exit_code == 0, passed.stdout
    wrong = run(["check", cfg, "--against", tmp_path / "short"])
    assert wrong.exit_code == 1 and f"FAIL conv1.{quantity}.npy" in wrong.stdout, wrong.stdout


def test_a_float32_dw_without_a_small_input_channel_fails(tmp_path):
    """A review: a float32 dW's allowance was its largest element's for every
    element, so where one input channel is 100 times smaller than the
    other, that channel's dW left out (zeros) passed: the positions'
    running sums of the large channel allowed 15.4, the small one's dW is
    8.3. Each element is now allowed its own: the exact dW, by hand in
    float64, passes; without the small channel it fails, and says so."""
    import json

    from test_cli_helpers import run

    rng = np.random.default_rng(0)
    m, H, C = 64, 200, 2
    A = rng.random((m, H, H, 2)).astype(np.float32)
    A[..., 1] *= 0.01
    g = halves(rng, (m, H, H, C))
    cfg = float32_conv(tmp_path, A, rng.standard_normal((1, 1, 2, C)).astype(np.float32), g)
    exact = np.einsum("nhwc,nhwk->ck", A.astype(np.float64), g.astype(np.float64))
    without = exact.copy()
    without[1] = 0.0
    for name, a in (("right", exact), ("without", without)):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "conv1.dW.npy", a.astype(np.float32).reshape(1, 1, 2, C))
    assert run(["check", cfg, "--against", tmp_path / "right"]).exit_code == 0
    (o,) = json.loads(run(["check", cfg, "--against", tmp_path / "without", "--json"]).stdout)["against"]
    assert o["status"] == "fail" and o["first_index"] == [0, 0, 1, 0] and o["atol"] > np.abs(exact[1]).max(), o
    assert "each element is allowed float32's rounding of its own terms" in o["note"] and not o["hints"], o


def test_a_float32_db_keeps_its_allowance_beside_a_channel_of_nan(tmp_path):
    """A review: one NaN in one channel of dZ dropped the float32 allowance
    of every channel, so the notebook's float32 running db of a channel that
    cancels (off the exact sum by ~0.26, plain rounding) failed at atol
    1e-5. A channel's NaN leaves the others theirs. The exact sums are
    float64's; the running sum is np.cumsum's in float32, as the loop's."""
    from test_cli_helpers import run

    rng = np.random.default_rng(3)
    m, H, C = 32, 32, 2
    g = (1000 * rng.standard_normal((m, H, H, C)) + 1000).astype(np.float32)
    g[..., 1] -= g[..., 1].mean(dtype=np.float64)
    g[0, 0, 0, 0] = np.nan
    A = rng.standard_normal((m, H, H, 2)).astype(np.float32)
    cfg = float32_conv(tmp_path, A, rng.standard_normal((1, 1, 2, C)).astype(np.float32), g, allow_nonfinite=True)
    running = np.cumsum(g.reshape(-1, C), axis=0, dtype=np.float32)[-1]  # the notebook's db += dZ[i, h, w]
    exact = g.astype(np.float64).sum(axis=(0, 1, 2))
    assert np.isnan(running[0]) and abs(running[1] - exact[1]) > 0.05  # rounding alone, far past atol 1e-5
    (tmp_path / "mine").mkdir()
    np.save(tmp_path / "mine" / "conv1.db.npy", running)
    result = run(["check", cfg, "--against", tmp_path / "mine"])
    assert result.exit_code == 0, result.stdout
    np.save(tmp_path / "mine" / "conv1.db.npy", running - np.float32([0, g[5, ..., 1].sum(dtype=np.float64)]))
    wrong = run(["check", cfg, "--against", tmp_path / "mine"])  # a sample's terms left out: still fails
    assert wrong.exit_code == 1 and "FAIL conv1.db.npy" in wrong.stdout, wrong.stdout


def test_a_float32_dw_s_measured_allowance_is_each_element_s_and_its_picture_draws_them(tmp_path, monkeypatch):
    """A review: the measured part of a float32 dW's allowance (16 times the
    float32 run's largest difference from float64's) stayed the largest
    element's for every one, so with an input channel 1e-5 the size of the
    other, 31 of the 36 elements of that channel's dW left out passed; and
    --plot, given the largest atol, drew "no quantity differs". The
    measured part is scaled to each element's terms now: all 36 fail, the
    picture is handed each element's atol, and PyTorch's float32 dW passes."""
    from conftest import import_torch

    torch = import_torch()
    import json

    import convcli.plot as plots
    from test_cli_helpers import run

    rng = np.random.default_rng(1)
    m, H, C = 16, 32, 4
    A = rng.standard_normal((m, H, H, 2)).astype(np.float32)
    A[..., 1] *= 1e-5
    W, g = rng.standard_normal((3, 3, 2, C)).astype(np.float32), rng.standard_normal((m, H, H, C)).astype(np.float32)
    cfg = float32_conv(tmp_path, A, W, g, pad=1)

    def torch_dw(dtype):
        w = torch.tensor(W.transpose(3, 2, 0, 1), dtype=dtype, requires_grad=True)
        z = torch.nn.functional.conv2d(torch.tensor(A.transpose(0, 3, 1, 2), dtype=dtype), w, padding=1)
        z.backward(torch.tensor(g.transpose(0, 3, 1, 2), dtype=dtype))
        return w.grad.numpy().transpose(2, 3, 1, 0)

    right, without = torch_dw(torch.float32), torch_dw(torch.float64)
    without[:, :, 1, :] = 0.0
    for name, a in (("right", right), ("without", without)):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "conv1.dW.npy", a.astype(np.float32))
    assert run(["check", cfg, "--against", tmp_path / "right"]).exit_code == 0
    drawn = {}
    original = plots.plot_differences

    def spy(pairs, path, **kw):
        drawn.update(kw["atols"])
        return original(pairs, path, **kw)

    monkeypatch.setattr(plots, "plot_differences", spy)
    result = run(["check", cfg, "--against", tmp_path / "without", "--json", "--plot", tmp_path / "p.png"])
    (o,) = json.loads(result.stdout)["against"]
    assert o["status"] == "fail" and o["n_differ"] == 3 * 3 * C, o
    tol = np.asarray(drawn["conv1.dW"])
    assert tol.shape == W.shape and tol[:, :, 1].max() < 1e-3 * tol.max(), tol


def test_pytorch_s_float32_da_prev_passes_where_the_run_is_too_large_to_run_again(tmp_path, monkeypatch):
    """A streaming review: a float32 run too large to run again in float64
    (BIAS_RERUN_MAX_BYTES) had no float32 allowance for dA_prev, and the
    streamed run's own dA_prev (from smaller products) failed 45 of
    4,915,200 elements in memory, where its terms cancelled. PyTorch's
    float32 dA_prev (another order: oneDNN's) is the independent one here;
    a dA_prev is now allowed max(16, sqrt(n)) unit roundoffs of a bound on
    its n terms' magnitudes (n = 3*3*64: 24). Without one output channel's
    terms it still fails."""
    from conftest import import_torch
    from test_cli_helpers import run

    torch = import_torch()
    import convcli.check as check_module

    monkeypatch.setattr(check_module, "BIAS_RERUN_MAX_BYTES", 0)  # as for a run too large to hold twice
    rng = np.random.default_rng(2)
    A = rng.standard_normal((8, 12, 12, 4)).astype(np.float32)
    W = rng.standard_normal((3, 3, 4, 64)).astype(np.float32)
    g = (1000 * rng.standard_normal((8, 12, 12, 64))).astype(np.float32)  # terms of 1e3: cancelling sums
    cfg = float32_conv(tmp_path, A, W, g, pad=1)

    def torch_da(weights):
        x = torch.tensor(A.transpose(0, 3, 1, 2), dtype=torch.float32, requires_grad=True)
        z = torch.nn.functional.conv2d(x, torch.tensor(weights.transpose(3, 2, 0, 1), dtype=torch.float32),
                                       padding=1)
        z.backward(torch.tensor(g.transpose(0, 3, 1, 2), dtype=torch.float32))
        return x.grad.numpy().transpose(0, 2, 3, 1)

    right, short = torch_da(W), torch_da(np.concatenate([W[..., :63], 0 * W[..., 63:]], axis=-1))
    x64 = torch.tensor(A.transpose(0, 3, 1, 2), dtype=torch.float64, requires_grad=True)
    torch.nn.functional.conv2d(x64, torch.tensor(W.transpose(3, 2, 0, 1), dtype=torch.float64),
                               padding=1).backward(torch.tensor(g.transpose(0, 3, 1, 2), dtype=torch.float64))
    exact = x64.grad.numpy().transpose(0, 2, 3, 1)
    assert not np.allclose(right, exact, rtol=1e-4, atol=1e-5)  # past float32's default tolerance: rounding alone
    for name, a in (("right", right), ("short", short)):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "conv1.dA_prev.npy", a)
    passed = run(["check", cfg, "--against", tmp_path / "right"])
    assert passed.exit_code == 0, passed.stdout
    wrong = run(["check", cfg, "--against", tmp_path / "short"])
    assert wrong.exit_code == 1 and "FAIL conv1.dA_prev.npy" in wrong.stdout, wrong.stdout


def test_a_float32_dw_and_db_one_sample_short_of_a_large_batch_fail(tmp_path):
    """A review: an allowance that grew as sqrt(n) unit roundoffs of the
    terms' magnitudes (n terms) passed a dW and a db one sample short of
    200,000 samples of 1x1 maps (allowed 4.26; off by 2.9 and 1.6), where a
    float32 running sum is off by ~0.006. The allowance follows the partial
    sums in the batch's order instead. The exact sums are float64's; by
    hand, the sample left out moves dW[..., c, k] by A[s, c] * g[s, k]."""
    from test_cli_helpers import run

    rng = np.random.default_rng(0)
    m, C_in, C = 200000, 16, 4
    A = rng.standard_normal((m, 1, 1, C_in)).astype(np.float32)
    g = rng.standard_normal((m, 1, 1, C)).astype(np.float32)
    cfg = float32_conv(tmp_path, A, rng.standard_normal((1, 1, C_in, C)).astype(np.float32), g)
    a, d = A[:, 0, 0].astype(np.float64), g[:, 0, 0].astype(np.float64)
    dW, db = (a.T @ d)[None, None], d.sum(axis=0)
    s = 12345
    for name, (w, b) in {"right": (dW, db), "short": (dW - np.outer(a[s], d[s])[None, None], db - d[s])}.items():
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "conv1.dW.npy", w.astype(np.float32))
        np.save(tmp_path / name / "conv1.db.npy", b.astype(np.float32))
    import json

    assert run(["check", cfg, "--against", tmp_path / "right"]).exit_code == 0
    short = json.loads(run(["check", cfg, "--against", tmp_path / "short", "--json"]).stdout)["against"]
    assert {o["quantity"]: o["status"] for o in short} == {"conv1.dW": "fail", "conv1.db": "fail"}, short


@pytest.mark.parametrize("hp", [{"pad": 1}, {"stride": 2, "pad": [0, 2, 1, 3]}, {"dilation": [2, 3], "pad": "same"},
                                {"stride": [3, 1], "dilation": 2}])
@pytest.mark.parametrize("row_bytes, row_block", [(1, 64), (1 << 20, 64), (1 << 20, 2)])
def test_the_output_rows_shares_of_dw_sum_to_pytorch_s(hp, row_bytes, row_block, monkeypatch):
    """The positions' running sums (check._position_sums) take dW's partial
    sums a run of up to ROW_BLOCK positions of an output row at a time: the
    runs' shares, over padding, strides and dilations, a few samples at a
    time or all at once, whole rows or runs of 2, add up to PyTorch's
    float64 dW, each row's runs cover its positions once, and an output
    row whose gradient is all zeros has zero shares."""
    from conftest import import_torch

    torch = import_torch()
    import convcli.check as check_module
    from convcli.hparams import conv_geometry

    monkeypatch.setattr(check_module, "ROW_SHARE_BYTES", row_bytes)
    monkeypatch.setattr(check_module, "ROW_BLOCK", row_block)
    rng = np.random.default_rng(1)
    A, W = rng.standard_normal((5, 9, 11, 3)), rng.standard_normal((3, 2, 3, 4))
    g = conv_geometry(A, W, np.zeros(4), hp)
    dZ = rng.standard_normal(g.out_shape)
    dZ[:, 1] = 0.0
    runs = -(-g.n_W // min(row_block, g.n_W))  # a row's
    shares = list(check_module._dw_by_row(A, dZ, g))
    assert len(shares) == g.n_H * runs and sum(n for n, _ in shares) == g.n_H * g.n_W
    assert not any(share.any() for _, share in shares[runs:2 * runs])
    rows = [share for _, share in shares]
    x = torch.tensor(A.transpose(0, 3, 1, 2))
    w = torch.tensor(W.transpose(3, 2, 0, 1), requires_grad=True)
    t, bo, le, ri = g.pad
    z = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (le, ri, t, bo)), w, stride=(g.s_H, g.s_W),
                                   dilation=(g.d_H, g.d_W))
    z.backward(torch.tensor(dZ.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(sum(rows), w.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-12, atol=1e-12)


def test_the_output_rows_shares_of_dw_hold_what_row_share_bytes_allows(monkeypatch):
    """A review: only the unfolded windows counted against ROW_SHARE_BYTES,
    so a 1x1 conv to 256 channels took its float64 dZ rows whole for every
    sample (192 MiB for 4096 samples). At 1 MiB, the rows' float64 copies
    here (48 KiB a sample) stay within it, a few MiB in all with the
    shares themselves (128 KiB each), where all 256 samples' dZ rows alone
    are 8 MiB."""
    import tracemalloc

    import convcli.check as check_module
    from convcli.hparams import conv_geometry

    monkeypatch.setattr(check_module, "ROW_SHARE_BYTES", 1 << 20)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((256, 16, 16, 64)).astype(np.float32)
    dZ = rng.standard_normal((256, 16, 16, 256)).astype(np.float32)
    g = conv_geometry(A, np.zeros((1, 1, 64, 256), np.float32), np.zeros(256), {})
    tracemalloc.start()
    try:
        rows = sum(1 for _ in check_module._dw_by_row(A, dZ, g))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rows == 16 and peak < 3 << 20, peak


def test_a_float32_running_sum_that_runs_up_inside_one_sample_passes(tmp_path):
    """A review: partial sums taken at the edges of blocks of samples missed
    a sum that runs up and cancels inside one sample (one 200x200 map whose
    upstream gradient is positive on its top half and negative on the
    bottom): the notebook's float32 running db failed (off 0.133, allowed
    0.038). db's partial sums are now every one of them, and a batch of
    fewer samples than blocks allows dW what runs up inside a sample. The
    running sums are np.cumsum's in float32 (sequential, as the loop is)."""
    from test_cli_helpers import run

    rng = np.random.default_rng(0)
    H, C = 200, 2
    A = rng.random((1, H, H, 1)).astype(np.float32)
    g = halves(rng, (1, H, H, C))
    cfg = float32_conv(tmp_path, A, rng.standard_normal((1, 1, 1, C)).astype(np.float32), g)
    terms_b = g.reshape(-1, C)
    terms_W = A.reshape(-1, 1) * terms_b
    db = np.cumsum(terms_b, axis=0, dtype=np.float32)[-1]
    dW = np.cumsum(terms_W, axis=0, dtype=np.float32)[-1].reshape(1, 1, 1, C)
    exact = terms_b.astype(np.float64).sum(axis=0)
    assert np.abs(db - exact).max() > 16 * 2.0 ** -24 * np.abs(terms_b).astype(np.float64).sum(axis=0).max()
    (tmp_path / "mine").mkdir()
    np.save(tmp_path / "mine" / "conv1.db.npy", db)
    np.save(tmp_path / "mine" / "conv1.dW.npy", dW)
    result = run(["check", cfg, "--against", tmp_path / "mine"])
    assert result.exit_code == 0, result.stdout
    (tmp_path / "wrong").mkdir()  # the bottom half's terms left out
    np.save(tmp_path / "wrong" / "conv1.db.npy", np.cumsum(terms_b[:H * H // 2], axis=0, dtype=np.float32)[-1])
    wrong = run(["check", cfg, "--against", tmp_path / "wrong"])
    assert wrong.exit_code == 1 and "FAIL conv1.db.npy" in wrong.stdout, wrong.stdout


def test_a_float32_pass_by_its_rounding_allowance_alone_says_float32_cannot_grade_it(tmp_path):
    """A review: where an array of zeros passed by float32's allowance (a db
    whose dZ cancels to ~1e-6 of its terms), the note said 'within atol of
    0: --atol X grades at this array's scale', and at that --atol said the
    same again: no --atol lifts the allowance. Bounded by hand: dZ's
    channels cancel to within float32's rounding (their float64 mean taken
    off, then rounded), so each db is at most ~1e-5 of its channel's sum of
    |dZ| (~57), under the allowance of 16 unit roundoffs of that (5e-5)."""
    import json

    from test_cli_helpers import run

    rng = np.random.default_rng(3)
    g = rng.standard_normal((2, 6, 6, 8))
    g = (g - g.mean(axis=(0, 1, 2))).astype(np.float32)
    cfg = float32_conv(tmp_path, rng.standard_normal((2, 6, 6, 3)).astype(np.float32),
                       rng.standard_normal((3, 3, 3, 8)).astype(np.float32), g, pad=1)
    db = np.abs(g.astype(np.float64).sum(axis=(0, 1, 2)))
    sums = np.abs(g.astype(np.float64)).sum(axis=(0, 1, 2))
    assert 0 < db.max() < 1e-5 and np.all(16 * 2.0 ** -24 * sums > db)  # the premise: zeros within the allowance
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "conv1.db.npy", np.zeros(8, np.float32))
    # within the given atol too, whose note offers no --atol (a later review: at that --atol, the allowance)
    for atol in ("1e-5", "1e-10"):
        (o,) = json.loads(run(["check", cfg, "--against", sub, "--atol", atol, "--json"]).stdout)["against"]
        assert o["passed"] and o["hints"] == ["atol_dominates"], o
        assert "within float32's rounding of its terms of 0" in o["note"] and "--atol" not in o["note"], o["note"]
        assert o["note"].endswith("float32 cannot grade this array (its terms round by more than it holds); a "
                                  "float64 array against a float64 run (--dtype float64) can be graded"), o["note"]
    # a float64 run grades it: zeros fail there
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--atol", "1e-10", "--dtype", "float64",
                           "--json"]).stdout)["against"]
    assert not o["passed"], o


def test_an_unknown_name_near_no_quantity_is_offered_the_quantities_of_its_shape(tmp_path):
    """Session 34's Left: ``Z1.npy`` (the course's Z of layer 1) was told
    'unknown quantity' and the list of all known ones. A name near no
    quantity is now offered those of its array's shape, the ones whose last
    word its name has first; none where more than three fit, or none."""
    import json

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "stack.yaml"  # conv1 (4, 8, 8, 4), relu2, pool3 (4, 4, 4, 4)
    sub = tmp_path / "sub"
    sub.mkdir()
    for name, shape in (("Z1", (4, 8, 8, 4)), ("my_dW", (3, 3, 3, 4)), ("output", (4, 4, 4, 4)),
                        ("result", (4, 8, 8, 4)), ("A_out", (4, 8, 8, 4)), ("weights", (5, 5))):
        np.save(sub / f"{name}.npy", np.zeros(shape))
    np.save(sub / "conv1.db.npy", np.zeros(4))
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    notes = {u["entry"]: u["note"] for u in doc["unknown"]}
    assert notes["Z1.npy"].startswith("unknown quantity 'Z1' (did you mean 'conv1.Z', of its shape (4, 8, 8, 4)?)")
    assert "did you mean 'conv1.dW', of its shape (3, 3, 3, 4)?" in notes["my_dW.npy"]
    # pool3.A alone has (4, 4, 4, 4) among the computed (pool3.dA is the config's upstream gradient)
    assert "did you mean 'pool3.A', of its shape (4, 4, 4, 4)?" in notes["output.npy"]
    # four of (4, 8, 8, 4): conv1.Z, relu2.A, relu2.dA_prev, pool3.dA_prev; A_out's word A narrows them to one
    assert "did you mean 'relu2.A', of its shape (4, 8, 8, 4)?" in notes["A_out.npy"], notes["A_out.npy"]
    for name in ("result.npy", "weights.npy"):  # more than three fit, or none
        assert "did you mean" not in notes[name] and "; known: " in notes[name], notes[name]
    # a copy of what the config gives (the input's shape is its gradient's too): no gradient offered (a review)
    for name, shape in (("X", (4, 8, 8, 3)), ("kernel", (3, 3, 3, 4))):
        np.save(sub / f"{name}.npy", np.ones(shape))
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    notes = {u["entry"]: u["note"] for u in doc["unknown"]}
    for name in ("X.npy", "kernel.npy"):
        assert "did you mean" not in notes[name], notes[name]


def test_a_single_samples_chw_array_is_told_the_transpose_and_reshape_that_fix_it(tmp_path):
    """A learner's review: dA_prev of a batch of one saved as its sample's
    (C, H, W), (3, 5, 5) where convcli's is (1, 5, 5, 3), got no hint (a
    flattened Z got its reshape). The arrays are the key's own, relaid by
    hand; the fix the hint gives is applied and must pass."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [1, 5, 5, 3]}\n  W: {random: [3, 3, 3, 2]}\n"
                          "  b: {zeros: [2]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n"
                          "backward: {grad: output}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    dA = np.load(tmp_path / "key" / "conv1.dA_prev.npy")
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "dA.npy", dA[0].transpose(2, 0, 1))
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert not o["passed"] and o["hints"] == ["axis_order"], o
    said = "save yours.transpose(1, 2, 0).reshape(1, 5, 5, 3)"
    assert o["note"].endswith("yours is convcli's with its axes of length 1 dropped and the others in another "
                              f"order: {said}"), o["note"]
    np.save(sub / "dA.npy", np.load(sub / "dA.npy").transpose(1, 2, 0).reshape(1, 5, 5, 3))
    assert json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"][0]["passed"]
    # a dW with an axis of length 1 added (a review: told 'moved'): the reshape and transpose that fix it
    dW = np.load(tmp_path / "key" / "conv1.dW.npy")  # (3, 3, 3, 2)
    np.save(sub / "dW.npy", dW.transpose(3, 0, 1, 2)[:, None])  # (2, 1, 3, 3, 3)
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    (o,) = [o for o in doc["against"] if o["quantity"] == "conv1.dW"]
    assert o["note"].endswith("yours is convcli's with its axes of length 1 added and the others in another order: "
                              "save yours.reshape(2, 3, 3, 3).transpose(1, 2, 3, 0).reshape(3, 3, 3, 2)"), o["note"]
    (sub / "dW.npy").unlink()
    # other numbers of that shape: no such hint
    np.save(sub / "dA.npy", dA[0].transpose(2, 0, 1) + 1)
    (o,) = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)["against"]
    assert not o["passed"] and o["hints"] == [] and "transpose" not in o["note"], o


def _relu_pool_stack(tmp_path):
    """conv 3x3 pad 1 -> relu -> max pool 2 stride 1, grad: output, over
    (4, 5, 5, 3) inputs drawn from a seed; returns (config, the key's arrays
    by quantity, from convcli's backward)."""
    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [4, 5, 5, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n  - {type: relu}\n"
                          "  - {type: pool, f: 2, stride: 1}\nbackward: {grad: output}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    names = ["conv1.Z", "relu2.A", "pool3.A", "conv1.dA_prev", "conv1.dW", "conv1.db", "relu2.dA_prev",
             "pool3.dA_prev"]
    return cfg, {q: np.load(tmp_path / "key" / f"{q}.npy") for q in names}


def _save_all(folder, arrays):
    folder.mkdir(exist_ok=True)
    for q, a in arrays.items():
        np.save(folder / f"{q}.npy", a)


def test_each_layer_grades_no_layer_on_an_input_of_yours_it_makes_nothing_of(tmp_path):
    """An instructor's review: layer by layer, a conv1.Z all negative (a
    ReLU then makes zeros of it whatever it does) and zeros for every other
    array passed 7 of 8; and the forward right but pool3.A times 1e-12
    (grad: output: the backward's upstream gradient) passed zeros for every
    gradient. A layer whose results made of an input of theirs are all
    within atol of 0, where convcli's are not, is graded on convcli's
    input, and said: both submissions fail every array they got wrong."""
    import json

    from test_cli_helpers import run

    cfg, key = _relu_pool_stack(tmp_path)
    zeros = {q: np.zeros_like(a) for q, a in key.items()}
    _save_all(tmp_path / "neg", {**zeros, "conv1.Z": -np.abs(key["conv1.Z"]) - 0.01})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "neg", "--each-layer", "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert not any(o["passed"] for o in by.values()), {q: o["note"] for q, o in by.items() if o["passed"]}
    assert ("graded on convcli's conv1.Z: yours, (4, 5, 5, 4), makes every element of relu2.A within atol of 0, "
            "where convcli's are not: it tests nothing") in by["relu2.A"]["note"], by["relu2.A"]["note"]
    # one NaN among them changes nothing (a review: it let 5 of 8 pass; the finite elements are looked at)
    Z = -np.abs(key["conv1.Z"]) - 0.01
    Z[0, 0, 0, 0] = np.nan
    _save_all(tmp_path / "neg", {"conv1.Z": Z})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "neg", "--each-layer", "--json"]).stdout)
    assert not any(o["passed"] for o in doc["against"]), [o for o in doc["against"] if o["passed"]]
    faint = {**key, "pool3.A": key["pool3.A"] * 1e-12}
    _save_all(tmp_path / "faint", {**faint, **{q: zeros[q] for q in key if "." in q and q.split(".")[1][0] == "d"}})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "faint", "--each-layer", "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert sorted(q for q, o in by.items() if o["passed"]) == ["conv1.Z", "relu2.A"], by
    assert "makes every element of pool3.dA_prev within atol of 0" in by["pool3.dA_prev"]["note"], by
    # (no slip of the faint gradient's; and its zeros are what the layer makes of theirs: no 'was it filled?')
    assert by["pool3.dA_prev"]["hints"] == ["convcli_input"], by["pool3.dA_prev"]
    assert ("yours is all zeros, what the layer makes of your input to it (graded on convcli's instead)"
            in by["pool3.dA_prev"]["note"]), by["pool3.dA_prev"]["note"]
    # the right arrays still pass layer by layer, with nothing said
    _save_all(tmp_path / "right", key)
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "right", "--each-layer", "--json"]).stdout)
    assert all(o["passed"] and not o["note"] for o in doc["against"]), doc["against"]


def test_each_layer_says_which_elements_a_nan_of_yours_left_ungraded_and_explains_no_all_nan_array(tmp_path):
    """An instructor's review, layer by layer: a ReLU's output with the NaN
    of its Z carried through passed, error 0, nothing said (its NaN element
    matches convcli's NaN made of the same input); and an all-NaN dW, made
    of an upstream gradient with a NaN in each sample's every channel, was
    told 'the last sample's dW alone' (that dW is all NaN too). Now the
    NaN elements are counted as not graded, and an all-NaN array gets the
    NaN note, no slip."""
    import json

    from test_cli_helpers import run

    cfg, key = _relu_pool_stack(tmp_path)
    Z = key["conv1.Z"].copy()
    Z[0, 0, 0, 0] = np.nan
    g = key["relu2.dA_prev"].copy()
    g[:, 0, 0, :] = np.nan  # every sample, every channel: each dW element sums over one
    _save_all(tmp_path / "sub", {"conv1.Z": Z, "relu2.A": Z * (Z > 0), "relu2.dA_prev": g,
                                 "conv1.dW": np.full_like(key["conv1.dW"], np.nan)})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--each-layer", "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert by["relu2.A"]["passed"] and by["relu2.A"]["note"].endswith(
        "1 of its 400 elements is NaN in convcli's too, made of the NaN in the input of yours the layer took (the "
        "whole run's is a number there): it is not graded"), by["relu2.A"]
    assert not by["conv1.dW"]["passed"] and by["conv1.dW"]["hints"] == ["nan_in_yours", "convcli_input"], by["conv1.dW"]
    assert "graded on convcli's relu2.dA_prev" in by["conv1.dW"]["note"], by["conv1.dW"]["note"]
    # a ReLU that makes the NaN a 0 (np.where(Z > 0, Z, 0)) fails there, and is not told it is NaN too (a review)
    np.save(tmp_path / "sub" / "relu2.A.npy", np.where(Z > 0, Z, 0))
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--each-layer", "--json"]).stdout)
    (o,) = [o for o in doc["against"] if o["quantity"] == "relu2.A"]
    assert not o["passed"] and "in convcli's too" not in o["note"], o


def test_the_ulps_look_tries_the_first_elements_first_and_still_reads_them_all():
    """_within_ulps looks at its first ULPS_HEAD elements first (a wrong
    submission's check spent half its time rounding whole arrays for the
    decimals hint): one element past them an ulp too far is still found,
    NaN still matches NaN, and _decimals still finds a rounding."""
    from convcli.check import ULPS_HEAD, _decimals, _within_ulps

    rng = np.random.default_rng(0)
    x = rng.standard_normal(3 * ULPS_HEAD)
    x[7] = np.nan
    assert _within_ulps(x.copy(), x, 1, np.dtype(np.float64))
    far = x.copy()
    far[2 * ULPS_HEAD + 3] = np.nextafter(np.nextafter(x[2 * ULPS_HEAD + 3], np.inf), np.inf)  # two ulps
    assert not _within_ulps(far, x, 1, np.dtype(np.float64)) and _within_ulps(far, x, 2, np.dtype(np.float64))
    rounded = np.round(x, 3)
    assert _decimals(rounded, x) == 3
    rounded[-1] = x[-1]  # the last element left unrounded (a normal draw: not a number of 8 places or fewer)
    assert _decimals(rounded, x) is None


def test_a_copy_of_an_input_that_differs_is_a_maybe_where_what_follows_from_it_passed(tmp_path):
    """An instructor's review: a submission with an A_prev.npy from another
    seed, whose Z, relu and pool (made of A_prev) passed and whose dW was
    off by 1, was told 'yours follow from other inputs: your A_prev is not
    the config's'. Those passing arrays were made of the config's A_prev:
    the copy is a cause only if the dW was made of it (a later review: a
    notebook's backward cell may have read the copy), and said so. Where
    nothing made of it passes, it is the cause."""
    import json

    from test_cli_helpers import run

    cfg, key = _relu_pool_stack(tmp_path)
    other = np.random.default_rng(9).standard_normal((4, 5, 5, 3))
    _save_all(tmp_path / "sub", {**key, "A_prev": other, "conv1.dW": key["conv1.dW"] + 1})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json"]).stdout)
    (o,) = [o for o in doc["against"] if not o["passed"]]
    assert o["quantity"] == "conv1.dW" and o["hints"] == ["other_inputs"], o
    assert o["note"].endswith("yours may follow from other inputs: your A_prev is not the config's, though your "
                              "conv1.Z, made of it, passes: if this one was made of your copy, that is why"), o["note"]
    # every array off: none shows that the config's A_prev was used, and the copy is named as the cause
    _save_all(tmp_path / "sub2", {q: a + 1 for q, a in key.items()} | {"A_prev": other})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub2", "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert "other_inputs" in by["conv1.dW"]["hints"], by["conv1.dW"]


def test_gradients_made_under_another_padding_of_the_same_output_size_say_which(tmp_path):
    """An instructor's review: a stride-2 'same' conv on 9x9 maps padded
    [2, 0, 2, 0] (top and left only: the same 5x5 output) had its Z told
    so, and its dA_prev and dW, made by the same padding, nothing. Both are
    the learner's loops here, written out by hand over that padding."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 4\ninputs:\n  A_prev: {random: [3, 9, 9, 3]}\n  W: {random: [3, 3, 3, 5]}\n"
                          "  b: {random: [5]}\nlayers:\n  - {type: conv, W: W, b: b, stride: 2, pad: same}\n"
                          "backward:\n  grad: {random: [3, 5, 5, 5]}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    A, W, dZ = (np.load(tmp_path / "key" / f"{q}.npy") for q in ("A_prev", "W", "conv1.dZ"))
    A_pad = np.pad(A, ((0, 0), (2, 0), (2, 0), (0, 0)))  # (3, 11, 11, 3): floor((11 - 3) / 2) + 1 = 5
    dA_pad, dW = np.zeros_like(A_pad), np.zeros_like(W)
    for i in range(3):
        for h in range(5):
            for w in range(5):
                for c in range(5):
                    window = np.s_[i, 2 * h:2 * h + 3, 2 * w:2 * w + 3, :]
                    dA_pad[window] += W[..., c] * dZ[i, h, w, c]
                    dW[..., c] += A_pad[window] * dZ[i, h, w, c]
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "conv1.dA_prev.npy", dA_pad[:, 2:, 2:, :])
    np.save(sub / "conv1.dW.npy", dW)
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    for o in doc["against"]:
        assert not o["passed"] and o["hints"] == ["geometry"], o
        assert o["note"].endswith("yours is the gradient pad [2, 0, 2, 0] (top and left only) makes (of conv1's "
                                  "input and upstream gradient); the config's pad is same (1)"), o["note"]
    # the right gradients (the same loops over the padding same gives, 1 on each side) pass with no hint
    np.save(sub / "conv1.dA_prev.npy", np.load(tmp_path / "key" / "conv1.dA_prev.npy"))
    dW[...] = 0
    A_pad = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0)))
    for i in range(3):
        for h in range(5):
            for w in range(5):
                dW += A_pad[i, 2 * h:2 * h + 3, 2 * w:2 * w + 3, :, None] * dZ[i, h, w]
    np.save(sub / "conv1.dW.npy", dW)
    doc = json.loads(run(["check", cfg, "--against", sub, "--json"]).stdout)
    assert all(o["passed"] and not o["hints"] for o in doc["against"]), doc["against"]


def test_each_layer_scales_float32s_allowance_to_what_the_layer_made_of_yours(tmp_path):
    """An adversarial review: layer by layer in float32, a pool gradient of
    theirs 3e-6 of convcli's made conv1's gradients ~1e-4, and the whole
    run's float32 allowance (9e-4) passed a dW and a db of zeros. The
    allowance now scales with what the layer made of theirs; a dW summed
    in float32 in another order (einsum over their gradient) still passes."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 5\ndtype: float32\ninputs:\n  A_prev: {random: [4, 16, 16, 3]}\n"
                          "  W1: {random: [3, 3, 3, 4]}\n  b1: {random: [4]}\nlayers:\n"
                          "  - {type: conv, W: W1, b: b1, pad: 1}\n  - {type: relu}\n  - {type: pool, f: 2}\n"
                          "backward:\n  grad: random\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    key = {q: np.load(tmp_path / "key" / f"{q}.npy") for q in ("A_prev", "conv1.Z", "relu2.A", "pool3.A",
                                                               "pool3.dA_prev")}
    dR = key["pool3.dA_prev"] * np.float32(3e-6)
    dZ = np.where(key["conv1.Z"] > 0, dR, 0).astype(np.float32)
    A_pad = np.pad(key["A_prev"], ((0, 0), (1, 1), (1, 1), (0, 0)))
    windows = np.stack([np.stack([A_pad[:, i:i + 16, j:j + 16] for j in range(3)], 1) for i in range(3)], 1)
    dW = np.einsum("nijhwc,nhwk->ijck", windows, dZ).astype(np.float32)  # float32 sums, numpy's order
    sub = tmp_path / "sub"
    _save_all(sub, {q: key[q] for q in ("conv1.Z", "relu2.A", "pool3.A")} | {
        "pool3.dA_prev": dR, "relu2.dA_prev": dZ, "conv1.dW": np.zeros_like(dW)})
    assert 1e-5 < np.abs(dW).max() < 1e-3  # the premise: above atol, under the whole run's allowance
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--each-layer",
                                                     "--json"]).stdout)["against"]}
    assert not by["conv1.dW"]["passed"], by["conv1.dW"]
    np.save(sub / "conv1.dW.npy", dW)
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", sub, "--each-layer",
                                                     "--json"]).stdout)["against"]}
    assert by["conv1.dW"]["passed"], by["conv1.dW"]


def test_each_layer_grades_no_layer_on_an_input_of_yours_it_cannot_tell_from_a_slip(tmp_path):
    """An adversarial review: layer by layer, a conv1.Z of zeros but one
    element (one fail) let a ReLU that is the identity, a max pool that
    sums its windows and a conv backward with = for += pass 7 of 8: on
    that Z the right layers make just what those slips do. An input of
    theirs on which the layer cannot be told from a slip, where convcli's
    can, is replaced by convcli's, and said. The slips are written out by
    hand here."""
    import json

    from test_cli_helpers import run

    cfg, key = _relu_pool_stack(tmp_path)  # conv 3x3 pad 1 -> relu -> max pool 2 stride 1, grad: output
    Z = np.zeros((4, 5, 5, 4))
    Z[1, 4, 4, 3] = 5.0
    sums = sum(Z[:, i:i + 4, j:j + 4] for i in range(2) for j in range(2))  # the pool that sums its windows
    A_pad = np.pad(np.load(tmp_path / "key" / "A_prev.npy"), ((0, 0), (1, 1), (1, 1), (0, 0)))
    dZ = np.zeros((4, 5, 5, 4))
    dZ[3, 4, 4] = [1.0, 0.0, -2.0, 0.5]  # 0 but in the last sample's last window: = for += makes what += does
    dW = A_pad[3, 4:7, 4:7, :, None] * dZ[3, 4, 4]
    _save_all(tmp_path / "sub", {"conv1.Z": Z, "relu2.A": Z, "pool3.A": sums, "relu2.dA_prev": dZ,
                                 "conv1.dW": dW})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--each-layer", "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert not any(o["passed"] for q, o in by.items() if q != "relu2.dA_prev"), by
    assert "cannot tell relu2 from no ReLU at all (no element of it below 0), where convcli's can" in \
        by["relu2.A"]["note"], by["relu2.A"]["note"]
    assert "cannot tell pool3 from a sum of each window, where convcli's can" in by["pool3.A"]["note"], by["pool3.A"]
    assert ("cannot tell conv1's backward from = for += (it is 0 but in the last sample's last window, whose term "
            "alone = keeps)") in by["conv1.dW"]["note"], by["conv1.dW"]["note"]
    # one element not 0 elsewhere (a review: the = slip keeps the last window's term, 0 there): a right
    # backward on it is graded on it, and passes
    dZ = np.zeros((4, 5, 5, 4))
    dZ[1, 2, 2, 3] = 1.0
    _save_all(tmp_path / "sub3", {"relu2.dA_prev": dZ, "conv1.dW": np.pad(
        (A_pad[1, 2:5, 2:5, :] * 1.0)[..., None], ((0, 0), (0, 0), (0, 0), (3, 0))), "conv1.db": dZ.sum((0, 1, 2))})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub3", "--each-layer", "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert by["conv1.dW"]["passed"] and by["conv1.db"]["passed"] and "cannot tell" not in by["conv1.dW"]["note"], by
    # on an input that tells them apart, the right layers of theirs still pass on it
    Z = key["conv1.Z"] - 1.0  # not convcli's, and with elements on both sides of 0
    relu = np.maximum(Z, 0)
    pooled = np.maximum.reduce([relu[:, i:i + 4, j:j + 4] for i in range(2) for j in range(2)])
    _save_all(tmp_path / "sub2", {"conv1.Z": Z, "relu2.A": relu, "pool3.A": pooled})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub2", "--each-layer", "--json"]).stdout)
    assert [o["quantity"] for o in doc["against"] if not o["passed"]] == ["conv1.Z"], doc["against"]


def test_each_layer_grades_a_relu_backward_on_a_max_pools_natural_gradient(tmp_path):
    """A fuzz of right submissions: a ReLU's upstream gradient out of a max
    pool is 0 wherever Z <= 0 unless a window of Z is all <= 0, so a rule
    that refused such a gradient (as unable to tell the ReLU's mask from
    none) failed a right relu2.dA_prev on convcli's gradient. By hand: a 1x1
    identity conv, a ReLU, a 2x2 max pool, grad: ones; the learner's Z (not
    convcli's: noise added) has no window all <= 0, convcli's has one; every
    later array is the learner's loops over their own Z, and passes."""
    import json

    from test_cli_helpers import run, write

    A = np.array([[0.9, -1.2, 0.4, -0.6], [-0.3, 1.1, -0.8, 0.7], [-0.5, -0.1, 1.3, -0.9],
                  [-0.05, -0.7, -0.2, 0.6]]).reshape(1, 4, 4, 1)  # its window [2:4, 0:2] all < 0
    np.save(tmp_path / "A.npy", A)
    cfg = write(tmp_path, "inputs:\n  A_prev: {file: A.npy}\n  W: {value: [[[[1.0]]]]}\n  b: {value: [0.0]}\n"
                          "layers:\n  - {type: conv, W: W, b: b}\n  - {type: relu}\n  - {type: pool, f: 2}\n"
                          "backward: {grad: ones}\n")
    Z = A + 0.3 * np.array([[0.8, 0.5, -0.4, 0.1], [0.3, -0.2, 0.6, -0.5], [0.4, 0.9, -0.3, 0.2],
                            [-0.6, 0.1, 0.3, -0.1]]).reshape(1, 4, 4, 1)
    R = np.maximum(Z, 0)
    P = R.reshape(1, 2, 2, 2, 2, 1).max(axis=(2, 4))
    dP = np.zeros_like(R)
    for i in range(2):
        for j in range(2):
            w = R[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2, 0]
            dP[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2, 0] = w == w.max()
    dZ = dP * (Z > 0)
    assert (Z.reshape(2, 2, 2, 2).max(axis=(1, 3)) > 0).all()  # the premise: no window of theirs all <= 0
    _save_all(tmp_path / "sub", {"conv1.Z": Z, "relu2.A": R, "pool3.A": P, "pool3.dA_prev": dP, "relu2.dA_prev": dZ,
                                 "conv1.dA_prev": dZ, "conv1.dW": (A * dZ).sum().reshape(1, 1, 1, 1),
                                 "conv1.db": dZ.sum().reshape(1)})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--each-layer", "--json"]).stdout)
    assert [o["quantity"] for o in doc["against"] if not o["passed"]] == ["conv1.Z"], doc["against"]
    assert not any("graded on convcli's" in o["note"] for o in doc["against"]), doc["against"]


def test_each_layer_grades_a_layer_of_few_windows_on_yours_even_where_they_look_alike(tmp_path):
    """A fuzz of right submissions: a max pool of 3 windows (one sample, a
    2x2 map, 3 channels) over a ReLU's output with one element not 0 a
    window, which a pool that sums its windows makes too, was refused as
    testing nothing, and a right pool3.A failed on convcli's input. Of so
    few elements that happens by chance: the layer is graded on theirs. By
    hand: the learner's Z (not convcli's), their ReLU and max pool of it."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [1, 4, 4, 2]}\n  W: {random: [3, 3, 2, 3]}\n"
                          "  b: {random: [3]}\nlayers:\n  - {type: conv, W: W, b: b, stride: 2, pad: same}\n"
                          "  - {type: relu}\n  - {type: pool, f: 2}\n")
    Z = np.array([[[2.0, -1.0, -0.5], [-1.0, -2.0, 0.7]], [[-0.3, 1.5, -0.2], [-0.1, -0.4, -0.6]]])[None]
    R = np.maximum(Z, 0)  # one element not 0 in each channel's one window
    _save_all(tmp_path / "sub", {"conv1.Z": Z, "relu2.A": R, "pool3.A": R.max(axis=(1, 2), keepdims=True)})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--each-layer", "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert not by["conv1.Z"]["passed"], by["conv1.Z"]  # (the premise: theirs is not convcli's)
    assert by["relu2.A"]["passed"] and by["pool3.A"]["passed"], by
    assert not any("graded on convcli's" in o["note"] for o in doc["against"]), doc["against"]


def test_convcli_s_own_output_folder_beside_the_work_is_no_rival(tmp_path):
    """An instructor's review: an upload of hw3/ beside convcli-out/seed/
    (what the README's `convcli backward CONFIG` writes) was refused as two
    submissions (exit 2; 0 of 4 with --complete, and as a zip). A folder
    whose summary.json describes its arrays (shapes, min and max to the
    bit) is convcli's own, listed, and the work graded; one with an array
    of the student's saved over convcli's is a rival still."""
    import json
    import shutil
    import zipfile

    from test_cli_helpers import CONFIGS, assert_error, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    up = tmp_path / "up"
    (up / "hw3").mkdir(parents=True)
    shutil.copytree(tmp_path / "key", up / "convcli-out" / "seed")
    for q in ("Z", "dA_prev", "dW", "db"):
        a = np.load(tmp_path / "key" / f"conv1.{q}.npy")
        np.save(up / "hw3" / f"conv1.{q}.npy", 2 * a if q == "dW" else a)  # dW twice the right one: wrong
    with zipfile.ZipFile(tmp_path / "up.zip", "w") as zf:
        for f in sorted(up.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(up).as_posix())
    own = ("convcli-out/seed/", "convcli's own output (its summary.json describes these arrays), not graded")
    for against in (up, tmp_path / "up.zip"):
        for extra in ([], ["--complete"]):
            r = run(["check", cfg, "--against", against, "--json", *extra])
            doc = json.loads(r.stdout)
            assert r.exit_code == 1, (against, extra, r.stdout)
            graded = sorted((o["entry"].removesuffix(".npy"), o["passed"]) for o in doc["against"])
            assert graded == [(f"hw3/conv1.{q}", q != "dW") for q in ("Z", "dA_prev", "dW", "db")], graded
            assert own in [(u["entry"], u["note"]) for u in doc["unknown"]], doc["unknown"]
            assert not any(u["entry"].startswith("convcli-out/seed/") and u["entry"] != own[0]
                           for u in doc["unknown"]), doc["unknown"]
    # a --format h5 run's folder (outputs.h5 and its summary.json) beside the work too
    h5up = tmp_path / "h5up"
    shutil.copytree(up / "hw3", h5up / "hw3")
    assert run(["backward", cfg, "--format", "h5", "--out", h5up / "convcli-out" / "seed"]).exit_code == 0
    doc = json.loads(run(["check", cfg, "--against", h5up, "--json"]).stdout)
    assert sorted(o["entry"] for o in doc["against"]) == [f"hw3/conv1.{q}.npy" for q in ("Z", "dA_prev", "dW", "db")]
    assert own in [(u["entry"], u["note"]) for u in doc["unknown"]], doc["unknown"]
    # (a folder listed is no array: said so in the last line, a review)
    assert "; 1 of your arrays, folders or files not graded" in run(["check", cfg, "--against", up]).stdout
    # work beside a copy of convcli's summary.json and of the hand-out's A_prev.npy (which it describes), under
    # names of its own (Z.npy): not convcli's; but two folders with convcli's summary.json, which is the work is
    # the user's to say (a fuzz: the student's right arrays beside a copy, and convcli's folder edited, had
    # convcli's graded), as a zip
    mixed = tmp_path / "mixed"
    shutil.copytree(up, mixed)
    for f in (mixed / "hw3").iterdir():
        f.rename(f.with_name(f.name.removeprefix("conv1.")))
    shutil.copy(tmp_path / "key" / "summary.json", mixed / "hw3")
    shutil.copy(tmp_path / "key" / "A_prev.npy", mixed / "hw3")
    assert_error(run(["check", cfg, "--against", mixed]), "inside it have some")
    with zipfile.ZipFile(tmp_path / "mixed.zip", "w") as zf:
        for f in sorted(mixed.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(mixed).as_posix())
    assert_error(run(["check", cfg, "--against", tmp_path / "mixed.zip"]), "several submissions in one")
    # a zip made on Windows, its members named with backslashes (a review: refused as two submissions)
    with zipfile.ZipFile(tmp_path / "win.zip", "w") as zf:
        for f in sorted(up.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(up).as_posix().replace("/", "\\"))
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "win.zip", "--json"]).stdout)
    assert len(doc["against"]) == 4 and own in [(u["entry"], u["note"]) for u in doc["unknown"]], doc
    # a summary.json beside the work that is not convcli's (malformed): a rival, never a crash (a review: exit 3)
    summary = up / "convcli-out" / "seed" / "summary.json"
    kept = summary.read_bytes()
    bad = json.loads(kept)
    bad["quantities"]["A_prev"]["file"] = ["A_prev.npy"]
    for text in (json.dumps(bad), '{"convcli": "1", "quantities": ' + "[" * 100000 + "]" * 100000 + "}"):
        summary.write_text(text)
        assert_error(run(["check", cfg, "--against", up]), "inside it have some")
    summary.write_bytes(kept)
    # a summary.json of the student's own beside their work (notes, not convcli's): the work still graded (a code
    # review: any file of that name made the two folders rivals)
    notes = tmp_path / "notes"
    shutil.copytree(up, notes)
    (notes / "hw3" / "summary.json").write_text('{"student": "my notes"}')
    doc = json.loads(run(["check", cfg, "--against", notes, "--json"]).stdout)
    assert sorted(o["entry"] for o in doc["against"]) == [f"hw3/conv1.{q}.npy" for q in ("Z", "dA_prev", "dW", "db")]
    # the student's dW saved over convcli's in its folder, later: no longer convcli's, even where it has the same
    # shape, min, max and mean (a review: the kernel turned)
    import os

    dW = up / "convcli-out" / "seed" / "conv1.dW.npy"
    np.save(dW, np.load(tmp_path / "key" / "conv1.dW.npy")[::-1, ::-1])
    later = summary.stat().st_mtime + 60
    os.utime(dW, (later, later))
    assert_error(run(["check", cfg, "--against", up]), "inside it have some")
    np.save(dW, 2 * np.load(tmp_path / "key" / "conv1.dW.npy"))  # (and one whose numbers differ, at any time)
    shutil.copystat(summary, dW)
    assert_error(run(["check", cfg, "--against", up]), "inside it have some")


def test_zeros_that_follow_from_a_gradient_of_zeros_coming_in_say_so(tmp_path):
    """An instructor's review: a max pool backward whose mask was made with
    > for == gives zeros, so every gradient before it is zeros too; each
    was told "was it filled?" or "dW[...] += ..., not =", where the loops
    were right and their input was zeros. An array of zeros whose layer
    took an array of yours of zeros says that one is the cause; the pool's
    own zeros ask about its mask too; layer by layer (where a layer of
    zeros in is graded on convcli's) no gradient is told += either."""
    import json

    from test_cli_helpers import run

    cfg, key = _relu_pool_stack(tmp_path)
    grads = ("pool3.dA_prev", "relu2.dA_prev", "conv1.dA_prev", "conv1.dW", "conv1.db")
    _save_all(tmp_path / "sub", {q: np.zeros_like(key[q]) for q in grads})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert not any(o["passed"] for o in by.values())
    assert "x == np.max(x)" in by["pool3.dA_prev"]["note"] and by["pool3.dA_prev"]["hints"] == ["all_zeros"]
    comes = {"relu2.dA_prev": "pool3.dA_prev", **{q: "relu2.dA_prev" for q in grads[2:]}}
    for q, src in comes.items():
        note = by[q]["note"]
        assert f"yours is all zeros, as your {src} is, the gradient coming into this layer" in note, (q, note)
        assert "filled" not in note and "+=" not in note and by[q]["hints"] == ["gradient_first"], (q, note)
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json", "--each-layer"]).stdout)
    for o in doc["against"]:
        assert not o["passed"] and "+=" not in o["note"], o
        if o["quantity"] != "pool3.dA_prev":  # (and a script can tell: a review found hints [])
            assert "what the layer makes of your input to it" in o["note"] and "convcli_input" in o["hints"], o
    # forward: a ReLU of zeros follows from a conv1.Z of zeros; a conv of zeros makes its bias, not zeros (a
    # review), so its zeros are its own
    from test_cli_helpers import write

    cfg2 = write(tmp_path, "seed: 1\ninputs: {A_prev: {random: [2, 5, 5, 3]}, W1: {random: [3, 3, 3, 4]}, b1: "
                           "{random: [4]}, W2: {random: [3, 3, 4, 2]}, b2: {random: [2]}}\nlayers: [{type: conv, W: "
                           "W1, b: b1, pad: 1}, {type: relu}, {type: conv, W: W2, b: b2, pad: 1}]\n"
                           "backward: {grad: ones}\n", name="cfg2.yaml")
    _save_all(tmp_path / "fw", {"conv1.Z": np.zeros((2, 5, 5, 4)), "relu2.A": np.zeros((2, 5, 5, 4)),
                                "conv3.Z": np.zeros((2, 5, 5, 2))})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg2, "--against", tmp_path / "fw",
                                                    "--json"]).stdout)["against"]}
    assert by["relu2.A"]["hints"] == ["forward_first"] and "as your conv1.Z is, this layer's input" in by[
        "relu2.A"]["note"], by["relu2.A"]["note"]
    assert by["conv3.Z"]["hints"] == ["all_zeros"], by["conv3.Z"]["note"]
    # a gradient coming in of another shape: the layer graded on convcli's, said in hints too
    np.save(tmp_path / "sub" / "relu2.dA_prev.npy", np.ones((4, 4, 4, 4)))
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json", "--each-layer"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    for q in grads[2:]:
        assert "graded on convcli's relu2.dA_prev" in by[q]["note"] and "convcli_input" in by[q]["hints"], by[q]


def test_zeros_a_layer_makes_right_of_your_failed_input_follow_from_it(tmp_path):
    """A learner's review: the notebook's bias in every window made each
    conv1.Z negative, so a right ReLU gave zeros forward and backward, each
    told "was it filled?" (and its mask "true nowhere?"); a conv's dW of
    zeros made, right, of a layer input of zeros was told "+=, not =".
    Zeros a layer makes of a failed array of yours name that array; a ReLU
    that does write zeros of a right conv1.Z is still asked whether it
    was filled. Arrays by hand: the ReLU's of a Z with nothing above 0 are
    zeros whatever the gradient; a conv's dW is sum(A_prev * dZ) = 0 where
    its A_prev is."""
    import json

    from test_cli_helpers import run, write

    cfg, key = _relu_pool_stack(tmp_path)
    negative = -np.abs(key["conv1.Z"]) - 0.01
    _save_all(tmp_path / "neg", {"conv1.Z": negative, "relu2.A": np.zeros_like(key["relu2.A"]),
                                 "relu2.dA_prev": np.zeros_like(key["relu2.dA_prev"])})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "neg",
                                                    "--json"]).stdout)["against"]}
    for q in ("relu2.A", "relu2.dA_prev"):
        note = by[q]["note"]
        assert not by[q]["passed"] and by[q]["hints"] == ["forward_first"], (q, by[q])
        assert "what this layer, done right, makes of your conv1.Z, this layer's input (no element of it is " \
               "above 0); fix that one first" in note, note
        assert "filled" not in note and "nowhere" not in note, note
    # a ReLU of zeros of a right conv1.Z: its own slip
    _save_all(tmp_path / "own", {"conv1.Z": key["conv1.Z"], "relu2.A": np.zeros_like(key["relu2.A"])})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "own",
                                                    "--json"]).stdout)["against"]}
    assert by["relu2.A"]["hints"] == ["all_zeros"] and "was it filled?" in by["relu2.A"]["note"], by["relu2.A"]
    # a conv's dW of zeros made of its input of zeros (a ReLU of every element 0 before it), with b's gradient right
    cfg2 = write(tmp_path, "seed: 1\ninputs: {A_prev: {random: [2, 5, 5, 3]}, W1: {random: [3, 3, 3, 4]}, b1: "
                           "{random: [4]}, W2: {random: [3, 3, 4, 2]}, b2: {random: [2]}}\nlayers: [{type: conv, W: "
                           "W1, b: b1, pad: 1}, {type: relu}, {type: conv, W: W2, b: b2, pad: 1}]\n"
                           "backward: {grad: ones}\n", name="cfg2.yaml")
    _save_all(tmp_path / "dw", {"relu2.A": np.zeros((2, 5, 5, 4)), "conv3.dW": np.zeros((3, 3, 4, 2)),
                                "conv3.db": np.full(2, 50.0)})  # db: the sum of 2*5*5 ones a channel
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg2, "--against", tmp_path / "dw",
                                                    "--json"]).stdout)["against"]}
    assert by["conv3.db"]["passed"], by["conv3.db"]
    note = by["conv3.dW"]["note"]
    assert by["conv3.dW"]["hints"] == ["forward_first"] and "+=" not in note, note
    assert "yours is all zeros, as your relu2.A is, this layer's input: zeros in give zeros out" in note, note
    # grad: output (the notebook's conv_backward(Z, cache)): a Z of zeros is the gradient the backward took (a code
    # review: each gradient was told "was it filled?", dW "+=, not =")
    cfg3 = write(tmp_path, "seed: 1\ninputs: {A_prev: {random: [2, 5, 5, 3]}, W: {random: [3, 3, 3, 4]}, b: "
                           "{random: [4]}}\nlayers: [{type: conv, W: W, b: b, pad: 1}]\nbackward: {grad: output}\n",
                 name="cfg3.yaml")
    _save_all(tmp_path / "out", {"conv1.Z": np.zeros((2, 5, 5, 4)), "conv1.dA_prev": np.zeros((2, 5, 5, 3)),
                                 "conv1.dW": np.zeros((3, 3, 3, 4)), "conv1.db": np.zeros(4)})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg3, "--against", tmp_path / "out",
                                                    "--json"]).stdout)["against"]}
    for q in ("conv1.dA_prev", "conv1.dW", "conv1.db"):
        note = by[q]["note"]
        assert by[q]["hints"] == ["gradient_first"] and "+=" not in note and "filled" not in note, (q, note)
        assert "as your conv1.Z is, the gradient coming into this layer: zeros in give zeros out" in note, (q, note)


def test_each_layer_says_an_array_is_right_for_your_input_that_tests_nothing(tmp_path):
    """A learner's review: layer by layer, a conv3.Z right for a relu2.A of
    zeros (a conv of zeros makes its bias) failed, graded on convcli's
    relu2.A, with nothing saying it was right for the learner's own input.
    It still fails (an input of zeros tests nothing), and now says what to
    fix. b2 as the config's seed draws it (RandomState, inputs in order)."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs: {A_prev: {random: [2, 5, 5, 3]}, W1: {random: [3, 3, 3, 4]}, b1: "
                          "{random: [4]}, W2: {random: [3, 3, 4, 2]}, b2: {random: [2]}}\nlayers: [{type: conv, W: "
                          "W1, b: b1, pad: 1}, {type: relu}, {type: conv, W: W2, b: b2, pad: 1}]\n"
                          "backward: {grad: ones}\n", name="cfg2.yaml")
    rng = np.random.RandomState(1)
    for shape in ((2, 5, 5, 3), (3, 3, 3, 4), (4,), (3, 3, 4, 2)):
        rng.randn(*shape)
    b2 = rng.randn(2)
    for z, right in ((np.broadcast_to(b2, (2, 5, 5, 2)), True), (np.broadcast_to(b2 + 1, (2, 5, 5, 2)), False)):
        _save_all(tmp_path / "sub", {"relu2.A": np.zeros((2, 5, 5, 4)), "conv3.Z": np.array(z)})
        by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json",
                                                        "--each-layer"]).stdout)["against"]}
        o = by["conv3.Z"]
        assert not o["passed"] and "convcli_input" in o["hints"], o
        said = "yours is what the layer, done right, makes of your relu2.A, which tests nothing (graded on " \
               "convcli's instead): fix that one first"
        assert (said in o["note"]) == right, o
    # (a code review) a relu2.A of ones tests nothing too: conv3.Z of it, by hand, is b2 plus the kernel's weights
    # over the ones inside the padding; and db does not follow from the layer's input: a float32 db of convcli's
    # numbers is told float32's hint alone, not of relu2.A
    W2 = np.random.RandomState(1)
    W2 = [W2.randn(*shape) for shape in ((2, 5, 5, 3), (3, 3, 3, 4), (4,), (3, 3, 4, 2), (2,))][3]
    ones_pad = np.pad(np.ones((5, 5, 4)), ((1, 1), (1, 1), (0, 0)))
    z = np.array([[[b2[k] + np.sum(ones_pad[y:y + 3, x:x + 3] * W2[..., k]) for k in range(2)] for x in range(5)]
                  for y in range(5)])
    db = np.full(2, 50.0, np.float32) * np.float32(1 + 2e-5)  # grad: ones: 2*5*5 a channel, saved float32
    _save_all(tmp_path / "ones", {"relu2.A": np.ones((2, 5, 5, 4)), "conv3.Z": np.stack([z, z]), "conv3.db": db})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "ones", "--json",
                                                    "--each-layer"]).stdout)["against"]}
    assert said in by["conv3.Z"]["note"], by["conv3.Z"]
    assert "float32" in by["conv3.db"]["hints"] and "relu2.A, which tests nothing" not in by["conv3.db"]["note"], by[
        "conv3.db"]


def test_a_slip_hint_made_of_convclis_input_is_taken_back_where_yours_is_right_for_your_input(tmp_path):
    """A fuzz: conv1 never filled (its Z, and so relu2.A, zeros), conv3 done
    right on that relu2.A (b3 everywhere: a conv of zeros makes its bias):
    conv3.Z was told it is what a padding on its top and left makes of
    conv3's input (convcli's, which that padding keeps out of every window:
    b3 there too). It follows from relu2.A, which fails: said so, as for
    the other hints made of convcli's input. b3 as the seed draws it
    (RandomState, the inputs in order)."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 906\ninputs: {A_prev: {random: [2, 4, 4, 1]}, W1: {random: [3, 3, 1, 3]}, b1: "
                          "{random: [3]}, W3: {random: [3, 3, 3, 3]}, b3: {random: [3]}}\nlayers: [{type: conv, W: "
                          "W1, b: b1, stride: 2}, {type: relu}, {type: conv, W: W3, b: b3, stride: 2, pad: 1}]\n"
                          "backward: {grad: output}\n")
    rng = np.random.RandomState(906)
    b3 = [rng.randn(*shape) for shape in ((2, 4, 4, 1), (3, 3, 1, 3), (3,), (3, 3, 3, 3), (3,))][4]
    _save_all(tmp_path / "sub", {"conv1.Z": np.zeros((2, 1, 1, 3)), "relu2.A": np.zeros((2, 1, 1, 3)),
                                 "conv3.Z": np.broadcast_to(b3, (2, 1, 1, 3)).copy()})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "sub",
                                                    "--json"]).stdout)["against"]}
    o = by["conv3.Z"]
    assert not o["passed"] and o["hints"] == ["forward_first"], o
    assert "pad" not in o["note"] and "your forward output relu2.A differs too" in o["note"], o


def test_a_transpose_of_yours_is_said_even_where_your_input_to_the_layer_fails_too(tmp_path):
    """A code review: every map saved with H and W swapped (convcli's
    numbers), and relu2.A and pool3.A lost their "save
    yours.transpose(0, 2, 1, 3)" for "your conv1.Z ... fix that first": the
    transpose is what the array is, not a slip worked out on convcli's input
    to its layer, and is not taken back."""
    import json

    from test_cli_helpers import run

    cfg, key = _relu_pool_stack(tmp_path)
    _save_all(tmp_path / "sub", {q: key[q].transpose(0, 2, 1, 3) for q in ("conv1.Z", "relu2.A", "pool3.A")})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "sub",
                                                    "--json"]).stdout)["against"]}
    for q in ("conv1.Z", "relu2.A", "pool3.A"):
        assert by[q]["hints"] == ["axis_order"] and "transpose(0, 2, 1, 3)" in by[q]["note"], by[q]


def test_each_layer_names_what_a_layer_ran_on_only_where_it_follows(tmp_path):
    """A learner's review, layer by layer: (1) a conv's db that passed was
    told it was graded on convcli's relu2.A (yours tests nothing), though db
    is the sum of the gradient coming in whatever the input (its dW is told,
    rightly); (2) a layer run on an input of yours of another shape said so
    on its output only, its gradients passing at another shape than
    convcli's with nothing said. By hand under grad: ones: db is the number
    of output positions, 2*5*5 = 50 and 2*4*4 = 32 a channel."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs: {A_prev: {random: [2, 5, 5, 3]}, W1: {random: [3, 3, 3, 4]}, b1: "
                          "{random: [4]}, W2: {random: [3, 3, 4, 2]}, b2: {random: [2]}}\nlayers: [{type: conv, W: "
                          "W1, b: b1, pad: 1}, {type: relu}, {type: conv, W: W2, b: b2, pad: 1}]\n"
                          "backward: {grad: ones}\n", name="cfg2.yaml")
    _save_all(tmp_path / "zeros", {"relu2.A": np.zeros((2, 5, 5, 4)), "conv3.dW": np.zeros((3, 3, 4, 2)),
                                   "conv3.db": np.full(2, 50.0)})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "zeros", "--json",
                                                    "--each-layer"]).stdout)["against"]}
    assert by["conv3.db"]["passed"] and "relu2.A" not in by["conv3.db"]["note"], by["conv3.db"]
    assert "convcli_input" not in by["conv3.db"]["hints"], by["conv3.db"]
    assert "graded on convcli's relu2.A" in by["conv3.dW"]["note"], by["conv3.dW"]
    _save_all(tmp_path / "small", {"relu2.A": np.abs(np.random.RandomState(0).randn(2, 4, 4, 4)),
                                   "conv3.db": np.full(2, 32.0)})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "small", "--json",
                                                    "--each-layer"]).stdout)["against"]}
    o = by["conv3.db"]
    assert o["passed"] and "conv3 ran on your relu2.A, (2, 4, 4, 4) (convcli's: (2, 5, 5, 4))" in o["note"], o
    # (a code review) nor where yours is no input the layer takes, or in another axis order: db follows from neither
    for shape in ((2, 5, 5, 3), (2, 4, 5, 5)):
        _save_all(tmp_path / "other", {"relu2.A": np.ones(shape), "conv3.db": np.full(2, 50.0)})
        by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "other", "--json",
                                                        "--each-layer"]).stdout)["against"]}
        o = by["conv3.db"]
        assert o["passed"] and "convcli_input" not in o["hints"] and "relu2.A" not in o["note"], (shape, o)


def test_the_readme_lists_every_hint_kind_and_no_other():
    """The kinds of hint --json gives (check.HINT_KINDS, which every test's
    check is held to by conftest) are the README's list, in its order."""
    import re
    from pathlib import Path

    from convcli.check import HINT_KINDS

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    listed = text.split("`note` in words and `hints`, the kinds of explanation it gives", 1)[1].split(
        "graded on convcli's input to it", 1)[0]
    listed = re.sub(r"\([^()]*\)", "", listed)  # (what a kind means: `same` in same_split's)
    assert re.findall(r"`([a-z0-9_]+)`", listed) == list(HINT_KINDS)


@pytest.mark.parametrize("largest, places, named", [
    (10.0, 1, 1),  # a step of 0.1 is 1% of 10: at most 1%, named
    (5.0, 1, None),  # 2% of 5: coarser, not (a code review: the rule had compared half the step, so up to 2%)
    (5.0, 2, 2),  # 0.2%
    (0.1, 3, 3),  # 1%
    (0.05, 3, None),  # 2%
])
def test_the_decimals_rule_names_a_step_of_at_most_one_percent_of_the_largest_value(largest, places, named):
    """The README's rule, by hand: a rounding to ``places`` decimals is
    named only where its step, 10**-places, is at most 1% of the array's
    largest value."""
    from convcli.check import _decimals

    ours = np.linspace(0, largest, 1001) + np.random.RandomState(0).uniform(0, 1e-4 * largest, 1001)
    ours[-1] = largest
    assert _decimals(np.round(ours, places), ours) == named


def test_the_decimals_hint_is_no_rounding_coarser_than_the_array(tmp_path):
    """relu2.A saved with np.round(..., 3), the rest right: the whole run
    names the rounding and blames it for nothing after it. And (a code
    review) no rounding as coarse as the array's values is named: where
    every relu2.A is under 0.05, zeros are it "rounded to 1 decimal", and
    an unfilled relu2.A was told so."""
    import json

    from test_cli_helpers import run

    cfg, key = _relu_pool_stack(tmp_path)
    _save_all(tmp_path / "sub", {"conv1.Z": key["conv1.Z"], "relu2.A": np.round(key["relu2.A"], 3),
                                 "pool3.A": key["pool3.A"]})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "sub",
                                                    "--json"]).stdout)["against"]}
    assert by["conv1.Z"]["passed"] and by["pool3.A"]["passed"], by
    assert by["relu2.A"]["hints"] == ["decimals"], by["relu2.A"]
    from test_cli_helpers import write

    # layer by layer a rounded input is yours as it is (an adversarial review: taken as convcli's numbers, an
    # average pool made right of the rounded one failed): one by hand loops (f 2, stride 1) passes
    avg = write(tmp_path, cfg.read_text().replace("{type: pool, f: 2, stride: 1}",
                                                  "{type: pool, f: 2, stride: 1, mode: average}"), name="avg.yaml")
    assert "mode: average" in avg.read_text()
    rounded = np.round(key["relu2.A"], 3)
    m, H, W, C = rounded.shape
    pooled = np.array([[[[rounded[i, h:h + 2, w:w + 2, c].mean() for c in range(C)] for w in range(W - 1)]
                        for h in range(H - 1)] for i in range(m)])
    _save_all(tmp_path / "own", {"relu2.A": rounded, "pool3.A": pooled})
    by = {o["quantity"]: o for o in json.loads(run(["check", avg, "--against", tmp_path / "own", "--json",
                                                    "--each-layer"]).stdout)["against"]}
    assert by["pool3.A"]["passed"] and by["relu2.A"]["hints"] == ["decimals"], by

    small = write(tmp_path, cfg.read_text().replace("W: {random: [3, 3, 3, 4]}", "W: {random: [3, 3, 3, 4], "
                  "scale: 0.002}").replace("b: {random: [4]}", "b: {random: [4], scale: 0.002}"), name="small.yaml")
    assert "scale: 0.002" in small.read_text()
    assert run(["backward", small, "--out", tmp_path / "key_small"]).exit_code == 0
    relu = np.load(tmp_path / "key_small" / "relu2.A.npy")
    assert 0 < np.abs(relu).max() < 0.05
    _save_all(tmp_path / "zeros", {"conv1.Z": np.load(tmp_path / "key_small" / "conv1.Z.npy"),
                                   "relu2.A": np.zeros_like(relu), "pool3.A": np.zeros((4, 4, 4, 4))})
    for extra in ([], ["--each-layer"]):
        by = {o["quantity"]: o for o in json.loads(run(["check", small, "--against", tmp_path / "zeros", "--json",
                                                        *extra]).stdout)["against"]}
        assert not by["relu2.A"]["passed"] and "decimals" not in by["relu2.A"]["hints"], (extra, by["relu2.A"])
        assert not by["pool3.A"]["passed"], (extra, by["pool3.A"])


def test_a_pool_over_every_channel_and_a_relu_backward_with_no_mask_get_their_hints(tmp_path):
    """An instructor's review: two common slips of the notebook's loops got
    no hint: a pool taking each window over every channel at once
    (np.max(a_prev[i, vs:ve, hs:he, :])), and a ReLU backward passing the
    gradient on unmasked. Both made here by hand loops from the key's
    inputs to the layer; right arrays get neither hint."""
    import json

    from test_cli_helpers import run, write

    def pooled_over_channels(A, reduce):  # f 2, stride 1, by hand
        m, H, W, C = A.shape
        out = np.zeros((m, H - 1, W - 1, C))
        for i in range(m):
            for h in range(H - 1):
                for w in range(W - 1):
                    for c in range(C):
                        out[i, h, w, c] = reduce(A[i, h:h + 2, w:w + 2, :])  # the slip: every channel
        return out

    cfg, key = _relu_pool_stack(tmp_path)  # a max pool
    _save_all(tmp_path / "sub", {"pool3.A": pooled_over_channels(key["relu2.A"], np.max), "conv1.Z": key["conv1.Z"]})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert by["pool3.A"]["hints"] == ["all_channels"] and "each window's max over every channel at once" in by[
        "pool3.A"]["note"], by["pool3.A"]["note"]
    assert by["conv1.Z"]["passed"] and by["conv1.Z"]["hints"] == []
    # an average pool (its gradient reaches every element of the ReLU's output) and a random gradient
    cfg = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [3, 5, 5, 2]}\n  W: {random: [3, 3, 2, 3]}\n"
                          "  b: {random: [3]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n  - {type: relu}\n"
                          "  - {type: pool, f: 2, stride: 1, mode: average}\nbackward: {grad: random}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key2", "--force"]).exit_code == 0
    key = {q: np.load(tmp_path / "key2" / f"{q}.npy") for q in ("relu2.A", "pool3.dA_prev", "relu2.dA_prev")}
    _save_all(tmp_path / "sub2", {"pool3.A": pooled_over_channels(key["relu2.A"], np.mean),
                                  "relu2.dA_prev": key["pool3.dA_prev"], "pool3.dA_prev": key["pool3.dA_prev"]})
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub2", "--json"]).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    assert by["pool3.A"]["hints"] == ["all_channels"] and "each window's mean over every channel at once" in by[
        "pool3.A"]["note"], by["pool3.A"]["note"]
    assert by["relu2.dA_prev"]["hints"] == ["no_mask"] and by["relu2.dA_prev"]["note"].endswith(
        "): dA_prev = dA * (Z > 0)"), by["relu2.dA_prev"]["note"]
    assert by["pool3.dA_prev"]["passed"] and by["pool3.dA_prev"]["hints"] == []


@pytest.mark.parametrize("each_layer", [False, True])
def test_a_max_pool_backward_with_no_mask_gets_its_hint(tmp_path, each_layer):
    """A learner's review: a max pool's backward that gives each window's
    gradient to every element of its window (dA_prev[i, h:h+f, w:w+f, c] +=
    dA[i, h, w, c], no mask) failed with no hint in both modes, where a
    ReLU's backward with no mask is told so. Made here by hand loops from
    the key's pool3.dA (grad: output: pool3.A itself), over the stack's
    overlapping windows (f 2, stride 1)."""
    import json

    from test_cli_helpers import run

    cfg, key = _relu_pool_stack(tmp_path)
    dA = key["pool3.A"]
    spread = np.zeros_like(key["relu2.A"])
    m, n_H, n_W, C = dA.shape
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                for c in range(C):
                    spread[i, h:h + 2, w:w + 2, c] += dA[i, h, w, c]  # the slip: no mask
    _save_all(tmp_path / "sub", {**key, "pool3.dA_prev": spread})
    args = ["check", cfg, "--against", tmp_path / "sub", "--json"] + (["--each-layer"] if each_layer else [])
    doc = json.loads(run(args).stdout)
    by = {o["quantity"]: o for o in doc["against"]}
    o = by["pool3.dA_prev"]
    assert not o["passed"] and o["hints"] == ["no_mask"] and "to every element of its window (no mask)" in o[
        "note"], o
    assert by["pool3.A"]["passed"] and by["pool3.A"]["hints"] == []


@pytest.mark.parametrize("each_layer", [False, True])
@pytest.mark.parametrize("shape", [(4, 4, 4, 4), (4, 0, 0, 4)])
def test_zeros_after_a_gradient_of_zeros_of_another_shape_follow_from_it(tmp_path, each_layer, shape):
    """A learner's review: a conv's dA_prev, dW and db of zeros after a
    relu2.dA_prev of zeros one row short (or empty: n_H without its + 1)
    were each told "was it filled?", where the same zeros at the right
    shape are told they follow from it. No layer takes an input of another
    shape, so no rerun can say it: zeros in give zeros out (by hand: each of
    the three is a sum of products with dZ's elements). A gradient of
    another shape that is not zeros explains nothing."""
    import json

    from test_cli_helpers import run

    cfg, key = _relu_pool_stack(tmp_path)  # relu2.A is (4, 5, 5, 4)
    zero = {q: np.zeros_like(key[q]) for q in ("conv1.dA_prev", "conv1.dW", "conv1.db")}
    for name, dA in (("zeros", np.zeros(shape)), ("ones", np.ones((4, 4, 4, 4)))):
        _save_all(tmp_path / name, {**key, **zero, "relu2.dA_prev": dA})
        args = ["check", cfg, "--against", tmp_path / name, "--json"] + (["--each-layer"] if each_layer else [])
        by = {o["quantity"]: o for o in json.loads(run(args).stdout)["against"]}
        assert not by["relu2.dA_prev"]["passed"]
        for q in zero:
            o = by[q]
            assert not o["passed"], o
            if name == "ones":
                assert "was it filled?" in o["note"] and "relu2.dA_prev" not in o["note"].split("was it filled?")[0], o
                continue
            said = ("is empty, shaped (4, 0, 0, 4) where convcli's is (4, 5, 5, 4): the layer's loops over it run "
                    "over nothing" if 0 in shape else "as your relu2.dA_prev is, the gradient coming into this layer, "
                    "shaped (4, 4, 4, 4) where convcli's is (4, 5, 5, 4): zeros in give zeros out")
            assert said in o["note"] and "was it filled?" not in o["note"], o
            # (layer by layer, each is graded on convcli's relu2.dA_prev too: convcli_input)
            assert o["hints"] == ["gradient_first"] + ["convcli_input"] * each_layer, o


@pytest.mark.parametrize("axes, keep", [((1, 2, 3), False), ((1, 2, 3), True), (None, False), ((0, 1, 2, 3), True)])
def test_a_db_summed_over_other_axes_says_so(tmp_path, axes, keep):
    """A learner's review: db = np.sum(dZ, axis=(1, 2, 3)) (one number a
    sample) or np.sum(dZ) got a bare shape error. dZ here is the key's
    relu2.dA_prev (the gradient coming into conv1), summed by NumPy over the
    slip's axes; a db of another shape that is no such sum gets no hint."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 2\ninputs:\n  A_prev: {random: [3, 5, 5, 2]}\n  W: {random: [3, 3, 2, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n  - {type: relu}\n"
                          "backward: {grad: output}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    dZ = np.load(tmp_path / "key" / "relu2.dA_prev.npy")
    for name, db in (("slip", np.sum(dZ, axis=axes, keepdims=keep)), ("other", np.ones((3,)))):
        _save_all(tmp_path / name, {"conv1.db": db})
        o = json.loads(run(["check", cfg, "--against", tmp_path / name, "--json"]).stdout)["against"][0]
        assert not o["passed"] and o["note"].startswith(f"shape {db.shape}, expected (4,)"), o
        if name == "other":
            assert o["hints"] == [] and "summed" not in o["note"], o
            continue
        said = "all its axes" if axes is None or len(axes) == 4 else "axes (1, 2, 3)"
        assert o["hints"] == ["sum_axes"] and f"yours is dZ summed over {said}: db sums dZ over the samples and " \
            "positions, np.sum(dZ, axis=(0, 1, 2))" in o["note"], o


@pytest.mark.parametrize("A_prev, grad", [("[1, 5, 5, 3]", "output"), ("[3, 3, 3, 3]", "output"),
                                           ("[4, 5, 5, 3]", "ones")])  # (ones: a conv alone, so dZ is constant)
def test_a_right_db_in_another_shape_is_told_its_reshape_not_a_sum(tmp_path, A_prev, grad):
    """A review: where an axis of dZ is of length 1 (one sample; a 1x1
    output, the 3x3 input unpadded) or dZ is constant (grad: ones), a sum
    over other axes gives convcli's own db, and a right db saved as (1, 4)
    was told it summed over the wrong axes, not the reshape that fixes it."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, f"seed: 1\ninputs:\n  A_prev: {{random: {A_prev}}}\n  W: {{random: [3, 3, 3, 4]}}\n"
                          f"  b: {{random: [4]}}\nlayers:\n  - {{type: conv, W: W, b: b, pad: "
                          f"{0 if A_prev.startswith('[3, 3') else 1}}}\n"
                          + ("" if grad == "ones" else "  - {type: relu}\n") + f"backward: {{grad: {grad}}}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    db = np.load(tmp_path / "key" / "conv1.db.npy")
    _save_all(tmp_path / "sub", {"conv1.db": db.reshape(1, -1)})
    (o,) = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json"]).stdout)["against"]
    assert not o["passed"] and o["hints"] == ["bias_layout"] and "save yours.reshape(4,)" in o["note"], o


def test_a_db_summed_per_sample_with_keepdims_is_not_told_to_transpose(tmp_path):
    """A learner's review: with b (1, 1, 1, 4) and a batch of 4,
    np.sum(dZ, axis=(1, 2, 3), keepdims=True) is (4, 1, 1, 1), whose sizes
    are db's in another order, and was told to transpose, which its numbers
    are not. dZ is the key's relu2.dA_prev (conv1's incoming gradient); a db
    that is convcli's transposed is still told the transpose."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs:\n  A_prev: {random: [4, 5, 5, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [1, 1, 1, 4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n"
                          "  - {type: relu}\nbackward: {grad: output}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    dZ, db = np.load(tmp_path / "key" / "relu2.dA_prev.npy"), np.load(tmp_path / "key" / "conv1.db.npy")
    assert db.shape == (1, 1, 1, 4)
    for name, mine, hint in (("slip", np.sum(dZ, axis=(1, 2, 3), keepdims=True), "sum_axes"),
                             ("turned", db.transpose(3, 1, 2, 0), "axis_order")):
        _save_all(tmp_path / name, {"conv1.db": mine})
        (o,) = json.loads(run(["check", cfg, "--against", tmp_path / name, "--json"]).stdout)["against"]
        assert not o["passed"] and o["hints"] == [hint], o


@pytest.mark.parametrize("keep", [False, True])
def test_a_db_summed_per_sample_where_the_batch_is_as_large_as_the_channels_says_so(tmp_path, keep):
    """A review: where m is n_C (4 and 4), np.sum(dZ, axis=(1, 2, 3)) has
    db's own shape (n_C,) and failed on its numbers with no hint, and with
    keepdims, (m, 1, 1, 1), was told a bias's layouts. dZ, conv1's incoming
    gradient, is the key's relu2.dA_prev; and dZ itself saved as db (no sum)
    is told no sum."""
    import json

    from test_cli_helpers import run

    cfg, key = _relu_pool_stack(tmp_path)
    dZ = key["relu2.dA_prev"]
    assert dZ.shape[0] == dZ.shape[3] == 4
    for name, db, said in (("slip", np.sum(dZ, axis=(1, 2, 3), keepdims=keep), True), ("dZ", dZ, False)):
        _save_all(tmp_path / name, {"conv1.db": db})
        for extra in ([], ["--each-layer"]):
            (o,) = json.loads(run(["check", cfg, "--against", tmp_path / name, "--json", *extra]).stdout)["against"]
            assert not o["passed"], o
            if said:
                # (layer by layer, graded on convcli's relu2.dA_prev, none of yours: convcli_input too)
                assert o["hints"] == ["sum_axes"] + ["convcli_input"] * bool(extra) and \
                    "yours is dZ summed over axes (1, 2, 3)" in o["note"], o
            else:
                assert "sum_axes" not in o["hints"] and "summed over axes ()" not in o["note"], o


def test_each_layer_names_a_rounding_of_the_whole_run_on_every_array_it_fails(tmp_path):
    """A learner's review: every array saved with np.round(.., 4), checked
    --each-layer, failed 9 of 14 with no word of why (each layer is graded
    on your rounded inputs, where yours is the whole run's rounded), where
    the whole run names the rounding on each. Now each failing one names it
    too; none passes that did not before (a rounded array is no exact one)."""
    import json

    from test_cli_helpers import run

    cfg, key = _relu_pool_stack(tmp_path)
    _save_all(tmp_path / "sub", {q: np.round(a, 4) for q, a in key.items()})
    for extra in ([], ["--each-layer"]):
        doc = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json", *extra]).stdout)
        failed = [o for o in doc["against"] if not o["passed"]]
        assert failed and all("decimals" in o["hints"] and "rounded to 4 decimals" in o["note"] for o in failed), (
            extra, [(o["quantity"], o["hints"], o["note"][-160:]) for o in failed])
        assert {o["quantity"] for o in failed} >= {"conv1.Z", "conv1.dW", "pool3.dA_prev"}, extra


def test_each_layer_tells_no_rounding_of_an_array_that_is_the_whole_run_s_exactly(tmp_path):
    """A regression review: under --each-layer a ReLU's dA_prev that is
    convcli's exactly (a 0/1 mask under grad: ones, which any rounding
    leaves as it is) failed on a wrong input of yours and was told it was
    "rounded to 2 decimals". Here pool1.A is negated by hand, relu2.dA_prev
    left as the whole run made it."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 1\ninputs: {A_prev: {random: [2, 4, 4, 3]}}\nlayers:\n"
                          "  - {type: pool, f: 2, stride: 1, mode: max}\n  - {type: relu}\nbackward: {grad: ones}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    key = {q: np.load(tmp_path / "key" / f"{q}.npy") for q in ("pool1.A", "relu2.dA_prev")}
    assert set(np.unique(key["relu2.dA_prev"])) == {0.0, 1.0}
    _save_all(tmp_path / "sub", {"pool1.A": -key["pool1.A"], "relu2.dA_prev": key["relu2.dA_prev"]})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json",
                                                    "--each-layer"]).stdout)["against"]}
    o = by["relu2.dA_prev"]
    assert not o["passed"] and "decimals" not in o["hints"] and "rounded" not in o["note"], o
    # nor where the layer's answer made of your inputs is the whole run's plus noise, which convcli's own numbers
    # on a grid of 2 decimals (grad: ones) match "rounded" by chance (a regression review)
    cfg = write(tmp_path, "seed: 17\ninputs: {A_prev: {random: [2, 9, 9, 3]}}\nlayers:\n  - {type: relu}\n"
                          "  - {type: pool, f: 3, stride: 2, mode: max}\nbackward: {grad: ones}\n", name="r7.yaml")
    assert run(["backward", cfg, "--out", tmp_path / "key7"]).exit_code == 0
    key = {q: np.load(tmp_path / "key7" / f"{q}.npy") for q in ("relu1.A", "pool2.A", "pool2.dA_prev",
                                                                 "relu1.dA_prev")}
    g = key["pool2.dA_prev"]
    key["pool2.dA_prev"] = g + 1e-5 * g.std() * np.random.RandomState(0).randn(*g.shape)
    _save_all(tmp_path / "sub7", key)
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "sub7", "--json",
                                                    "--each-layer"]).stdout)["against"]}
    o = by["relu1.dA_prev"]
    assert not o["passed"] and "decimals" not in o["hints"] and "rounded" not in o["note"], o


def test_float32_numbers_saved_as_float64_get_the_float32_hint(tmp_path):
    """A learner's review: loops run on float32 inputs that fill a float64
    np.zeros array save float64 arrays of float32 numbers; against a float64
    run they failed with no hint, or were told to fix the forward, where the
    same numbers saved as float32 are told --dtype float32. Made here by hand
    loops in float32 (one 3x3 conv, pad 1); a float64 array that is not
    float32 numbers gets no such hint."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 2\ninputs:\n  A_prev: {random: [3, 6, 6, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {random: [4]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n")
    rng = np.random.RandomState(2)
    A, W, b = rng.randn(3, 6, 6, 3), rng.randn(3, 3, 3, 4), rng.randn(4)
    P = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0))).astype(np.float32)
    W32, b32 = W.astype(np.float32), b.astype(np.float32)
    Z = np.zeros((3, 6, 6, 4))  # float64, filled with float32 numbers
    for i in range(3):
        for h in range(6):
            for w in range(6):
                for c in range(4):
                    Z[i, h, w, c] = np.sum(P[i, h:h + 3, w:w + 3, :] * W32[..., c]) + b32[c]
    assert Z.dtype == np.float64 and np.array_equal(Z.astype(np.float32), Z)
    for name, mine, said in (("f32", Z, True), ("big", Z.astype(">f8"), True),  # (big-endian too, a review)
                             ("noise", Z + 1e-5 * rng.randn(*Z.shape), False)):
        _save_all(tmp_path / name, {"conv1.Z": mine})
        (o,) = json.loads(run(["check", cfg, "--against", tmp_path / name, "--json"]).stdout)["against"]
        assert not o["passed"], o
        if said:
            assert o["hints"] == ["float32"] and "yours hold float32 numbers (computed in float32, saved as " \
                "float64?) and this run is float64: --dtype float32" in o["note"], o
        else:
            assert "float32" not in o["hints"], o


def test_a_dA_prev_right_in_its_last_sample_alone_and_a_relu_times_z_get_their_hints(tmp_path):
    """A learner's review: dA_prev[i] = ... placed after the loop over the
    samples (the last sample's alone, zeros elsewhere), and a ReLU backward
    as dA * Z (the mask's values for the mask) failed with no hint. Made by
    hand from the key's arrays: the last sample kept, the rest zeros; dA
    times Z. A dA_prev right in no sample gets neither."""
    import json

    from test_cli_helpers import run

    cfg, key = _relu_pool_stack(tmp_path)
    last = np.zeros_like(key["conv1.dA_prev"])
    last[-1] = key["conv1.dA_prev"][-1]
    times_z = key["pool3.dA_prev"] * key["conv1.Z"]  # relu2's dA times its Z
    _save_all(tmp_path / "sub", {**key, "conv1.dA_prev": last, "relu2.dA_prev": times_z})
    for extra in ([], ["--each-layer"]):
        by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json",
                                                        *extra]).stdout)["against"]}
        o = by["conv1.dA_prev"]
        if not extra:  # (layer by layer, conv1 is graded on your relu2.dA_prev: the slip's own sample only)
            assert o["hints"] == ["some_samples"] and "yours is convcli's in sample 3 and zeros in all the " \
                "others: is it written after the loop over the samples" in o["note"], o
        o = by["relu2.dA_prev"]
        assert not o["passed"] and o["hints"][0] == "no_mask" and "times the layer's Z itself: the mask is 1 or " \
            "0, dA_prev = dA * (Z > 0)" in o["note"], (extra, o)
    # a forward output another layer takes, layer by layer too (a review: the hint read your own array there),
    # and a loop that stops a sample early, whose cause is not a write after the loop
    early = key["conv1.Z"].copy()
    early[-1] = 0.0
    for name, mine, said in (("last", last_z := np.where(np.arange(4)[:, None, None, None] == 3, key["conv1.Z"], 0.0),
                              "in sample 3 and zeros in all the others: is it written after the loop"),
                             ("early", early, "in samples 0-2 and zeros in sample 3: does the loop over the samples "
                                              "miss it (range(m - 1))?")):
        assert not np.any(last_z[:3])
        _save_all(tmp_path / name, {"conv1.Z": mine})
        for extra in ([], ["--each-layer"]):
            (o,) = json.loads(run(["check", cfg, "--against", tmp_path / name, "--json", *extra]).stdout)["against"]
            assert o["hints"] == ["some_samples"] and said in o["note"], (name, extra, o)
    wrong = key["conv1.dA_prev"] + 1.0
    wrong[:-1] = 0.0
    _save_all(tmp_path / "wrong", {"conv1.dA_prev": wrong})
    (o,) = json.loads(run(["check", cfg, "--against", tmp_path / "wrong", "--json"]).stdout)["against"]
    assert not o["passed"] and "some_samples" not in o["hints"], o


def test_a_relu_backward_times_a_is_told_the_mask_is_one_or_zero(tmp_path):
    """A review: the dA * A branch had no test of its own (in the stack's
    grad: output, dA * Z and dA * A coincide). A random upstream gradient
    here; dA and Z from the key, the slip by NumPy."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [2, 5, 5, 2]}\n  W: {random: [3, 3, 2, 3]}\n"
                          "  b: {random: [3]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n  - {type: relu}\n"
                          "backward: {grad: random}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    Z, dA = (np.load(tmp_path / "key" / f"{q}.npy") for q in ("conv1.Z", "relu2.dA"))
    assert not np.allclose(dA * Z, dA * np.maximum(Z, 0))
    _save_all(tmp_path / "sub", {"relu2.dA_prev": dA * np.maximum(Z, 0)})
    (o,) = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json"]).stdout)["against"]
    assert o["hints"] == ["no_mask"] and "times the layer's A itself: the mask is 1 or 0" in o["note"], o


def test_each_layer_tells_no_slip_of_an_array_right_for_the_whole_run(tmp_path):
    """A regression review: under --each-layer, a right relu1.dA_prev after
    a pool2.dA_prev of the masks alone (grad: output: the masks times A are
    the right pool gradient) was told it multiplied by A, a slip it does not
    have; it fails there on your pool2.dA_prev, and says no slip of its own.
    The masks by hand: 1 at each 2x2 window's maximum."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 3\ninputs:\n  A_prev: {random: [1, 4, 4, 1]}\nlayers:\n  - {type: relu}\n"
                          "  - {type: pool, f: 2, stride: 2, mode: max}\nbackward: {grad: output}\n")
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    key = {q: np.load(tmp_path / "key" / f"{q}.npy") for q in ("relu1.A", "pool2.A", "relu1.dA_prev")}
    masks = np.zeros_like(key["relu1.A"])
    for h in range(2):
        for w in range(2):
            win = key["relu1.A"][0, 2 * h:2 * h + 2, 2 * w:2 * w + 2, 0]
            masks[0, 2 * h:2 * h + 2, 2 * w:2 * w + 2, 0] = win == win.max()
    _save_all(tmp_path / "sub", {**key, "pool2.dA_prev": masks})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json",
                                                    "--each-layer"]).stdout)["against"]}
    assert by["pool2.dA_prev"]["hints"] == ["mask_only"], by["pool2.dA_prev"]
    o = by["relu1.dA_prev"]
    assert not o["passed"] and "no_mask" not in o["hints"] and "itself" not in o["note"], o
    assert "yours is the whole run's (convcli's on its own inputs): layer by layer it fails on an input of yours" \
        in o["note"], o


def test_each_layer_knows_a_float32_array_for_the_whole_run_s_at_the_hints_tolerance(tmp_path):
    """A review: the same gate compared at the grading tolerance, so a right
    relu2.dA_prev computed in float32 (convcli's --dtype float32 run, graded
    in float64) after a pool's masks alone was told the "times A" slip
    again. Masks by hand."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 4\ninputs:\n  A_prev: {random: [16, 6, 6, 3]}\n  W: {random: [3, 3, 3, 4]}\n"
                          "  b: {value: [-4.0, -4.0, -4.0, -4.0]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n"
                          "  - {type: relu}\n  - {type: pool, f: 2, stride: 2, mode: max}\nbackward: {grad: output}\n")
    assert run(["backward", cfg, "--out", tmp_path / "k32", "--dtype", "float32"]).exit_code == 0
    mine = {q: np.load(tmp_path / "k32" / f"{q}.npy") for q in ("conv1.Z", "relu2.A", "pool3.A", "relu2.dA_prev")}
    A = mine["relu2.A"]
    masks = np.zeros_like(A)
    for i in range(A.shape[0]):
        for h in range(3):
            for w in range(3):
                for c in range(4):
                    win = A[i, 2 * h:2 * h + 2, 2 * w:2 * w + 2, c]
                    masks[i, 2 * h:2 * h + 2, 2 * w:2 * w + 2, c] = win == win.max()
    _save_all(tmp_path / "sub", {**mine, "pool3.dA_prev": masks})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json",
                                                    "--each-layer"]).stdout)["against"]}
    o = by["relu2.dA_prev"]
    assert "no_mask" not in o["hints"] and "itself" not in o["note"], o


def test_zeros_where_convcli_s_own_sample_is_zeros_too_are_all_zeros_not_some_samples(tmp_path):
    """A review: where convcli's output has a sample of zeros (an input
    sample of zeros, a bias below 0, into a ReLU), an array of zeros was
    told it was convcli's in that sample and zeros in the others, not "was
    it filled?"."""
    import json

    from test_cli_helpers import run, write

    A = np.random.RandomState(5).randn(3, 5, 5, 2)
    A[0] = 0.0
    np.save(tmp_path / "a.npy", A)
    cfg = write(tmp_path, "seed: 5\ninputs:\n  A_prev: {file: a.npy}\n  W: {random: [3, 3, 2, 4]}\n"
                          "  b: {value: [-0.5, -0.5, -0.5, -0.5]}\nlayers:\n  - {type: conv, W: W, b: b, pad: 1}\n"
                          "  - {type: relu}\n")
    assert run(["forward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    relu = np.load(tmp_path / "key" / "relu2.A.npy")
    assert not np.any(relu[0]) and np.any(relu[1:])
    _save_all(tmp_path / "sub", {"relu2.A": np.zeros_like(relu)})
    (o,) = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json"]).stdout)["against"]
    assert o["hints"] == ["all_zeros"] and "some_samples" not in o["hints"], o
    # and the last sample's alone, where convcli's sample 0 is zeros too: still a write after the loop (a review)
    last = relu.copy()
    last[:-1] = 0.0
    _save_all(tmp_path / "last", {"relu2.A": last})
    (o,) = json.loads(run(["check", cfg, "--against", tmp_path / "last", "--json"]).stdout)["against"]
    assert o["hints"] == ["some_samples"] and "is it written after the loop over the samples" in o["note"], o


def test_a_z_with_its_bias_twice_or_through_a_relu_is_told_so(tmp_path):
    """A learner's review: Z + b once more after conv_single_step added it,
    and np.maximum(Z, 0) inside conv_forward, failed with no hint. By hand:
    the window sums of the padded input (bias once) by loops, then the slip."""
    import json

    from test_cli_helpers import run

    cfg, key = _relu_pool_stack(tmp_path)  # seed 1: A_prev, W, b drawn in that order
    rng = np.random.RandomState(1)
    A, W, b = rng.randn(4, 5, 5, 3), rng.randn(3, 3, 3, 4), rng.randn(4)
    P = np.pad(A, ((0, 0), (1, 1), (1, 1), (0, 0)))
    Z = np.array([[[[np.sum(P[i, h:h + 3, w:w + 3] * W[..., c]) + b[c] for c in range(4)] for w in range(5)]
                   for h in range(5)] for i in range(4)])
    for name, mine, hint, said in (("twice", Z + b, "no_bias", "with its bias added twice"),
                                   ("relu", np.maximum(Z, 0), "activation", "through a ReLU, np.maximum(Z, 0)")):
        _save_all(tmp_path / name, {"conv1.Z": mine})
        (o,) = json.loads(run(["check", cfg, "--against", tmp_path / name, "--json"]).stdout)["against"]
        assert not o["passed"] and o["hints"] == [hint] and said in o["note"], o


def test_a_right_layer_after_a_slip_is_not_told_the_slip(tmp_path):
    """A fuzz: a right max pool after one taken over every channel was told
    it pooled over every channel (the max over a window and over the
    channels is one max), and a right ReLU after it that it passed its
    gradient on unmasked (its input of yours had no element below 0): a
    hint made of convcli's input to the layer is taken back where an array
    of yours that the layer takes fails too, and what it follows from is
    said; layer by layer the right layers pass. Pools by hand loops."""
    import json

    from test_cli_helpers import run, write

    def pool(x, every_channel=False):  # f 2, stride 1, max
        n = x.shape[1] - 1
        out = np.zeros((x.shape[0], n, n, x.shape[3]))
        for i in range(x.shape[0]):
            for h in range(n):
                for w in range(n):
                    for c in range(x.shape[3]):
                        win = x[i, h:h + 2, w:w + 2, :]
                        out[i, h, w, c] = np.max(win if every_channel else win[..., c])
        return out

    cfg = write(tmp_path, "seed: 4\ninputs: {A_prev: {random: [2, 6, 6, 3]}}\nlayers: [{type: pool, f: 2, stride: 1}, "
                          "{type: pool, f: 2, stride: 1}]\nbackward: {grad: ones}\n")
    A = np.random.RandomState(4).randn(2, 6, 6, 3)
    mine = pool(A, every_channel=True)
    _save_all(tmp_path / "sub", {"pool1.A": mine, "pool2.A": pool(mine)})  # pool2 right for its input
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "sub",
                                                    "--json"]).stdout)["against"]}
    assert by["pool1.A"]["hints"] == ["all_channels"], by["pool1.A"]
    assert by["pool2.A"]["hints"] == ["forward_first"] and "every channel" not in by["pool2.A"]["note"], by["pool2.A"]
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json",
                                                    "--each-layer"]).stdout)["against"]}
    assert by["pool2.A"]["passed"] and by["pool1.A"]["hints"] == ["all_channels"], by
    # a slip of the layer's own that its input of yours, wrong, cannot make is still told (a code review: a conv
    # without its bias, the max positions kept, took a pool backward's "masks alone" away): pool1.A twice the
    # right one, and pool2's backward the windows' masks alone
    cfg_r = write(tmp_path, "seed: 4\ninputs: {A_prev: {random: [2, 6, 6, 3]}}\nlayers: [{type: pool, f: 2, stride: "
                            "1}, {type: pool, f: 2, stride: 1}]\nbackward: {grad: random}\n", name="masks.yaml")
    twice = 2 * pool(A)
    masks = np.zeros_like(twice)
    for i in range(2):
        for h in range(4):
            for w in range(4):
                for c in range(3):
                    win = twice[i, h:h + 2, w:w + 2, c]
                    masks[i, h:h + 2, w:w + 2, c] += win == np.max(win)
    _save_all(tmp_path / "masks", {"pool1.A": twice, "pool2.dA_prev": masks})
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg_r, "--against", tmp_path / "masks",
                                                    "--json"]).stdout)["against"]}
    assert by["pool2.dA_prev"]["hints"] == ["mask_only"], by["pool2.dA_prev"]["note"]
    # a ReLU after it, right for its input of yours (no element below 0): not told it has no mask
    cfg = write(tmp_path, "seed: 4\ninputs: {A_prev: {random: [2, 6, 6, 3]}}\nlayers: [{type: pool, f: 2, stride: 1}, "
                          "{type: relu}]\nbackward: {grad: ones}\n")
    mine = np.abs(mine) + 0.5  # (a pool of theirs whose output has no element below 0)
    _save_all(tmp_path / "relu", {"pool1.A": mine, "relu2.A": np.maximum(mine, 0),
                                  "relu2.dA_prev": np.ones_like(mine) * (mine > 0)})
    for extra in ([], ["--each-layer"]):
        by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "relu", "--json",
                                                        *extra]).stdout)["against"]}
        assert "no_mask" not in by["relu2.dA_prev"]["hints"] and "unmasked" not in by["relu2.dA_prev"]["note"] \
            and "below 0 too" not in by["relu2.dA_prev"]["note"], (extra, by["relu2.dA_prev"])


def test_a_slip_keeps_its_hint_layer_by_layer_where_the_gradient_coming_in_is_not_submitted(tmp_path):
    """A fuzz: layer by layer, a ReLU backward with no mask lost its hint
    where the student had not saved the gradient coming into it (the layer
    graded on convcli's, which is right: nothing upstream of it is wrong).
    The gradient coming in is an average pool's of ones, by hand."""
    import json

    from test_cli_helpers import run, write

    cfg = write(tmp_path, "seed: 5\ninputs: {A_prev: {random: [2, 5, 5, 3]}}\nlayers: [{type: relu}, "
                          "{type: pool, f: 2, stride: 1, mode: average}]\nbackward: {grad: ones}\n")
    g = np.zeros((2, 5, 5, 3))
    for h in range(4):
        for w in range(4):
            g[:, h:h + 2, w:w + 2, :] += 1 / 4  # each window spreads its 1 evenly
    _save_all(tmp_path / "sub", {"relu1.dA_prev": g})  # no mask: the gradient coming in, passed on whole
    for extra in ([], ["--each-layer"]):
        (o,) = json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json", *extra]).stdout)["against"]
        assert not o["passed"] and "no_mask" in o["hints"] and o["note"].count("dA_prev = dA * (Z > 0)") == 1, o
    # nor where the one saved cannot have made it (zeros, refused layer by layer; a code review)
    np.save(tmp_path / "sub" / "pool2.dA_prev.npy", np.zeros((2, 5, 5, 3)))
    by = {o["quantity"]: o for o in json.loads(run(["check", cfg, "--against", tmp_path / "sub", "--json",
                                                    "--each-layer"]).stdout)["against"]}
    assert "no_mask" in by["relu1.dA_prev"]["hints"], by["relu1.dA_prev"]


def test_work_a_zip_holds_in_other_files_is_listed_as_a_folders_is(tmp_path):
    """A fuzz: an outputs.h5 inside a zip was not listed at all, where the
    same in a folder is; nor a quantity saved with np.savetxt. Both are
    listed, with what grades them; other files (notes) are not."""
    import json
    import zipfile

    from test_cli_helpers import CONFIGS, run

    cfg = CONFIGS / "seed.yaml"
    assert run(["backward", cfg, "--out", tmp_path / "key"]).exit_code == 0
    with zipfile.ZipFile(tmp_path / "up.zip", "w") as zf:
        for q in ("Z", "dA_prev", "db"):
            zf.write(tmp_path / "key" / f"conv1.{q}.npy", f"hw3/conv1.{q}.npy")
        zf.writestr("hw3/conv1.dW.txt", "0 1 2\n")
        zf.writestr("hw3/notes.txt", "my notes\n")
        zf.writestr("hw3/old/outputs.h5", b"\x89HDF\r\n\x1a\n")
    doc = json.loads(run(["check", cfg, "--against", tmp_path / "up.zip", "--json"]).stdout)
    assert len(doc["against"]) == 3 and all(o["passed"] for o in doc["against"]), doc["against"]
    assert [(u["entry"], u["note"]) for u in doc["unknown"]] == [
        ("hw3/conv1.dW.txt", "not read: only .npy files are; save conv1.dW with np.save"),
        ("hw3/old/outputs.h5", "not read from inside a zip; unzip it and --against the file to grade it")], doc
