"""Bad arguments raise ValueError naming the argument (and the shapes involved).

DESIGN.md section 5: "Bad arguments raise ``ValueError`` with a message that
names the argument and the shapes involved." Each case below is one mistake
on an otherwise valid call; the pattern requires the argument's name as a
word and, where shapes are the point, the shapes.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import convcli as cc

rng = np.random.default_rng(0)
A = rng.standard_normal((1, 4, 4, 3))
W = rng.standard_normal((2, 2, 3, 2))
b = rng.standard_normal((1, 1, 1, 2))
CONV_HP = {"stride": 1, "pad": 1}
POOL_HP = {"f": 2, "stride": 2}

Z, CONV_CACHE = cc.conv_forward(A, W, b, CONV_HP)
P, POOL_CACHE = cc.pool_forward(A, POOL_HP)
R, RELU_CACHE = cc.relu_forward(A)


def conv(hp=None, A_prev=A, W=W, b=b, **kw):
    return lambda: cc.conv_forward(A_prev, W, b, CONV_HP if hp is None else hp, **kw)


def pool(hp=None, A_prev=A, **kw):
    return lambda: cc.pool_forward(A_prev, POOL_HP if hp is None else hp, **kw)


def names(arg, *shapes):
    """Regex: ``arg`` as a word, then each shape (in order, anywhere after)."""
    return r"\b" + re.escape(arg) + r"\b" + "".join(".*" + re.escape(str(s)) for s in shapes)


CASES = {
    # shapes that do not fit together
    "channel mismatch": (conv(W=np.zeros((2, 2, 4, 2))), names("W", (1, 4, 4, 3), (2, 2, 4, 2))),
    "bias too many channels": (conv(b=np.zeros((1, 1, 1, 3))), names("b", (1, 1, 1, 3))),
    "bias wrong rank": (conv(b=np.zeros((1, 2))), names("b", (1, 2))),
    # b with W's n_C values in another shape: reshaped, not W's layout (which would not change its count)
    "bias right count, wrong shape": (
        conv(A_prev=np.zeros((1, 4, 4, 3)), W=np.zeros((3, 3, 3, 3)), b=np.zeros((1, 3))),
        r"^b: expected shape \(1, 1, 1, 3\) or \(3,\) to match W \(3, 3, 3, 3\), got \(1, 3\); it has the 3 "
        r"values W needs, in another shape: b\.reshape\(3\)$"),
    # an input of no channels named before the W that fits it
    "no input channels": (conv(A_prev=np.zeros((2, 4, 4, 0)), W=np.zeros((2, 2, 0, 5)), b=np.zeros(5)),
                          r"^A_prev: every dimension must be >= 1, got shape \(2, 4, 4, 0\)$"),
    # PyTorch's (n_C, n_C_prev, f_H, f_W) weights: named, with the transpose that fixes them
    "W in PyTorch's layout": (
        conv(W=np.zeros((2, 3, 2, 2)), b=np.zeros(2)),
        names("W", "channel mismatch", (2, 3, 2, 2), "PyTorch's", "W.transpose(2, 3, 1, 0)")),
    # ... and where W fits either way (f = n_C_prev = 3), b is named, PyTorch's layout offered as the other reading
    "W in PyTorch's layout, f = n_C_prev": (
        conv(A_prev=np.zeros((1, 4, 4, 3)), W=np.zeros((4, 3, 3, 3)), b=np.zeros(4)),
        names("b", (4, 3, 3, 3), (4,), "if W is in PyTorch's", "W.transpose(2, 3, 1, 0) has 4")),
    # hyperparameters out of range
    "conv stride 0": (conv({"stride": 0}), names("stride")),
    "conv stride pair with 0": (conv({"stride": [1, 0]}), names("stride")),
    "conv stride negative": (conv({"stride": -2}), names("stride")),
    "conv stride float": (conv({"stride": 1.5}), names("stride")),
    "conv stride bool": (conv({"stride": True}), names("stride")),
    "pool stride 0": (pool({"f": 2, "stride": 0}), names("stride")),
    "pool f 0": (pool({"f": 0}), names("f")),
    "pool f pair with 0": (pool({"f": [2, 0]}), names("f")),
    "pool f missing": (pool({"stride": 1}), names("f")),
    "dilation 0": (conv({"dilation": 0}), names("dilation")),
    "dilation pair with 0": (conv({"dilation": [0, 1]}), names("dilation")),
    "pad negative": (conv({"pad": -1}), names("pad")),
    "pad pair negative": (conv({"pad": [0, -1]}), names("pad")),
    "pad quad negative": (conv({"pad": [0, 0, -1, 0]}), names("pad")),
    "pad three values": (conv({"pad": [1, 2, 3]}), names("pad")),
    "pad unknown word": (conv({"pad": "full"}), names("pad")),
    "pad float": (conv({"pad": 1.5}), names("pad")),
    "pad ndarray": (conv({"pad": np.array([1, 1])}), names("pad")),
    "conv f disagrees with W": (conv({"f": 3}), names("f", (2, 2, 3, 2))),
    # output smaller than one element
    "conv output size": (conv({"pad": 0}, A_prev=np.zeros((1, 1, 3, 3))),
                         names("output size", (1, 1, 3, 3), (2, 2, 3, 2))),
    "conv output size by dilation": (conv({"dilation": 4}), names("output size", (1, 4, 4, 3))),
    "pool output size": (pool({"f": 5}), names("output size", (1, 4, 4, 3))),
    # wrong number of dimensions
    "conv A_prev 3-D": (conv(A_prev=np.zeros((4, 4, 3))), names("A_prev", (4, 4, 3))),
    "conv W 3-D": (conv(W=np.zeros((2, 2, 3))), names("W", (2, 2, 3))),
    "pool A_prev 5-D": (pool(A_prev=np.zeros((1, 1, 4, 4, 3))), names("A_prev", (1, 1, 4, 4, 3))),
    "conv dZ 3-D": (lambda: cc.conv_backward(Z[0], CONV_CACHE), names("dZ", Z[0].shape)),
    "pool dA 3-D": (lambda: cc.pool_backward(P[0], POOL_CACHE), names("dA", P[0].shape)),
    # not numbers
    "A_prev strings": (conv(A_prev=np.full((1, 4, 4, 3), "x")), names("A_prev")),
    "A_prev objects": (conv(A_prev=np.empty((1, 4, 4, 3), dtype=object)), names("A_prev")),
    "W strings": (conv(W=np.full((2, 2, 3, 2), "1")), names("W")),
    "b complex": (conv(b=np.zeros((1, 1, 1, 2), dtype=complex)), names("b")),
    "pool A_prev strings": (pool(A_prev=np.full((1, 4, 4, 3), "x")), names("A_prev")),
    "dZ objects": (lambda: cc.conv_backward(np.empty(Z.shape, dtype=object), CONV_CACHE),
                   names("dZ")),
    "dA strings": (lambda: cc.pool_backward(np.full(P.shape, "x"), POOL_CACHE), names("dA")),
    # caches that do not belong to the call
    "pool cache to conv_backward": (lambda: cc.conv_backward(Z, POOL_CACHE), names("cache")),
    "relu cache to conv_backward": (lambda: cc.conv_backward(Z, RELU_CACHE), names("cache")),
    "conv cache to pool_backward": (lambda: cc.pool_backward(P, CONV_CACHE), names("cache")),
    "relu cache to pool_backward": (lambda: cc.pool_backward(P, RELU_CACHE), names("cache")),
    "conv cache to relu_backward": (lambda: cc.relu_backward(R, CONV_CACHE), names("cache")),
    "garbage cache to conv_backward": (lambda: cc.conv_backward(Z, "cache?"), names("cache")),
    "garbage tuple to conv_backward": (lambda: cc.conv_backward(Z, (1, 2, 3, 4)), names("cache")),
    "garbage cache to pool_backward": (lambda: cc.pool_backward(P, None), names("cache")),
    # (a list of the notebook's items is as good as its tuple: a conv's is still no pool's)
    "conv cache as a list to pool_backward": (lambda: cc.pool_backward(P, list(CONV_CACHE)), names("cache")),
    "conv cache with pool state": (lambda: cc.conv_backward(Z, CONV_CACHE[:4] + (POOL_CACHE.state,)),
                                   names("cache")),
    # upstream gradient of the wrong shape
    "dZ wrong shape": (lambda: cc.conv_backward(np.zeros((1, 5, 5, 3)), CONV_CACHE),
                       names("dZ", (1, 5, 5, 3), Z.shape, "is the cache from the forward of the layer")),
    "dZ in NCHW": (lambda: cc.conv_backward(Z.transpose(0, 3, 1, 2), CONV_CACHE),
                   names("dZ", Z.transpose(0, 3, 1, 2).shape, Z.shape, "NCHW", "transpose(0, 2, 3, 1)")),
    "A_prev in NCHW": (conv(A_prev=np.zeros((1, 3, 4, 5))), names("W", (1, 3, 4, 5), "NCHW",
                                                                 "A_prev.transpose(0, 2, 3, 1)")),
    "dA wrong shape": (lambda: cc.pool_backward(np.zeros((1, 2, 2, 2)), POOL_CACHE),
                       names("dA", (1, 2, 2, 2), P.shape)),
    "relu dA wrong shape": (lambda: cc.relu_backward(np.zeros((1, 4, 4, 2)), RELU_CACHE),
                            names("dA", (1, 4, 4, 2))),
    # unknown names and choices
    "conv unknown key": (conv({"strides": 1}), names("strides", "did you mean 'stride'?")),
    "conv PyTorch's padding": (conv({"padding": 1}), names("padding", "did you mean 'pad'?")),
    "pool PyTorch's padding": (pool({"f": 2, "padding": 1}), names("padding", "pooling has no padding")),
    "unknown keys of mixed types": (conv({1: 2, "strides": 3}), names("hparameters")),
    "a pad no array can hold": (conv({"pad": 10**9}), names("pad", A.shape)),
    "an output no array can hold": (conv({}, W=np.broadcast_to(0.0, (1, 1, 3, 2**58)),
                                         b=np.broadcast_to(0.0, (2**58,))), names("output size", (1, 1, 3, 2**58))),
    "mode an array": (pool(mode=np.array(["max", "average"])), names("mode")),
    "engine an array": (conv(engine=np.array(["fast"])), names("engine")),
    "bias an array": (lambda: cc.conv_single_step(A[0, :2, :2], W[..., 0], b[..., 0],
                                                  bias=np.array(["once", "window"])), names("bias")),
    "pool unknown key": (pool({"f": 2, "pad": 1}), names("pad", "pooling has no padding")),
    "hparameters not a dict": (conv([("stride", 1)]), names("hparameters")),
    "conv bad engine": (conv(engine="turbo"), names("engine")),
    "pool bad engine": (pool(engine="turbo"), names("engine")),
    "conv_backward bad engine": (lambda: cc.conv_backward(Z, CONV_CACHE, engine="turbo"),
                                 names("engine")),
    "pool_backward bad engine": (lambda: cc.pool_backward(P, POOL_CACHE, engine="turbo"),
                                 names("engine")),
    "pool bad mode": (pool(mode="min"), names("mode")),
    "pool_backward bad mode": (lambda: cc.pool_backward(P, POOL_CACHE, mode="min"), names("mode")),
    "bad ties": (pool({"f": 2, "ties": "last"}), names("ties")),
    "bad bias mode": (conv({"bias": "twice"}), names("bias")),
    "conv_single_step bad bias mode": (
        lambda: cc.conv_single_step(A[0, :2, :2], W[..., 0], b[..., 0], bias="twice"), names("bias")),
    # its documented Raises: no broadcasting of W over a window, one bias value (checked once, outside the
    # reference engine's per-element arithmetic: a code review)
    "conv_single_step W not the window's shape": (
        lambda: cc.conv_single_step(np.zeros((2, 2, 3)), np.zeros((2, 2, 1)), 0.0),
        r"^W: shape \(2, 2, 1\) does not match a_slice_prev \(2, 2, 3\)$"),
    "conv_single_step two biases": (lambda: cc.conv_single_step(np.zeros((2, 2, 3)), np.zeros((2, 2, 3)), [0.0, 1.0]),
                                    r"^b: expected a single value, got shape \(2,\)$"),
    "create_mask bad ties": (lambda: cc.create_mask_from_window(np.eye(2), ties="last"),
                             names("ties")),
    # the notebook's helpers
    "distribute_value shape of 3": (lambda: cc.distribute_value(1.0, (2, 2, 2)), names("shape", (2, 2, 2))),
    "distribute_value shape an int": (lambda: cc.distribute_value(1.0, 5), names("shape", 5)),
    "distribute_value shape of floats": (lambda: cc.distribute_value(1.0, (2.5, 2)), names("shape")),
    # the course's dz is one number: an array of several is no window's gradient
    "distribute_value dz of two": (lambda: cc.distribute_value(np.array([4.0, 1.0]), (2, 2)), names("dz", (2,))),
    "distribute_value dz a list": (lambda: cc.distribute_value([1, 2, 3], (2, 2)), names("dz", (3,))),
    "distribute_value dz a string": (lambda: cc.distribute_value("a", (2, 2)), names("dz")),
    "distribute_value dz None": (lambda: cc.distribute_value(None, (2, 2)), names("dz")),
    "zero_pad three values": (lambda: cc.zero_pad(A, [1, 2, 3]), names("pad", [1, 2, 3])),
    # past any array's size: NumPy's own "array is too big" names nothing
    "zero_pad beyond any array": (lambda: cc.zero_pad(A, 2**40), names("pad", (1, 4, 4, 3), "more elements")),
    # arguments swapped: the dict is named for what it is
    "conv hparameters given as b": (lambda: cc.conv_forward(A, W, CONV_HP, b), names("b", "got dict")),
    "conv b None": (conv(b=None), names("b", "got None")),
    # the course's pool_forward takes mode as an argument, not a hyperparameter
    "pool mode among hparameters": (pool({"f": 2, "mode": "max"}), names("mode", "mode=")),
    "create_mask ties an array": (lambda: cc.create_mask_from_window(np.eye(2), ties=np.array(["all", "first"])),
                                  names("ties")),
    # a letter's case, or a short name, away from a valid word: the error offers it
    "pad SAME": (conv({"pad": "SAME"}), names("pad", "did you mean 'same'")),
    "pool mode MAX": (lambda: cc.pool_forward(A, POOL_HP, mode="MAX"), names("mode", "did you mean 'max'")),
    "pool mode avg": (lambda: cc.pool_forward(A, POOL_HP, mode="avg"), names("mode", "did you mean 'average'")),
    "engine Fast": (conv(engine="Fast"), names("engine", "did you mean 'fast'")),
    "ties First": (pool({"f": 2, "ties": "First"}), names("ties", "did you mean 'first'")),
    # a masked array: the engines had no shared rule for its mask (a review: a 2x2 conv of ones with
    # one element masked gave 4 by the fast engine, 3 by the reference)
    "conv A_prev masked": (conv(A_prev=np.ma.masked_array(A, mask=A > 1)), names("A_prev", "masked array")),
    "conv W masked": (conv(W=np.ma.masked_array(W)), names("W", "masked array")),
    "pool A_prev masked": (pool(A_prev=np.ma.masked_array(A, mask=A > 1)), names("A_prev", "masked array")),
    "conv dZ masked": (lambda: cc.conv_backward(np.ma.masked_array(Z), CONV_CACHE), names("dZ", "masked array")),
    "relu Z masked": (lambda: cc.relu_forward(np.ma.masked_array(A)), names("Z", "masked array")),
    # a window too large to make: NumPy's MemoryError or "maximum dimension" named no argument
    "distribute_value huge shape": (lambda: cc.distribute_value(1.0, (10**7, 10**7)), names("shape", "GiB")),
    "distribute_value shape past an array": (lambda: cc.distribute_value(1.0, (2**63, 2**63)),
                                             names("shape", "more elements than an array can hold")),
    # a cache whose b was swapped for another layer's
    "conv cache with another b": (
        lambda: cc.conv_backward(Z, CONV_CACHE[:2] + (np.zeros(3),) + CONV_CACHE[3:] + (CONV_CACHE.state,)),
        names("cache", "b", (3,))),
}


@pytest.mark.parametrize("word", ["same", "valid"])
def test_zero_pad_does_not_offer_what_it_refuses(word):
    """'same' and 'valid' need a kernel, which zero_pad has not: its error
    says so instead of listing them among the accepted values."""
    with pytest.raises(ValueError) as info:
        cc.zero_pad(A, word)
    message = str(info.value)
    assert message.startswith("pad: ") and f"got '{word}'" in message
    assert "'same' or 'valid'" not in message and "need a kernel" in message


@pytest.mark.parametrize("call, pattern", CASES.values(), ids=CASES.keys())
def test_bad_argument_raises_value_error_naming_it(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_the_baseline_calls_are_valid():
    """The cases above differ from these calls in one argument only, so their
    errors come from that argument."""
    assert cc.conv_forward(A, W, b, CONV_HP)[0].shape == (1, 5, 5, 2)
    assert cc.pool_forward(A, POOL_HP)[0].shape == (1, 2, 2, 3)
    assert cc.conv_backward(Z, CONV_CACHE)[0].shape == A.shape
    assert cc.pool_backward(P, POOL_CACHE).shape == A.shape
    assert cc.relu_backward(R, RELU_CACHE).shape == A.shape


@pytest.mark.parametrize("pad", [0, [0, 0], [0, 0, 0, 0], "valid"])
def test_a_pool_takes_a_pad_of_zero_from_a_dict_shared_with_a_conv(pad):
    """A review: DESIGN's hparameters hold the notebook's keys (stride, pad,
    f), conv_forward accepted a matching f, but pool_forward refused pad 0."""
    A = np.arange(32.0).reshape(2, 4, 4, 1)
    P, _ = cc.pool_forward(A, {"f": 2, "stride": 2, "pad": pad})
    # by hand: the max of each 2x2 block of 0..15 (row-major 4x4) is its bottom-right element
    np.testing.assert_array_equal(P[0, :, :, 0], [[5.0, 7.0], [13.0, 15.0]])


def test_a_conv_cache_built_by_hand_may_hold_lists_and_a_wrong_item_is_named():
    """A review: a cache built as the notebook's conv_forward builds it, with
    b a list (conv_forward itself takes one), was "not a conv cache", which
    did not say which item was wrong."""
    rng = np.random.RandomState(1)
    A, W, b, hp = rng.randn(2, 4, 4, 3), rng.randn(2, 2, 3, 8), rng.randn(1, 1, 1, 8), {"pad": 2, "stride": 1}
    Z, _ = cc.conv_forward(A, W, b, hp)
    for ours, theirs in zip(cc.conv_backward(Z, (A, W, b, hp)), cc.conv_backward(Z, (A, W.tolist(), b.tolist(), hp))):
        np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(ValueError, match=r"^cache: item 3, b, is a str, not an array of numbers"):
        cc.conv_backward(Z, (A, W, "b", hp))
    with pytest.raises(ValueError, match=r"^cache: item 4, hparameters, is a list, not a dict"):
        cc.conv_backward(Z, (A, W, b, [hp]))


def test_a_relu_cache_may_be_a_list_as_the_other_layers_may():
    """A review: relu_backward refused [Z] where conv_backward and
    pool_backward take their caches as lists."""
    dA = rng.standard_normal(R.shape)
    np.testing.assert_array_equal(cc.relu_backward(dA, [A]), cc.relu_backward(dA, RELU_CACHE))


def test_the_course_s_relu_cache_computes_in_relu_forward_s_dtype():
    """A review: with the course's cache, Z itself, relu_backward returned
    dZ in Z's own dtype: an integer Z truncated the gradient to integers, a
    float16 one overflowed, a bool one gave bools, and a complex or a masked
    Z, which relu_forward refuses, passed. By hand: dZ = dA where Z > 0."""
    dA = np.array([0.7, 0.7, 7e4])
    for Z, dtype in ((np.array([1, -2, 3]), np.float64), (np.array([True, False, True]), np.float64),
                     (np.array([1.0, -2.0, 3.0], dtype=np.float16), np.float32)):
        for cache in (Z, (Z,)):
            dZ = cc.relu_backward(dA, cache)
            assert dZ.dtype == dtype
            np.testing.assert_array_equal(dZ, np.array([0.7, 0.0, 7e4], dtype=dtype))
    for Z, fragment in ((np.array([1 + 1j, -1, 2]), "cache: Z: expected a real numeric array, got dtype complex"),
                        (np.array(["a", "b", "c"]), "cache: Z: expected a real numeric array, got dtype <U1"),
                        (np.ma.masked_array([1.0, -1.0, 2.0], [0, 1, 0]), "cache: Z: a masked array")):
        with pytest.raises(ValueError, match="^" + re.escape(fragment)):
            cc.relu_backward(dA, Z)


def test_a_pool_cache_built_by_hand_may_hold_a_list():
    """Two reviews: pool_forward takes A_prev as a list, and the README says
    pool_backward takes the notebook's (A_prev, hparameters) with lists where
    the forward takes them, but a list A_prev was "not a pool cache". By
    hand: each 2x2 block of 0..15's maximum is its bottom-right element."""
    A = np.arange(16.0).reshape(1, 4, 4, 1)
    P, _ = cc.pool_forward(A.tolist(), {"f": 2})
    dA_prev = cc.pool_backward(np.ones_like(P), (A.tolist(), {"f": 2}))
    expected = np.zeros((4, 4))
    expected[1::2, 1::2] = 1
    np.testing.assert_array_equal(dA_prev[0, :, :, 0], expected)
    with pytest.raises(ValueError, match=r"^cache: item 1, A_prev, is a str, not an array of numbers"):
        cc.pool_backward(np.ones_like(P), ("A", {"f": 2}))
    # (a learner's review) the notebook's items in a list, for either layer, as in a tuple
    np.testing.assert_array_equal(cc.pool_backward(np.ones_like(P), [A, {"f": 2}])[0, :, :, 0], expected)
    W, b = np.ones((1, 1, 1, 1)), np.zeros(1)
    Z, cache = cc.conv_forward(A, W, b, {})
    dA_prev, dW, db = cc.conv_backward(np.ones_like(Z), list(cache[:4]))
    np.testing.assert_array_equal(dA_prev, np.ones_like(A))  # 1x1 kernel of 1: dA_prev = dZ
    assert dW.item() == A.sum() and db.item() == 16.0


