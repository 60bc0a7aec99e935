"""The config schema and the safe YAML reader (convcli/config.py)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from convcli.config import format_loc, load_config, parse_slice, read_yaml
from convcli.errors import ConvcliError
from test_cli_helpers import SEED, SMALL, alias_bomb, write


def load(tmp_path, text):
    return load_config(write(tmp_path, text))


def error(tmp_path, text) -> str:
    with pytest.raises(ConvcliError) as info:
        load(tmp_path, text)
    return str(info.value)


def test_yaml_12_numbers(tmp_path):
    # YAML 1.2.2, section 10.3.2: decimal ints may have leading zeros (010 is
    # 10, not YAML 1.1's octal 8), octal is 0o, hex 0x without a sign, and
    # neither underscores nor sexagesimal nor dates are numbers.
    text = ("a: 1e-6\nb: 1.0e6\nc: 10:20\nd: 010\ne: -2\nf: .5\ng: .inf\nh: 2024-01-01\n"
            "i: 0o17\nj: 0x1F\nk: 1_000\nl: -0x10\nm: +12\nn: 5.\no: -.Inf\n")
    data, _ = read_yaml(write(tmp_path, text), "x")
    assert data == {"a": 1e-6, "b": 1e6, "c": "10:20", "d": 10, "e": -2, "f": 0.5, "g": float("inf"),
                    "h": "2024-01-01", "i": 15, "j": 31, "k": "1_000", "l": "-0x10", "m": 12, "n": 5.0,
                    "o": float("-inf")}


def test_yaml_12_booleans_and_nulls(tmp_path):
    # The core schema's booleans are true/false only: an npz key or a layer
    # named no, on, yes or off is a string without quotes (YAML 1.1: a bool).
    text = "a: no\nb: on\nc: Yes\nd: OFF\ne: true\nf: False\ng: TRUE\nh: ~\ni: null\nj:\nk: NULL\n"
    data, _ = read_yaml(write(tmp_path, text), "x")
    assert data == {"a": "no", "b": "on", "c": "Yes", "d": "OFF", "e": True, "f": False, "g": True,
                    "h": None, "i": None, "j": None, "k": None}


@pytest.mark.parametrize("text, message", [
    ("a: !!int abc", "line 1, column 4: !!int 'abc' is not an integer"),
    ("a: !!bool maybe", "line 1, column 4: !!bool 'maybe' is not a boolean (true or false)"),
    ("a: !!int", "line 1, column 4: !!int '' is not an integer"),
    ('a: !!int "0o-7"', "line 1, column 4: !!int '0o-7' is not an integer"),
    ("a: !!float abc", "line 1, column 4: !!float 'abc' is not a number"),
    # a float beyond float64's range was a silent infinity (an expected value of 1e400 then failed as "inf")
    ("a: [1.0, 1e400]", "line 1, column 10: 1e400 is too large for a float64 number (at most "
                        "1.7976931348623157e308): write .inf for an infinity, or quote it if it is a name"),
    ("1e400: [1.0]", "line 1, column 1: 1e400 is too large for a float64 number"),  # a key: quote it
    ("a: -2.5E+308", "line 1, column 4: -2.5E+308 is too large for a float64 number"),
    ("a: !!float 1e999", "line 1, column 4: 1e999 is too large for a float64 number"),
])
def test_tags_and_floats_that_do_not_fit(tmp_path, text, message):
    with pytest.raises(ConvcliError, match=re.escape(message)):
        read_yaml(write(tmp_path, text + "\n"), "x")


def test_infinities_written_as_such_and_the_largest_floats_stay_numbers(tmp_path):
    data, _ = read_yaml(write(tmp_path, "a: [.inf, -.Inf, +.INF, 1.7976931348623157e308, -1e308, 1e-400]\n"), "x")
    assert data == {"a": [math.inf, -math.inf, math.inf, 1.7976931348623157e308, -1e308, 0.0]}


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
        # YAML 1.2 reads 001 as 1: the name is lost, and the message says to quote it
        ("{file: a.npz, key: 001}", "expected a string, got 1: a name YAML reads as a number or a boolean "
                                    "must be quoted, e.g. '001'"),
        ("{file: a.h5, dataset: true}", "expected a string, got true: a name YAML reads"),
        ("{random: []}", "expected a shape: a non-empty list of ints"),
        ("{zeros: []}", "expected a shape: a non-empty list of ints"),
        ("{ones: [2, 4611686018427387905]}", "every size in a shape must be at most 2**62"),
        ("{value: [[1, 2], [3]]}",
         "not a rectangular array of numbers: item 0 has shape (2,) but item 1 has shape (1,)"),
        ("{value: [[], []]}", "holds no numbers (shape (2, 0))"),
        ("{value: [1, " + "9" * 400 + "]}", "9" * 37 + "... is too large for a float64 number"),
        ("{random: [2], scale: " + "9" * 400 + "}", "is too large for a float64 number"),
        ("{random: [2], scale: .inf}", "scale (line 3): must be a finite number, got inf"),
    ],
)
def test_bad_sources(tmp_path, source, fragment):
    text = SEED.replace("A_prev: {random: [10, 4, 4, 3]}", f"A_prev: {source}")
    assert fragment in error(tmp_path, text)


def test_pad_forms(tmp_path):
    for pad in ("2", "[1, 2]", "[0, 1, 2, 3]", "same", "valid"):
        load(tmp_path, SEED.replace("pad: 2", f"pad: {pad}"))
    assert "did you mean 'same'?" in error(tmp_path, SEED.replace("pad: 2", "pad: sam"))
    message = error(tmp_path, SEED.replace("pad: 2", "pad: SAME"))
    assert message.count("did you mean 'same'?") == 1, message  # hparams' message has it; not added twice


def test_a_whole_float_for_a_size_says_to_write_the_int(tmp_path):
    """A learner's review: 'pad: 2.0' was refused with no word of why (an
    int is wanted); the message now says to write 2. Not for 1.5."""
    assert error(tmp_path, SEED.replace("pad: 2", "pad: 2.0")).endswith("got 2.0 (a float: write 2, not 2.0)")
    assert error(tmp_path, SEED.replace("stride: 1", "stride: [1.0, 2.0]")).endswith(
        "got [1.0, 2.0] (a float: write [1, 2], not [1.0, 2.0])")
    # (a later review) not where what it would say is refused too: a stride of 0, one past 2**62
    for key, wrong in (("pad: 2", "pad: 1.5"), ("stride: 1", "stride: 0.0"), ("stride: 1", "stride: -1.0"),
                       ("stride: 1", "stride: 1.0e+300")):
        said = error(tmp_path, SEED.replace(key, wrong))
        assert f"layers[0].{wrong.split(':')[0]}" in said and "a float" not in said, said


def test_grad_choices(tmp_path):
    for grad in ("output", "ones", "random", "{random: [10, 7, 7, 8]}", "{file: g.npy}"):
        load(tmp_path, SEED.replace("grad: output", f"grad: {grad}"))
    assert "backward.grad" in error(tmp_path, SEED.replace("grad: output", "grad: zeros"))


def test_tolerances_must_be_non_negative(tmp_path):
    assert "tolerance.rtol" in error(tmp_path, SEED + "tolerance: {rtol: -1}\n")


def test_tolerances_must_be_finite_float64_numbers(tmp_path):
    assert "tolerance.rtol (line 19): 99999999999999999999999999999999999" \
        "99... is too large for a float64 number" in error(tmp_path, SEED + "tolerance: {rtol: " + "9" * 400 + "}\n")
    text = SEED + "tolerance: {atol: .inf}\n"
    assert "tolerance.atol (line 19): must be a finite number, got inf" in error(tmp_path, text)


def test_an_integer_too_long_for_python_to_read_is_located(tmp_path):
    """Python refuses int() of more than 4300 digits with a ValueError."""
    text = SEED.replace("dW.mean: 10.581741275547566", "dW.mean: " + "9" * 5000)
    assert "cfg.yaml: line 17, column 12: an integer of 5000 digits is too long to be a number" in error(tmp_path, text)


def test_value_shape_measures_an_alias_bomb_without_building_it(tmp_path):
    """10**25 elements: only a walk that measures each shared list once ends."""
    from convcli.config import value_shape

    data, _ = read_yaml(write(tmp_path, "v: " + alias_bomb(25)), "x")
    assert value_shape(data["v"]) == (10,) * 25


def test_value_shape_of_numbers_and_nested_lists():
    from convcli.config import value_shape

    assert value_shape(2.5) == ()
    assert value_shape([[1, 2, 3], [4, 5, 6]]) == (2, 3)
    assert value_shape([]) == (0,)
    shared = [1.0, 2.0]
    assert value_shape([shared, shared, shared]) == (3, 2)
    for bad, fragment in [([[1], [2, 3]], "item 0 has shape (1,) but item 1 has shape (2,)"),
                          ([1, [2]], "item 0 has shape () but item 1 has shape (1,)"),
                          ([1, "a"], "expected a number or a nested list of numbers, got 'a'"),
                          ([True], "got true"), (10**400, "is too large for a float64 number")]:
        with pytest.raises(ValueError) as info:
            value_shape(bad)
        assert fragment in str(info.value)


def test_a_shared_list_deeper_than_it_was_first_met_is_capped():
    """Met first at depth 1, then again at depth 31, where its inner list is
    at depth 32: too deep, though its measure was taken where it was not."""
    from convcli.config import value_shape

    shared = [[1.0]]
    deep = shared
    for _ in range(30):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deeply"):
        value_shape([shared, deep])


def test_format_loc():
    assert format_loc(("layers", 0, "<conv>", "stride")) == "layers[0].stride"
    assert format_loc(("expected", "dW.mean")) == "expected['dW.mean']"


def test_parse_slice():
    assert parse_slice("0:64") == slice(0, 64, None)
    assert parse_slice(":-1") == slice(None, -1, None)
    assert parse_slice("::2") == slice(None, None, 2)


@pytest.mark.parametrize("text", ["-:", ":-", "-:-", "1:-"])
def test_a_slice_bound_that_is_a_sign_alone_is_a_clear_error(tmp_path, text):
    """A review: "-:" gave "Value error, invalid literal for int() with
    base 10: '-'"; the message that names the form expected is the rule's."""
    from test_cli_helpers import assert_error, run

    np.save(tmp_path / "x.npy", np.zeros((4, 3, 3, 1)))
    cfg = write(tmp_path, f'inputs:\n  A_prev: {{file: x.npy, slice: "{text}"}}\nlayers: [{{type: relu}}]\n')
    line = assert_error(run(["shapes", cfg]), "inputs.A_prev.slice", "expected a slice over the first axis like '0:64'")
    assert "int()" not in line


