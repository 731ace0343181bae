"""Same model + same options => byte-identical .tflite, wherever the files live."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from oracle_lib import all_case_params


def _sha(p) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_convert_twice_identical(case, edgeport, tmp_path):
    a = tmp_path / "first.tflite"
    b = tmp_path / "second" / "other_name.tflite"
    b.parent.mkdir()
    edgeport.convert_ok(case.model, a, *case.shape_args)
    edgeport.convert_ok(case.model, b, *case.shape_args)
    assert a.read_bytes() == b.read_bytes(), f"{a} ({_sha(a)}) != {b} ({_sha(b)})"


@pytest.mark.parametrize("case", ["mobilenetv2", "ops_misc"], indirect=True)
def test_nhwc_io_twice_identical_and_path_independent(case, edgeport, tmp_path):
    """The model's own location must not leak into the artifact either."""
    moved = tmp_path / "elsewhere" / "renamed.onnx"
    moved.parent.mkdir()
    shutil.copyfile(case.model, moved)
    a = tmp_path / "a.tflite"
    b = tmp_path / "b.tflite"
    edgeport.convert_ok(case.model, a, "--nhwc-io")
    edgeport.convert_ok(moved, b, "--nhwc-io")
    assert a.read_bytes() == b.read_bytes(), f"{a} ({_sha(a)}) != {b} ({_sha(b)})"