def test_a_cache_unpacks_as_the_notebook_s_and_its_backward_of_one_s_own_runs_on_it():
    """A learner's review: the notebook's conv_backward opens with
    (A_prev, W, b, hparameters) = cache and its pool_backward with
    (A_prev, hparameters) = cache; convcli's caches held the engine's state
    as one more item, so 'too many values to unpack' where a student ran
    convcli's forward before a backward of their own. The state rides
    outside the items (.state): the notebook's unpacking takes the cache,
    and convcli's backward still uses what it kept (the same gradients
    as from the notebook's own 4-tuple, checked by hand on a 1x1 kernel of
    ones: dA_prev = dZ, dW = sum of A, db = the count of dZ's ones).
    Copies and pickles keep the state; the course's relu helper's cache, Z
    itself, is taken."""
    import copy
    import pickle

    A = np.arange(16.0).reshape(1, 4, 4, 1)
    W, b = np.ones((1, 1, 1, 1)), np.zeros(1)
    Z, cache = cc.conv_forward(A, W, b, {})
    A_prev, W_, b_, hparameters = cache  # the notebook's own line
    assert A_prev is A and W_ is W and b_ is b and hparameters == {"stride": 1, "pad": 0} and len(cache) == 4
    assert cache.state is not None and cache.state.engine == "fast"
    for c in (cache, copy.copy(cache), pickle.loads(pickle.dumps(cache)), tuple(cache)):
        dA_prev, dW, db = cc.conv_backward(np.ones_like(Z), c)
        np.testing.assert_array_equal(dA_prev, np.ones_like(A))
        assert dW.item() == A.sum() and db.item() == 16.0
    assert pickle.loads(pickle.dumps(cache)).state.geometry == cache.state.geometry
    P, pcache = cc.pool_forward(A, {"f": 2})
    A_prev, hparameters = pcache
    assert A_prev is A and hparameters == {"f": 2, "stride": 2} and pcache.state.mode == "max"
    expected = np.zeros((4, 4))
    expected[1::2, 1::2] = 1
    np.testing.assert_array_equal(cc.pool_backward(np.ones_like(P), pcache)[0, :, :, 0], expected)
    Z = np.array([-1.0, 0.0, 2.0]).reshape(1, 1, 3, 1)
    np.testing.assert_array_equal(cc.relu_backward(np.full_like(Z, 5.0), Z).ravel(), [0.0, 0.0, 5.0])
    with pytest.raises(ValueError, match="cache: item 5 is not conv_forward's state"):
        cc.conv_backward(np.ones((1, 4, 4, 1)), (A, W, b, {}, pcache.state))  # another layer's state
    with pytest.raises(ValueError, match=r"got pool_forward's cache: is the gradient for the pool layer "
                                         r"\(pool_backward\)\?$"):
        cc.conv_backward(np.ones((1, 4, 4, 1)), pcache)


