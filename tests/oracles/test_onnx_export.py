"""`edgeport convert --to onnx`: the exported model is valid ONNX (opset 21, IR version 10,
`onnx.checker.check_model(full_check=True)`, which includes strict shape inference against the
written value_info) and runs in onnxruntime like the original.

- every fixture and PP-OCR model: onnxruntime on the export vs onnxruntime on the original,
  within 1e-4 x max(1, max|ref|); interface names, dtypes and (static) shapes kept;
- `--quantize int8-weights` (mobilenetv2, resnet): every weight is an int8 initializer behind a
  per-axis DequantizeLinear (zero points 0), the file shrinks, and onnxruntime's outputs
  match `edgeport run --quantize int8-weights` (the CPU runtime with the same decoded weights)
  within 1e-4 x max(1, max|ref|);
- two conversions give the same bytes.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

from oracle_lib import all_case_params, compare_outputs, fixture_case_params, load_npz

OPSET = 21
IR_VERSION = 10
# Weights quantized by edgeport_quant::weights: conv kernels and constant matmul operands
# of at least this many values.
MIN_WEIGHT_ELEMENTS = 2048


@pytest.fixture(scope="session")
def onnx_export(edgeport, out_root, case_loader):
    """(case name, int8 weights) -> path of the exported .onnx, converted once per session."""
    done = {}

    def get(name: str, int8: bool = False):
        key = (name, int8)
        if key not in done:
            c = case_loader(name)
            out = out_root / "onnx" / f"{name}{'_int8' if int8 else ''}.onnx"
            out.parent.mkdir(parents=True, exist_ok=True)
            extra = ["--quantize", "int8-weights"] if int8 else []
            res = edgeport.run("convert", c.model, "--to", "onnx", "-o", out, *extra, *c.shape_args)
            assert res.returncode == 0, res.describe()
            assert out.is_file(), res.describe()
            done[key] = out
        return done[key]

    return get


def run_ort(model, feeds: dict) -> dict:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    src = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    sess = ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    outs = sess.run(names, {i.name: feeds[i.name] for i in sess.get_inputs()})
    return dict(zip(names, outs))


def _io(values, shapes=None) -> list[tuple]:
    out = []
    for v in values:
        tt = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in tt.shape.dim]
        out.append((v.name, tt.elem_type, tuple((shapes or {}).get(v.name, dims))))
    return out


def _check_model(path) -> onnx.ModelProto:
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version == IR_VERSION
    assert [(o.domain, o.version) for o in model.opset_import] == [("", OPSET)]
    assert all(n.domain == "" for n in model.graph.node)
    return model


@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_export_is_valid_and_matches_the_original(case, onnx_export, request):
    path = onnx_export(case.name)
    model = _check_model(path)
    original = onnx.load(str(case.model))
    inits = {i.name for i in original.graph.initializer}
    inputs = [i for i in original.graph.input if i.name not in inits]
    assert _io(model.graph.input) == _io(inputs, case.input_shapes)
    out_names = [(o.name, o.type.tensor_type.elem_type) for o in model.graph.output]
    assert out_names == [(o.name, o.type.tensor_type.elem_type) for o in original.graph.output]
    # every intermediate tensor has a static type
    typed = {v.name for v in list(model.graph.value_info) + list(model.graph.output)}
    produced = [o for n in model.graph.node for o in n.output]
    assert set(produced) == typed, sorted(set(produced) ^ typed)[:10]
    for v in model.graph.value_info:
        assert all(d.HasField("dim_value") for d in v.type.tensor_type.shape.dim), v.name

    feeds = load_npz(case.input)
    got = run_ort(path, feeds)
    ref = run_ort(case.model, feeds)
    for name, arr in got.items():
        assert arr.shape == ref[name].shape, (name, arr.shape, ref[name].shape)
    failures = compare_outputs(f"{request.node.name}/onnx-export", got, ref, rel_tol=1e-4)
    assert not failures, f"{path} vs the original in onnxruntime:\n" + "\n".join(failures)


def _initializers(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    return {i.name: i for i in model.graph.initializer}


def _attr(node, name):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return None


@pytest.mark.parametrize("name", ["mobilenetv2", "resnet"])
def test_int8_weights_are_qdq_and_run_as_predicted(name, onnx_export, edgeport, case_loader, tmp_path, request):
    c = case_loader(name)
    path = onnx_export(name, int8=True)
    float_path = onnx_export(name)
    model = _check_model(path)
    inits = _initializers(model)

    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    assert dq, "no DequantizeLinear"
    weights = set()
    for n in dq:
        q, scale, zp = (inits[i] for i in n.input)
        axis = _attr(n, "axis")
        assert axis is not None and 0 <= axis < len(q.dims), (n.name, axis)
        assert q.data_type == TensorProto.INT8 and zp.data_type == TensorProto.INT8, n.name
        assert scale.data_type == TensorProto.FLOAT
        assert list(scale.dims) == [q.dims[axis]] and list(zp.dims) == [q.dims[axis]], n.name
        assert not numpy_helper.to_array(zp).any(), f"{n.name}: symmetric weights have zero points 0"
        assert np.abs(numpy_helper.to_array(q)).max() <= 127
        weights.add(n.output[0])
    # every weight is stored as int8: no float initializer of weight size is left, and every
    # conv and matmul weight of that size is produced by a DequantizeLinear
    big_float = [
        i.name for i in model.graph.initializer if i.data_type == TensorProto.FLOAT and np.prod(i.dims) >= MIN_WEIGHT_ELEMENTS
    ]
    assert not big_float, big_float
    for n in model.graph.node:
        if n.op_type in ("Conv", "ConvTranspose", "MatMul") and n.input[1] in weights:
            continue
        if n.op_type in ("Conv", "ConvTranspose", "MatMul") and n.input[1] in inits:
            assert np.prod(inits[n.input[1]].dims) < MIN_WEIGHT_ELEMENTS, n.name
    size, size32 = path.stat().st_size, float_path.stat().st_size
    print(f"{name}: int8 {size} bytes, float {size32} bytes ({size / size32:.2f})")
    assert size <= 0.4 * size32, (size, size32)

    predicted = tmp_path / "predicted.npz"
    res = edgeport.run("run", c.model, "--quantize", "int8-weights", "--input", c.input, "--output", predicted, *c.shape_args)
    assert res.returncode == 0, res.describe()
    got = run_ort(path, load_npz(c.input))
    failures = compare_outputs(f"{request.node.name}/int8-weights", got, load_npz(predicted), rel_tol=1e-4)
    assert not failures, f"{path} vs edgeport run --quantize int8-weights:\n" + "\n".join(failures)


@pytest.mark.parametrize("case", fixture_case_params(), indirect=True)
def test_export_is_deterministic(case, onnx_export, edgeport, tmp_path):
    for int8 in (False, True):
        first = onnx_export(case.name, int8)
        again = tmp_path / f"again{int8}.onnx"
        extra = ["--quantize", "int8-weights"] if int8 else []
        res = edgeport.run("convert", case.model, "--to", "onnx", "-o", again, *extra, *case.shape_args)
        assert res.returncode == 0, res.describe()
        assert first.read_bytes() == again.read_bytes(), f"{case.name} (int8={int8}): two conversions differ"