# --------------------------------------------------------------------- nesting, reading


def nested_value(levels: int) -> str:
    return "inputs: {A_prev: {value: " + "[" * levels + "1" + "]" * levels + "}}\nlayers: [{type: relu}]\n"


@pytest.mark.parametrize("levels", [30, 3000])
def test_nesting_deeper_than_32_levels_is_one_line_exit_2(tmp_path, levels):
    """3000 levels used to end in RecursionError (exit 3). The root mapping,
    inputs and A_prev are 3 levels, so value: may hold 29 lists, not 30."""
    from test_cli_helpers import assert_error, run

    cfg = write(tmp_path, nested_value(levels))
    assert_error(run(["shapes", cfg]), "cfg.yaml: line 1, column 55:",
                 "nested too deeply: more than 32 levels of lists and mappings")


def test_32_levels_are_read(tmp_path):
    value = load(tmp_path, nested_value(29)).model.inputs["A_prev"].value
    for _ in range(29):
        value = value[0]
    assert value == 1


def test_deep_mappings_and_expected_files_are_capped_too(tmp_path):
    from convcli.config import read_expected_file

    deep = "expected:\n  Z: " + "{a: " * 200 + "1" + "}" * 200 + "\n"
    with pytest.raises(ConvcliError, match="nested too deeply"):
        read_expected_file(write(tmp_path, deep, "exp.yaml"))