def test_a_cache_keeps_the_settings_it_was_made_with_when_the_caller_s_dict_changes():
    """An engineer's review: conv_forward's cache held the caller's own
    hparameters dict where it had stride and pad already, so a dict reused
    for the next layer changed the cache too; conv_backward on the cache
    then followed the forward's settings (its state) and on tuple(cache)
    the new ones, two different dA_prev of one cache with no error. The
    cache's dict is a copy: both are the forward's, by hand for a 1x1
    kernel of ones with pad 1 (dA_prev is dZ's middle, 1 everywhere)."""
    A = np.arange(16.0).reshape(1, 4, 4, 1)
    hp = {"pad": 1, "stride": 1}
    Z, cache = cc.conv_forward(A, np.ones((1, 1, 1, 1)), np.zeros(1), hp)
    php = {"f": 2, "stride": 2}
    P, pcache = cc.pool_forward(A, php)
    hp["pad"], php["stride"] = [2, 0, 2, 0], 1  # the same output shape for the conv
    assert cache[3] == {"pad": 1, "stride": 1} and pcache[1] == {"f": 2, "stride": 2}
    for c in (cache, tuple(cache)):
        np.testing.assert_array_equal(cc.conv_backward(np.ones_like(Z), c)[0], np.ones_like(A))
    # and a list in the dict changed in place (a review: the copy was shallow)
    hp = {"pad": [1, 1, 1, 1], "stride": 1}
    Z, cache = cc.conv_forward(A, np.ones((1, 1, 1, 1)), np.zeros(1), hp)
    hp["pad"][0], hp["pad"][1] = 2, 0
    assert cache[3] == {"pad": [1, 1, 1, 1], "stride": 1}
    for c in (cache, tuple(cache)):
        np.testing.assert_array_equal(cc.conv_backward(np.ones_like(Z), c)[0], np.ones_like(A))
    for c in (pcache, tuple(pcache)):
        assert cc.pool_backward(np.ones_like(P), c).sum() == P.size


