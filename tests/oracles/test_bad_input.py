"""Bad input gives a one-line `error:` message naming the problem, the documented exit code, no
panic, and no output file."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from oracle_lib import FIXTURES_DIR

EXIT_USAGE = 2
EXIT_INVALID_MODEL = 3
EXIT_UNSUPPORTED = 4
EXIT_IO = 5

PANIC_MARKERS = ("panicked", "RUST_BACKTRACE", "stack backtrace", "thread 'main'")


# --------------------------------------------------------------------------------------------
# bad models
# --------------------------------------------------------------------------------------------


def _png_bytes() -> bytes:
    """A real 2x2 RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes([200, 30, 30] * 2) for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _small_model(opset: int = 13, ir_version: int = 8) -> onnx.ModelProto:
    """y = Relu(x @ W + b): valid apart from what a test changes."""
    w = numpy_helper.from_array(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), "w")
    b = numpy_helper.from_array(np.zeros(3, np.float32), "b")
    g = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"], name="matmul_0"),
            helper.make_node("Add", ["h", "b"], ["a"], name="add_0"),
            helper.make_node("Relu", ["a"], ["y"], name="relu_0"),
        ],
        "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        initializer=[w, b],
    )
    return helper.make_model(
        g, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version, producer_name="edgeport-tests"
    )


def _save(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def make_png(d: Path) -> Path:
    p = d / "picture.onnx"
    p.write_bytes(_png_bytes())
    return p


def make_truncated(d: Path) -> Path:
    data = (FIXTURES_DIR / "mobilenetv2" / "model.onnx").read_bytes()
    p = d / "truncated.onnx"
    p.write_bytes(data[: len(data) // 2 + 7])
    return p


def make_empty_file(d: Path) -> Path:
    p = d / "zero.onnx"
    p.write_bytes(b"")
    return p


def make_ir2(d: Path) -> Path:
    return _save(_small_model(ir_version=2), d / "ir2.onnx")


def make_opset3(d: Path) -> Path:
    return _save(_small_model(opset=3), d / "opset3.onnx")


def make_unsupported(d: Path) -> Path:
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu_ok"),
        helper.make_node("FancyOp", ["r"], ["y"], name="fancy_0", strength=3),
        helper.make_node(
            "NonMaxSuppression",
            ["boxes", "scores", "max_out", "iou", "score_thr"],
            ["selected"],
            name="nms_0",
        ),
    ]
    inits = [
        numpy_helper.from_array(np.array([5], np.int64), "max_out"),
        numpy_helper.from_array(np.array([0.5], np.float32), "iou"),
        numpy_helper.from_array(np.array([0.1], np.float32), "score_thr"),
    ]
    g = helper.make_graph(
        nodes,
        "unsupported",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 6, 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, 6]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4]),
            helper.make_tensor_value_info("selected", TensorProto.INT64, [None, 3]),
        ],
        initializer=inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    return _save(m, d / "unsupported.onnx")


def make_external_data(d: Path) -> Path:
    p = d / "external.onnx"
    onnx.save(
        _small_model(),
        str(p),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="external.onnx.data",
        size_threshold=0,
    )
    assert (d / "external.onnx.data").exists()
    return p


def make_cycle(d: Path) -> Path:
    # a = x + c ; c = Relu(a)  -> a and c depend on each other
    g = helper.make_graph(
        [
            helper.make_node("Add", ["x", "c"], ["a"], name="add_loop"),
            helper.make_node("Relu", ["a"], ["c"], name="relu_loop"),
        ],
        "cycle",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 4])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    return _save(m, d / "cycle.onnx")


def make_huge_dim(d: Path) -> Path:
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu_0")],
        "huge",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10**12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10**12])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    return _save(m, d / "huge.onnx")


def make_empty_graph(d: Path) -> Path:
    g = helper.make_graph([], "empty", [], [])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    return _save(m, d / "empty_graph.onnx")


# name -> (builder, exit code, regex that the message (with the file path removed) must match)
INVALID = {
    "png_renamed": (make_png, EXIT_INVALID_MODEL, r"protobuf|decod|pars|malformed|not an? onnx|wire|png|ir.?version|graph"),
    "truncated": (make_truncated, EXIT_INVALID_MODEL, r"protobuf|decod|pars|truncat|malformed|end of|eof|wire|buffer"),
    "zero_bytes": (make_empty_file, EXIT_INVALID_MODEL, r"empty|zero|0 bytes|no graph|missing graph|ir.?version"),
    "ir_version_2": (make_ir2, EXIT_UNSUPPORTED, r"\bir\b|ir.?version"),
    "opset_3": (make_opset3, EXIT_UNSUPPORTED, r"opset"),
    "external_data": (make_external_data, EXIT_UNSUPPORTED, r"external"),
    "cycle": (make_cycle, EXIT_INVALID_MODEL, r"cycl|topolog|loop|sort"),
    "huge_dim": (make_huge_dim, EXIT_INVALID_MODEL, r"limit|too large|too big|exceed|overflow|maximum"),
    "empty_graph": (make_empty_graph, EXIT_INVALID_MODEL, r"empty|no nodes|no outputs|nothing"),
}