def test_values_built_in_python_are_capped_as_well(tmp_path):
    """validate() takes data that did not come through the YAML reader."""
    from convcli.config import validate

    value = 1.0
    for _ in range(3000):
        value = [value]
    data = {"inputs": {"A_prev": {"value": value}}, "layers": [{"type": "relu"}]}
    with pytest.raises(ConvcliError, match=r"x.yaml: inputs.A_prev.value: nested too deeply"):
        validate(data, {}, tmp_path / "x.yaml", "x.yaml")


def test_the_config_is_read_once_and_its_hash_is_of_those_bytes(tmp_path, monkeypatch):
    import hashlib
    from pathlib import Path

    import builtins

    import convcli.config

    path = write(tmp_path, SEED)
    reads = []

    def counting(file, *args, **kwargs):
        reads.append(Path(file))
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(convcli.config, "open", counting, raising=False)  # found before the builtin
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read again"))
    cfg = load_config(path)
    assert reads == [path]
    assert cfg.sha256 == hashlib.sha256(SEED.encode()).hexdigest()


# --------------------------------------------------------------------- one rule for hyperparameters


@pytest.mark.parametrize("pad", [0, 3, [1, 2], [0, 1, 2, 3], -1, [1, -2], [1, 2, 3], 1.5, True, "sam", [], None])
def test_pad_is_checked_by_the_core_s_own_rule(tmp_path, pad):
    """config accepts exactly the pads hparams.pad_sides (the layers' rule)
    accepts, plus same/valid, with hparams' message (null and true said as
    the YAML wrote them, not as Python's None and True)."""
    import yaml

    from convcli.hparams import pad_sides

    text = SEED.replace("pad: 2", f"pad: {yaml.safe_dump(pad, default_flow_style=True).strip().removesuffix('...').strip()}")
    try:
        pad_sides(pad, name="")
    except ValueError as exc:
        said = str(exc)
        if pad is None or pad is True:
            said = said.replace(f"got {pad}", f"got {'null' if pad is None else 'true'}")
        assert said in error(tmp_path, text)
    else:
        assert load(tmp_path, text).model.layers[0].pad == pad