def test_a_pad_too_large_for_the_machine_is_a_value_error_naming_pad(monkeypatch):
    """A review: pad 10**5 on a 3x3 input raised NumPy's MemoryError for 298
    GiB, naming no argument (and where memory is overcommitted it may be
    granted). The padded input is measured first, against the machine's
    memory (here made 1 GiB): (1, 200003, 200003, 1) is 149 GiB in float32."""
    import convcli.hparams as hparams

    monkeypatch.setattr(hparams, "_physical_memory", lambda: 2**30)  # 1 GiB
    A, W = np.ones((1, 3, 3, 1)), np.ones((2, 2, 1, 1))
    for call in (lambda: cc.conv_forward(A, W, np.zeros(1), {"pad": 10**5}),
                 lambda: cc.conv_forward(A, W, np.zeros(1), {"pad": 10**5}, engine="reference"),
                 lambda: cc.zero_pad(A, 10**5)):
        with pytest.raises(ValueError, match=r"^pad: .* makes the padded input \(1, 200003, 200003, 1\), "
                                             r"298 GiB in float64, more than this machine's memory \(1 GiB\)"):
            call()
    Z, _ = cc.conv_forward(A, W, np.zeros(1), {"pad": 100})  # (1, 203, 203, 1): 161 KiB
    assert Z.shape == (1, 202, 202, 1)
    # a later review: a cache built by hand never met the check, and the size was taken in float32 whatever
    # the dtype. With 2 GiB: (1, 20003, 20003, 1) is 1.49 GiB in float32, 2.98 in float64
    monkeypatch.setattr(hparams, "_physical_memory", lambda: 2 * 2**30)
    hp = {"pad": 10**4, "stride": 10**4}
    with pytest.raises(ValueError, match=r"^pad: .* \(1, 20003, 20003, 1\), 2.98 GiB in float64, more than"):
        cc.conv_forward(A, W, np.zeros(1), hp)
    for engine in ("fast", "reference"):
        with pytest.raises(ValueError, match=r"^pad: .* 2.98 GiB in float64, more than this machine's memory"):
            cc.conv_backward(np.ones((1, 3, 3, 1)), (A, W, np.zeros(1), hp), engine=engine)