def _message(res, model: Path) -> str:
    assert res.stderr.strip(), "expected an error message on stderr\n" + res.describe()
    for marker in PANIC_MARKERS:
        assert marker not in res.stderr and marker not in res.stdout, f"panic output\n{res.describe()}"
    lines = res.stderr.strip("\n").split("\n")
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}\n{res.describe()}"
    line = lines[0]
    assert line.startswith("error:"), f"stderr must start with 'error:'\n{res.describe()}"
    return line.replace(str(model), "<model>").replace(model.name, "<model>")


@pytest.mark.parametrize("kind", sorted(INVALID))
def test_convert_rejects(kind, edgeport, tmp_path):
    build, code, pattern = INVALID[kind]
    model = build(tmp_path)
    out = tmp_path / "out" / "model.tflite"
    out.parent.mkdir()
    res = edgeport.run("convert", model, "--to", "tflite", "-o", out)
    print(res.describe())
    assert res.returncode == code, f"exit {res.returncode}, expected {code}\n{res.describe()}"
    msg = _message(res, model)
    assert re.search(pattern, msg, re.IGNORECASE), f"message does not name the problem ({pattern}): {msg}"
    assert not out.exists(), f"{out} exists after a failed conversion"
    assert list(out.parent.iterdir()) == [], f"left-over files: {list(out.parent.iterdir())}"


@pytest.mark.parametrize("kind", sorted(INVALID))
def test_inspect_rejects(kind, edgeport, tmp_path):
    build, code, pattern = INVALID[kind]
    model = build(tmp_path)
    res = edgeport.run("inspect", model, "--json")
    print(res.describe())
    assert res.returncode == code, f"exit {res.returncode}, expected {code}\n{res.describe()}"
    msg = _message(res, model)
    assert re.search(pattern, msg, re.IGNORECASE), f"message does not name the problem ({pattern}): {msg}"


def test_unsupported_ops_all_listed(edgeport, tmp_path):
    model = make_unsupported(tmp_path)
    out = tmp_path / "out.tflite"
    res = edgeport.run("convert", model, "--to", "tflite", "-o", out)
    print(res.describe())
    assert res.returncode == EXIT_UNSUPPORTED, res.describe()
    msg = _message(res, model)
    assert "fancy_0 (FancyOp)" in msg, msg
    assert "nms_0 (NonMaxSuppression)" in msg, msg
    assert "relu_ok" not in msg, f"a supported node is listed: {msg}"
    assert not out.exists()


def test_missing_model_file_is_io_error(edgeport, tmp_path):
    model = tmp_path / "does_not_exist.onnx"
    out = tmp_path / "out.tflite"
    res = edgeport.run("convert", model, "--to", "tflite", "-o", out)
    print(res.describe())
    assert res.returncode == EXIT_IO, res.describe()
    _message(res, model)
    assert not out.exists()


def _usage_error(res):
    """clap-style usage errors may add hint lines; the first line still starts with 'error:'."""
    assert res.returncode == EXIT_USAGE, res.describe()
    for marker in PANIC_MARKERS:
        assert marker not in res.stderr, res.describe()
    first = res.stderr.lstrip().split("\n", 1)[0]
    assert first.startswith("error:"), res.describe()


def test_unknown_target_is_usage_error(edgeport, tmp_path):
    out = tmp_path / "out.bin"
    res = edgeport.run("convert", FIXTURES_DIR / "mlp_gelu" / "model.onnx", "--to", "banana", "-o", out)
    print(res.describe())
    _usage_error(res)
    assert not out.exists()


def test_malformed_input_shape_is_usage_error(edgeport, tmp_path):
    out = tmp_path / "out.tflite"
    res = edgeport.run(
        "convert", FIXTURES_DIR / "mlp_gelu" / "model.onnx", "--to", "tflite", "-o", out,
        "--input-shape", "features=1,abc",
    )
    print(res.describe())
    _usage_error(res)
    assert not out.exists()