def test_choices_use_the_core_s_rule_and_add_a_hint(tmp_path):
    text = SEED.replace("bias: window", "bias: windw")
    assert "layers[0].bias (line 7): expected one of once, window, got 'windw' (did you mean 'window'?)" in error(
        tmp_path, text)


def test_slice_text_is_parse_slice_backwards():
    from convcli.config import Source, slice_text

    for text in ("0:64", "10:", ":-1", "::2", "1:9:3"):
        assert slice_text(parse_slice(text)) == text
    assert slice_text(slice(0, 4, 1)) == "0:4"
    assert Source(file="a.h5", dataset="x", slice="2:8:2").describe() == "a.h5[x] rows 2:8:2"


@pytest.mark.parametrize("change, where, what", [
    # a review's campaign: messages in the words the YAML was written in, and the fix
    ("seed: 1", "seed (line 1)", "got true"),
    ("stride: 1", "layers[0].stride", "got null"),
    ("name: conv1", "layers[0].name", "starts with a letter or _, got 'r/x'"),
    ("slice", "inputs.A_prev.slice", "the slice step must be >= 1, got '::-1'"),
    ("file", "inputs.A_prev", "file: is empty; give a path such as x.npy"),
    ("b: b", "layers[0].b", "expected the name of an input (e.g. b), got false; a conv without a bias takes"),
    ("grad", "backward.grad", "expected output, ones, random or a source such as {file: dZ.npy}, got null"),
    ("input name", "inputs", "input name 'a_very_long_input_name_that_goes_on...': a name is"),
])
def test_messages_say_the_yaml_as_written(tmp_path, change, where, what):
    text = ("seed: 1\ninputs:\n  A_prev: {random: [1, 4, 4, 1]}\n  W: {random: [2, 2, 1, 1]}\n  b: {random: [1]}\n"
            "layers:\n  - {type: conv, name: conv1, W: W, b: b, stride: 1}\n")
    text = {
        "seed: 1": text.replace("seed: 1", "seed: true"),
        "stride: 1": text.replace("stride: 1", "stride: null"),
        "name: conv1": text.replace("name: conv1", "name: r/x"),
        "slice": text.replace("{random: [1, 4, 4, 1]}", "{file: a.npy, slice: '::-1'}"),
        "file": text.replace("{random: [1, 4, 4, 1]}", "{file: ''}"),
        "b: b": text.replace("b: b,", "b: false,"),
        "grad": text + "backward: {grad: null}\n",
        "input name": text.replace("  b: {random: [1]}\n", "  b: {random: [1]}\n  " + "a_very_long_input_name_that_goes_on" * 3
                                   + "!: {random: [1]}\n"),
    }[change]
    message = error(tmp_path, text)
    assert f": {where}" in message and what in message, message


def test_a_file_without_extension_and_a_null_pad_are_said_as_written(tmp_path):
    """A learner's review: file: m (a folder) was an "unsupported file type
    '(none)'", and pad: null "got None" where stride: null says null."""
    (tmp_path / "m").mkdir()
    said = error(tmp_path, "inputs: {A_prev: {file: m}}\nlayers: [{type: relu}]\n")
    assert said.endswith("inputs.A_prev (line 1): file: m has no extension: expected an .npy, .npz (or a .zip of "
                         ".npy files), .h5 or .hdf5 file"), said
    conv = "inputs: {A_prev: {random: [1, 4, 4, 1]}, W: {random: [2, 2, 1, 1]}, b: {random: [1]}}\n" \
           "layers: [{type: conv, W: W, b: b, pad: PAD}]\n"
    for written in ("null", "~", "false"):
        said = error(tmp_path, conv.replace("PAD", written))
        assert said.endswith("layers[0].pad (line 2): expected an int, [p_H, p_W], [top, bottom, left, right], "
                             f"'same' or 'valid', got {'null' if written != 'false' else 'false'}"), said


def test_names_that_differ_only_in_case_are_refused(tmp_path):
    """A review: inputs A_prev and a_prev, layers Act and act, ran and wrote
    act.A.npy beside Act.A.npy: one file on macOS and Windows, the second
    written over the first while summary.json described both."""
    text = ("inputs:\n  A_prev: {random: [1, 4, 4, 1]}\n  a_prev: {random: [1, 4, 4, 1]}\n"
            "layers:\n  - {type: relu}\n")
    assert "input name 'a_prev' differs from the input 'A_prev' only in case" in error(tmp_path, text)
    text = "inputs:\n  A_prev: {random: [1, 4, 4, 1]}\nlayers:\n  - {type: relu, name: Act}\n  - {type: relu, name: act}\n"
    said = error(tmp_path, text)
    assert "layers[1].name" in said and "layer name 'act' differs from layers[0]'s 'Act' only in case" in said, said
    load(tmp_path, text.replace("name: act", "name: act2"))  # names that differ otherwise are fine