def test_an_unpadded_layer_too_large_blames_its_output_not_a_pad():
    """A review: a layer with no padding whose Z would not fit the machine
    was refused for "pad: A_prev ... padded by (0, 0, 0, 0)", though no
    padding is made (A_prev is used as it is). A 1x1 kernel of one channel
    over (4096, 4096, 4096, 1): Z is (4096, 4096, 4096, 1), 2**36 float64
    elements, 512 GiB."""
    A = np.broadcast_to(0.0, (4096, 4096, 4096, 1))
    with pytest.raises(ValueError, match=r"^output size: A_prev \(4096, 4096, 4096, 1\) with pad \(0, 0, 0, 0\), "
                                         r"stride \(1, 1\), dilation \(1, 1\) gives Z \(4096, 4096, 4096, 1\), "
                                         r"512 GiB in float64, more than this machine's memory"):
        cc.conv_forward(A, np.ones((1, 1, 1, 1)), np.zeros(1), {})
    # A review of that change: at stride 4096, Z is (4096, 1, 1, 1) and the forward makes no copy of
    # A_prev, but its backward makes dA_prev of A_prev's 512 GiB: refused before, naming the cache's A_prev
    # (with the forward's cache and with the notebook's tuple), not NumPy's MemoryError
    W, b, hp = np.ones((1, 1, 1, 1)), np.zeros(1), {"stride": 4096}
    Z, cache = cc.conv_forward(A, W, b, hp)
    assert Z.shape == (4096, 1, 1, 1)
    for c in (cache, (A, W, b, hp)):
        with pytest.raises(ValueError, match=r"^cache: A_prev \(4096, 4096, 4096, 1\): its gradient dA_prev would "
                                             r"be 512 GiB in float64, more than this machine's memory"):
            cc.conv_backward(np.ones_like(Z), c)


