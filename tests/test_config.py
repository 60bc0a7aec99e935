"""The config schema and the safe YAML reader (convcli/config.py)."""

from __future__ import annotations

import pytest

from convcli.config import format_loc, load_config, parse_slice, read_yaml
from convcli.errors import ConvcliError
from test_cli_helpers import SEED, SMALL, write


def load(tmp_path, text):
    return load_config(write(tmp_path, text))


def error(tmp_path, text) -> str:
    with pytest.raises(ConvcliError) as info:
        load(tmp_path, text)
    return str(info.value)


def test_yaml_12_numbers(tmp_path):
    text = "a: 1e-6\nb: 1.0e6\nc: 10:20\nd: 010\ne: -2\nf: .5\ng: .inf\nh: 2024-01-01\n"
    data, _ = read_yaml(write(tmp_path, text), "x")
    assert data == {"a": 1e-6, "b": 1e6, "c": "10:20", "d": "010", "e": -2, "f": 0.5, "g": float("inf"),
                    "h": "2024-01-01"}


def test_slice_written_without_quotes_is_not_sexagesimal(tmp_path):
    cfg = load(tmp_path, SEED.replace("A_prev: {random: [10, 4, 4, 3]}", "A_prev: {file: a.npy, slice: 10:20}"))
    assert cfg.model.inputs["A_prev"].slice == slice(10, 20, None)


def test_lines_are_recorded_for_key_paths(tmp_path):
    cfg = load(tmp_path, SEED)
    assert cfg.where("layers", 0, "pad") == f"{cfg.display}: layers[0].pad (line 11)"
    assert cfg.layer_where(0, "W") == f"{cfg.display}: layers[0] (conv1).W (line 8)"


def test_default_layer_names(tmp_path):
    assert load(tmp_path, SMALL).layer_names == ["conv1", "relu2", "pool3"]


def test_duplicate_layer_names(tmp_path):
    text = SMALL.replace("{type: relu}", "{type: relu, name: conv1}")
    assert "layers[1].name (line 8): layer name 'conv1' is already used by layers[0]" in error(tmp_path, text)


def test_only_the_first_layer_reads_an_input(tmp_path):
    text = SMALL.replace("{type: relu}", "{type: relu, input: W}")
    assert "layers[1] (relu2).input" in error(tmp_path, text)


def test_first_layer_without_A_prev(tmp_path):
    text = SMALL.replace("A_prev:", "X:")
    assert "the first layer reads the input 'A_prev', but inputs has no 'A_prev'" in error(tmp_path, text)
    assert load(tmp_path, text.replace("- {type: conv,", "- {type: conv, input: X,")).model.layers[0].input == "X"


def test_an_input_may_not_shadow_a_bare_quantity(tmp_path):
    text = SEED.replace("  b: {random: [1, 1, 1, 8]}", "  b: {random: [1, 1, 1, 8]}\n  Z: {zeros: [1]}")
    assert "inputs.Z" in error(tmp_path, text)


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("{random: [2, 2], zeros: [2]}", "give exactly one of"),
        ("{file: a.csv}", "unsupported file type '.csv'"),
        ("{file: a.npy, key: x}", "only an .npz file has keys"),
        ("{file: a.npz, dataset: x}", "only an .h5 file has datasets"),
        ("{random: [2, 2], slice: '0:1'}", "only arrays read from a file can be sliced"),
        ("{file: a.npy, slice: '0:2:0'}", "the slice step must be >= 1"),
        ("{file: a.npy, slice: 3}", "expected a slice over the first axis"),
        ("{random: [2, 2.5]}", "expected a shape"),
        ("{value: [1, two]}", "expected a number or a nested list of numbers"),
        ("{random: [2], scale: yes}", "expected a number"),
    ],
)
def test_bad_sources(tmp_path, source, fragment):
    text = SEED.replace("A_prev: {random: [10, 4, 4, 3]}", f"A_prev: {source}")
    assert fragment in error(tmp_path, text)


def test_pad_forms(tmp_path):
    for pad in ("2", "[1, 2]", "[0, 1, 2, 3]", "same", "valid"):
        load(tmp_path, SEED.replace("pad: 2", f"pad: {pad}"))
    assert "did you mean 'same'?" in error(tmp_path, SEED.replace("pad: 2", "pad: sam"))


def test_grad_choices(tmp_path):
    for grad in ("output", "ones", "random", "{random: [10, 7, 7, 8]}", "{file: g.npy}"):
        load(tmp_path, SEED.replace("grad: output", f"grad: {grad}"))
    assert "backward.grad" in error(tmp_path, SEED.replace("grad: output", "grad: zeros"))


def test_tolerances_must_be_non_negative(tmp_path):
    assert "tolerance.rtol" in error(tmp_path, SEED + "tolerance: {rtol: -1}\n")


def test_format_loc():
    assert format_loc(("layers", 0, "<conv>", "stride")) == "layers[0].stride"
    assert format_loc(("expected", "dW.mean")) == "expected['dW.mean']"


def test_parse_slice():
    assert parse_slice("0:64") == slice(0, 64, None)
    assert parse_slice(":-1") == slice(None, -1, None)
    assert parse_slice("::2") == slice(None, None, 2)
