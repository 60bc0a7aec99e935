"""Atomic outputs (convcli/outputs.py): a failed run leaves nothing; --force
replaces only what convcli wrote."""

from __future__ import annotations

import numpy as np
import pytest

from convcli.errors import ConvcliError
from convcli.outputs import Staging, write_arrays


def test_commit_renames_the_staging_folder_into_place(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with Staging(out) as st:
        assert st.path.parent == out.parent and st.path.name.startswith(".out.tmp-")
        write_arrays(st.path, {"conv1.Z": np.ones(3)}, "npy")
        (st.path / "summary.json").write_text("{}")
        assert not out.exists()
        st.commit()
    assert sorted(p.name for p in out.iterdir()) == ["conv1.Z.npy", "summary.json"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]


def test_a_failure_leaves_nothing_not_even_the_parents_it_made(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with pytest.raises(KeyboardInterrupt):
        with Staging(out) as st:
            write_arrays(st.path, {"x": np.ones(3)}, "npy")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_force_replaces_a_convcli_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    (out / "old.npy").write_text("")
    with pytest.raises(ConvcliError, match="pass --force"):
        Staging(out).__enter__()
    with Staging(out, force=True) as st:
        (st.path / "summary.json").write_text("{}")
        st.commit()
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_empty_existing_folder_is_used(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with Staging(out) as st:
        (st.path / "summary.json").write_text("{}")
        st.commit()
    assert (out / "summary.json").is_file()


def test_an_output_that_appears_meanwhile_is_not_overwritten(tmp_path):
    out = tmp_path / "out"
    with Staging(out) as st:
        out.mkdir()
        (out / "theirs.txt").write_text("")
        with pytest.raises(ConvcliError, match="already exists"):
            st.commit()
    assert sorted(p.name for p in out.iterdir()) == ["theirs.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