def test_pool_and_relu_too_large_for_memory_are_value_errors_naming_what():
    """A review: as conv's, a pool or relu whose result would not fit the
    machine raised NumPy's MemoryError ("Unable to allocate 512. GiB"),
    naming no argument: the forward for its output, the backward (after a
    forward whose output was small, at stride 4096) for dA_prev."""
    A = np.broadcast_to(0.0, (4096, 4096, 4096, 1))  # 2**36 float64 elements: 512 GiB
    big = r"512 GiB in float64, more than this machine's memory"
    with pytest.raises(ValueError, match=r"^output size: A_prev \(4096, 4096, 4096, 1\) with f \(1, 1\), "
                                         r"stride \(1, 1\) gives A \(4096, 4096, 4096, 1\), " + big):
        cc.pool_forward(A, {"f": 1})
    P, cache = cc.pool_forward(A, {"f": 1, "stride": 4096})
    assert P.shape == (4096, 1, 1, 1)
    for mode in ("max", "average"):
        with pytest.raises(ValueError, match=r"^cache: A_prev \(4096, 4096, 4096, 1\): its gradient dA_prev "
                                             r"would be " + big):
            cc.pool_backward(np.ones_like(P), cache, mode=mode)
    with pytest.raises(ValueError, match=r"^Z: \(4096, 4096, 4096, 1\): A, of its shape, would be " + big):
        cc.relu_forward(A)
    with pytest.raises(ValueError, match=r"^cache: Z \(4096, 4096, 4096, 1\): dZ, of its shape, would be " + big):
        cc.relu_backward(np.broadcast_to(1.0, A.shape), A)


def test_a_pool_cache_built_by_hand_names_its_item_as_the_conv_one_does():
    """A review: a wrong A_prev or hparameters inside a pool cache built by
    hand was reported as the caller's own argument ("A_prev: ..."), where
    conv_backward says the cache's items do not make a layer."""
    dA = np.ones((1, 2, 2, 1))
    prefix = r"^cache: its items do not make a layer as \(A_prev, hparameters\): "
    for cache, rest in (((np.array([["a"]]), {"f": 2}), r"A_prev: expected a real numeric array, got dtype <U1"),
                        ((np.ones((1, 4, 4)), {"f": 2}), r"A_prev: expected 4 dimensions"),
                        ((np.ones((1, 4, 4, 1)), {"f": 5}), r"output size: A_prev \(1, 4, 4, 1\) with f \(5, 5\)")):
        with pytest.raises(ValueError, match=prefix + rest):
            cc.pool_backward(dA, cache)


def test_engine_none_is_the_default_forward_too():
    """A review: conv_backward and pool_backward took engine=None (the
    forward's), the forwards refused it, so a wrapper defaulting to None broke."""
    A, W = np.arange(48.0).reshape(1, 4, 4, 3), np.ones((2, 2, 3, 2))
    Z, cache = cc.conv_forward(A, W, np.zeros(2), {}, engine=None)
    np.testing.assert_array_equal(Z, cc.conv_forward(A, W, np.zeros(2), {})[0])
    assert cache.state.engine == "fast"
    P, cache = cc.pool_forward(A, {"f": 2}, engine=None)
    np.testing.assert_array_equal(P[0, :, :, 0], [[15.0, 21.0], [39.0, 45.0]])  # by hand: each block's last


def test_zero_pad_sizes_its_input_in_its_own_dtype(monkeypatch):
    """A review: zero_pad keeps X's dtype, but a uint8 X was sized as float32
    (four times its bytes) and the message said float32. 40002**2 bytes is
    1.49 GiB, over a machine made 1.25 GiB here."""
    import convcli.hparams as hparams

    monkeypatch.setattr(hparams, "_physical_memory", lambda: 5 * 2**28)
    X = np.broadcast_to(np.zeros(1, np.uint8), (1, 40000, 40000, 1))  # nothing allocated
    with pytest.raises(ValueError, match=r"^pad: X \(1, 40000, 40000, 1\) .* 1.49 GiB in uint8, more than"):
        cc.zero_pad(X, 1)


def test_a_forward_s_whole_return_value_as_the_cache_says_to_pass_its_second_item():
    """A learner's review: ``cache = conv_forward(...)`` (the pair, not its
    second item) read 'got tuple of 2 items', with no word of the slip;
    another layer's pair says whose backward takes its cache."""
    pairs = {"conv": (cc.conv_backward, Z, cc.conv_forward(A, W, b, CONV_HP), "Z"),
             "pool": (cc.pool_backward, P, cc.pool_forward(A, POOL_HP), "A"),
             "relu": (cc.relu_backward, R, cc.relu_forward(A), "A")}
    for name, (backward, grad, pair, output) in pairs.items():
        with pytest.raises(ValueError) as info:
            backward(grad, pair)
        assert str(info.value).startswith("cache: ") and str(info.value).endswith(
            f"; this looks like {name}_forward's whole return value, ({output}, cache): pass its second item "
            f"({output}, cache = {name}_forward(...))"), info.value
        with pytest.raises(ValueError) as info:  # as a list too
            backward(grad, list(pair))
        assert "pass its second item" in str(info.value)
    with pytest.raises(ValueError, match=r"this looks like pool_forward's whole return value, \(A, cache\), whose "
                                         r"cache is for pool_backward$"):
        cc.conv_backward(Z, cc.pool_forward(A, POOL_HP))
    with pytest.raises(ValueError, match=r"this looks like conv_forward's whole return value, \(Z, cache\), whose "
                                         r"cache is for conv_backward$"):
        cc.relu_backward(Z, cc.conv_forward(A, W, b, CONV_HP))


def test_a_backward_called_with_its_arguments_swapped_says_so():
    """A learner's review: ``relu_backward(cache, dA)`` (relu's cache may be
    Z itself, an array) read the tuple (Z,) as dA: 'dA: expected 4
    dimensions, got shape (1, ...)'. Each backward names the slip, for its
    cache as a tuple or a list; the right order still runs."""
    calls = {"conv": (cc.conv_backward, "dZ", cc.conv_forward(A, W, b, CONV_HP)),
             "pool": (cc.pool_backward, "dA", cc.pool_forward(A, POOL_HP)),
             "relu": (cc.relu_backward, "dA", cc.relu_forward(A))}
    for name, (backward, grad, (out, cache)) in calls.items():
        n = len(tuple(cache))
        for given in (cache, list(cache)):
            with pytest.raises(ValueError) as info:
                backward(given, np.ones_like(out))
            kind = "list" if isinstance(given, list) else "tuple"
            # relu's (Z,) has the make of a wrapped dA, [dA] (a review: 'swapped' alone misled there)
            wrapped = f", or {grad} is wrapped in a {kind}" if name == "relu" else ""
            assert str(info.value) == (f"{grad}: a {kind} of {n}, as a forward's cache is, and the cache an array: "
                                       f"the arguments look swapped{wrapped}; call {name}_backward({grad}, cache) "
                                       f"with {grad} the array itself"), info.value
        got = backward(np.ones_like(out), cache)
        assert (got[0] if isinstance(got, tuple) else got).shape == A.shape  # (relu's input is A too)
    R = np.linspace(-1, 1, 16).reshape(2, 2, 2, 2)
    with pytest.raises(ValueError, match=r"^dA: a list of 1, .* or dA is wrapped in a list; call "
                                         r"relu_backward\(dA, cache\) with dA the array itself$"):
        cc.relu_backward([np.ones_like(R)], R)
    # a list holding one sample's gradient is a dA, relu's cache Z itself (a later review: refused as swapped)
    Z = np.linspace(-1, 1, 18).reshape(1, 3, 3, 2)
    assert np.array_equal(cc.relu_backward([np.ones((3, 3, 2))], Z), (Z > 0).astype(float))


def test_a_hand_built_conv_cache_whose_items_do_not_fit_blames_the_cache():
    """A learner's review: a cache built by hand with its items out of order
    read 'W: channel mismatch', blaming an argument the caller never passed;
    and 'is a ndarray'."""
    for cache in ((W, A, b, CONV_HP), (Z, W, b, CONV_HP)):
        with pytest.raises(ValueError, match=r"^cache: its items do not make a layer as \(A_prev, W, b, "
                                             r"hparameters\): W: channel mismatch"):
            cc.conv_backward(Z, cache)
    with pytest.raises(ValueError, match=r"^cache: item 4, hparameters, is an ndarray, not a dict"):
        cc.conv_backward(Z, (A, W, CONV_HP, b))


@pytest.mark.parametrize("call, key, value", [
    (lambda hp: cc.conv_forward(A, W, b, hp), "pad", (3 - 1) / 2),
    (lambda hp: cc.conv_forward(A, W, b, hp), "stride", 2.0),
    (lambda hp: cc.pool_forward(A, hp), "f", [2, np.float64(2.0)]),
])
def test_a_whole_float_for_a_size_says_an_int_is_wanted(call, key, value):
    """A learner's review: {"pad": (f - 1) / 2} read 'expected an int ...,
    got 1.0' and no more; the message now says how to make the int. A float
    that is not whole (1.5), or a string, gets no such words."""
    with pytest.raises(ValueError) as info:
        call({key: value})
    assert str(info.value).startswith(f"{key}: ") and "(a float, though a whole one: an int is wanted, " in str(
        info.value), info.value
    assert ("(f - 1) // 2" in str(info.value)) is (key == "pad")
    for other in (1.5, [2, 2.5], "2"):
        with pytest.raises(ValueError) as info:
            call({key: other})
        assert "a whole one" not in str(info.value), info.value


def test_distribute_value_takes_its_shape_as_a_1d_integer_array():
    """A learner's review: distribute_value(2, np.array([2, 2])) was refused
    where the tuple of its np.int64 items was taken. By hand: 2 over 4."""
    np.testing.assert_array_equal(cc.distribute_value(2, np.array([2, 2])), np.full((2, 2), 0.5))
    for bad in (np.array([[2, 2]]), np.array([2.0, 2.0]), np.array([2, 2, 2])):
        with pytest.raises(ValueError, match=r"^shape: expected \(n_H, n_W\), two ints, got array"):
            cc.distribute_value(2, bad)


def test_a_whole_float_list_of_the_wrong_length_gets_no_such_hint():
    """A review: {"f": [2.0, 2.0, 2.0]} was told 'an int is wanted, [2, 2,
    2]', which is refused too (f takes 2 items)."""
    for hp in ({"f": [2.0, 2.0, 2.0]}, {"stride": [2.0], "f": 2}):
        with pytest.raises(ValueError) as info:
            cc.pool_forward(A, hp)
        assert "a whole one" not in str(info.value), info.value
    with pytest.raises(ValueError) as info:
        cc.conv_forward(A, W, b, {"pad": [1.0, 1.0, 1.0]})
    assert "a whole one" not in str(info.value)
    with pytest.raises(ValueError, match=r"an int is wanted, \[1, 1, 0, 0\]"):
        cc.conv_forward(A, W, b, {"pad": [1.0, 1.0, 0.0, 0.0]})
