"""Helpers for the oracle tests: the list of models, running .tflite files with LiteRT, reading
their structure, and an independent (onnx + numpy) computation of what `edgeport inspect` reports."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"
FIXTURE_NAMES = ["mobilenetv2", "resnet", "mlp_gelu", "transformer", "ops_misc"]
PPOCR_NAMES = ["ppocr_det", "ppocr_rec", "ppocr_cls"]

# test id, output name, max abs error, tolerance, passed
NUMERIC_REPORT: list[tuple[str, str, float, float, bool]] = []


@dataclass(frozen=True)
class Case:
    """One model under test: where it is, its sample input and reference output."""

    name: str
    model: Path
    input: Path  # npz, keys = graph input names
    expected: Path  # npz, keys = graph output names
    shape_args: tuple[str, ...] = ()  # extra CLI args, e.g. ("--input-shape", "x=1,3,320,320")
    input_shapes: dict = field(default_factory=dict)  # input name -> fixed shape (PP-OCR)
    ppocr: bool = False


def all_case_params():
    """Params for every model: the fixtures, then the PP-OCR models (marked `ppocr`)."""
    return [pytest.param(n, id=n) for n in FIXTURE_NAMES] + [
        pytest.param(n, id=n, marks=pytest.mark.ppocr) for n in PPOCR_NAMES
    ]


def fixture_case_params():
    return [pytest.param(n, id=n) for n in FIXTURE_NAMES]


def load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


# --------------------------------------------------------------------------------------------
# LiteRT
# --------------------------------------------------------------------------------------------

RESOLVERS = ["default", "builtin_no_delegate"]


def _interpreter(path: Path, resolver: str):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = {
        "default": OpResolverType.AUTO,  # optimized kernels + the XNNPACK delegate
        "builtin_no_delegate": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    }[resolver]
    return Interpreter(model_path=str(path), num_threads=1, experimental_op_resolver_type=kind)


def run_tflite(
    path: Path,
    inputs: dict[str, np.ndarray],
    resolver: str = "default",
    output_names: list[str] | None = None,
) -> dict[str, np.ndarray]:
    """Run a .tflite on `inputs` (ONNX input name -> array, already in the file's layout).

    Inputs and outputs are matched by name: the tensor names of the main subgraph's inputs /
    outputs, or else the input / output keys of a signature named like the ONNX values."""
    interp = _interpreter(path, resolver)
    in_det = interp.get_input_details()
    out_det = interp.get_output_details()
    in_names = [d["name"] for d in in_det]
    out_names = [d["name"] for d in out_det]
    want_out = set(output_names or [])

    if set(inputs) <= set(in_names) and want_out <= set(out_names):
        interp.allocate_tensors()
        for d in in_det:
            if d["name"] not in inputs:
                raise AssertionError(f"tflite input {d['name']!r} is not an ONNX input {sorted(inputs)}")
            x = inputs[d["name"]]
            assert tuple(d["shape"]) == x.shape, (
                f"tflite input {d['name']!r} has shape {tuple(d['shape'])}, expected {x.shape}"
            )
            assert d["dtype"] == x.dtype, f"tflite input {d['name']!r} dtype {d['dtype']}, expected {x.dtype}"
            interp.set_tensor(d["index"], x)
        interp.invoke()
        return {d["name"]: np.array(interp.get_tensor(d["index"])) for d in out_det}

    sigs = interp.get_signature_list()
    for key, sig in sigs.items():
        if set(inputs) <= set(sig.get("inputs", [])) and want_out <= set(sig.get("outputs", [])):
            runner = interp.get_signature_runner(key)
            return {k: np.array(v) for k, v in runner(**inputs).items()}
    raise AssertionError(
        f"cannot match ONNX inputs {sorted(inputs)} / outputs {sorted(want_out)} to the tflite "
        f"inputs {in_names} / outputs {out_names} or to a signature {sigs}"
    )


def sqnr_db(got: np.ndarray, ref: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio of `got` against `ref`, in dB (inf when equal)."""
    noise = float(np.sum((got.astype(np.float64) - ref) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(float(np.sum(ref.astype(np.float64) ** 2)) / noise)


def to_nhwc(a: np.ndarray) -> np.ndarray:
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def compare_outputs(test_id: str, got: dict, expected: dict, rel_tol: float = 1e-4) -> list[str]:
    """Max abs error per output against tol = rel_tol * max(1, max|ref|); returns failures."""
    failures = []
    missing = sorted(set(expected) - set(got))
    if missing:
        failures.append(f"outputs missing from the tflite result: {missing} (got {sorted(got)})")
    for name in sorted(set(expected) & set(got)):
        ref = expected[name]
        out = got[name]
        if out.shape != ref.shape:
            failures.append(f"{name}: shape {out.shape}, expected {ref.shape}")
            NUMERIC_REPORT.append((test_id, name, math.inf, 0.0, False))
            print(f"{name}: shape {out.shape}, expected {ref.shape}")
            continue
        scale = max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
        tol = rel_tol * scale
        diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
        err = float(np.max(diff)) if diff.size else 0.0
        if not np.all(np.isfinite(out)):
            err = math.inf
        ok = err <= tol
        where = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.size else ()
        line = (
            f"{name}: max_abs_err={err:.3g} tol={tol:.3g} max|ref|={scale:.3g} "
            f"worst at {tuple(int(i) for i in where)}"
        )
        print(line)
        NUMERIC_REPORT.append((test_id, name, err, tol, ok))
        if not ok:
            failures.append(line)
    return failures


# --------------------------------------------------------------------------------------------
# TFLite structure (read straight from the flatbuffer)
# --------------------------------------------------------------------------------------------


@dataclass
class TfliteOp:
    index: int
    name: str  # BuiltinOperator name, e.g. "CONV_2D" (custom ops: "CUSTOM:<code>")
    inputs: list[int]
    outputs: list[int]
    fused_activation: str | None  # for ops with a fused_activation_function option


@dataclass
class TfliteGraph:
    ops: list[TfliteOp]
    inputs: list[int]
    outputs: list[int]
    tensor_names: list[str]
    tensor_shapes: list[list[int]]
    tensor_types: list[str] = field(default_factory=list)  # TensorType names, e.g. "INT8"
    tensor_scales: list[list[float]] = field(default_factory=list)  # quantization scales ([] if none)

    def count(self, name: str) -> int:
        return sum(1 for op in self.ops if op.name == name)

    def producer(self, tensor: int) -> TfliteOp | None:
        for op in self.ops:
            if tensor in op.outputs:
                return op
        return None

    def histogram(self) -> dict[str, int]:
        return dict(sorted(Counter(op.name for op in self.ops).items()))


def _enum_names(cls) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


def read_tflite(path: Path) -> TfliteGraph:
    from ai_edge_litert import schema_py_generated as fb

    buf = Path(path).read_bytes()
    assert buf[4:8] == b"TFL3", f"{path}: file identifier {buf[4:8]!r}, expected b'TFL3'"
    model = fb.Model.GetRootAs(buf, 0)
    op_names = _enum_names(fb.BuiltinOperator)
    act_names = _enum_names(fb.ActivationFunctionType)
    opt_names = _enum_names(fb.BuiltinOptions)
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = op_names.get(code, f"UNKNOWN_{code}")
        if name == "CUSTOM":
            cc = oc.CustomCode()
            name = "CUSTOM:" + (cc.decode() if cc else "")
        codes.append(name)
    assert model.SubgraphsLength() >= 1, f"{path}: no subgraphs"
    sg = model.Subgraphs(0)
    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        fused = None
        opt_type = opt_names.get(op.BuiltinOptionsType())
        if opt_type is not None and opt_type != "NONE" and op.BuiltinOptions() is not None:
            cls = getattr(fb, opt_type, None)
            if cls is not None and hasattr(cls, "FusedActivationFunction"):
                opts = cls()
                t = op.BuiltinOptions()
                opts.Init(t.Bytes, t.Pos)
                fused = act_names.get(opts.FusedActivationFunction())
        ops.append(
            TfliteOp(
                i,
                codes[op.OpcodeIndex()],
                [int(v) for v in op.InputsAsNumpy()] if op.InputsLength() else [],
                [int(v) for v in op.OutputsAsNumpy()] if op.OutputsLength() else [],
                fused,
            )
        )
    type_names = _enum_names(fb.TensorType)
    names, shapes, types, scales = [], [], [], []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        names.append(t.Name().decode() if t.Name() else "")
        shapes.append([int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() else [])
        types.append(type_names.get(t.Type(), str(t.Type())))
        q = t.Quantization()
        scales.append([float(v) for v in q.ScaleAsNumpy()] if q is not None and q.ScaleLength() else [])
    return TfliteGraph(
        ops,
        [int(v) for v in sg.InputsAsNumpy()] if sg.InputsLength() else [],
        [int(v) for v in sg.OutputsAsNumpy()] if sg.OutputsLength() else [],
        names,
        shapes,
        types,
        scales,
    )


# --------------------------------------------------------------------------------------------
# independent computation of `edgeport inspect`
# --------------------------------------------------------------------------------------------

DTYPE_NAMES = {
    TensorProto.FLOAT: "float32",
    TensorProto.FLOAT16: "float16",
    TensorProto.INT64: "int64",
    TensorProto.INT32: "int32",
    TensorProto.INT8: "int8",
    TensorProto.UINT8: "uint8",
    TensorProto.BOOL: "bool",
}
FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}
MAC_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")


def _elem_size(elem_type: int) -> int:
    return int(np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).itemsize)


def _constant_tensor(node: onnx.NodeProto):
    """(elem_type, dims) of a Constant node's value, or None for non-tensor attributes."""
    for a in node.attribute:
        if a.name == "value":
            return a.t.data_type, list(a.t.dims)
        if a.name == "value_float":
            return TensorProto.FLOAT, []
        if a.name == "value_floats":
            return TensorProto.FLOAT, [len(a.floats)]
        if a.name == "value_int":
            return TensorProto.INT64, []
        if a.name == "value_ints":
            return TensorProto.INT64, [len(a.ints)]
    return None


@dataclass
class ValueInfo:
    elem_type: int
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * _elem_size(self.elem_type)

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


def _fix_input_shapes(model: onnx.ModelProto, input_shapes: dict) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in m.graph.input:
        if vi.name in input_shapes:
            dims = vi.type.tensor_type.shape.dim
            shape = input_shapes[vi.name]
            del dims[:]
            for d in shape:
                dims.add().dim_value = int(d)
    return m


def value_infos(model: onnx.ModelProto, input_shapes: dict | None = None) -> dict[str, ValueInfo]:
    """Static dtype + shape of every value: onnx shape inference (with data propagation), with
    onnxruntime filling in any value shape inference leaves symbolic."""
    m = _fix_input_shapes(model, input_shapes or {})
    out: dict[str, ValueInfo] = {}

    def record(vi):
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            return
        dims = []
        for d in tt.shape.dim:
            if not d.HasField("dim_value") or d.dim_value < 0:
                return
            dims.append(d.dim_value)
        out[vi.name] = ValueInfo(tt.elem_type, tuple(dims))

    try:
        inferred = onnx.shape_inference.infer_shapes(m, strict_mode=False, data_prop=True)
    except Exception:  # shape inference gives up on some exporters' graphs: fall back fully
        inferred = m
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        record(vi)
    for init in m.graph.initializer:
        out[init.name] = ValueInfo(init.data_type, tuple(init.dims))
    for node in m.graph.node:
        if node.op_type == "Constant":
            ct = _constant_tensor(node)
            if ct is not None:
                out[node.output[0]] = ValueInfo(ct[0], tuple(ct[1]))

    missing = [o for n in m.graph.node for o in n.output if o and o not in out]
    if missing:
        import onnxruntime as ort

        probe = onnx.ModelProto()
        probe.CopyFrom(m)
        del probe.graph.output[:]
        for name in missing:
            probe.graph.output.append(helper.make_empty_tensor_value_info(name))
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.log_severity_level = 3
        sess = ort.InferenceSession(probe.SerializeToString(), so, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        feed = {}
        for vi in m.graph.input:
            info = out[vi.name]
            feed[vi.name] = rng.standard_normal(info.shape).astype(
                helper.tensor_dtype_to_np_dtype(info.elem_type)
            )
        for name, arr in zip(missing, sess.run(missing, feed)):
            out[name] = ValueInfo(helper.np_dtype_to_tensor_dtype(arr.dtype), tuple(arr.shape))
    return out


def _constant_values(model: onnx.ModelProto) -> set[str]:
    """Values that are known before any input arrives: initializers, Constant outputs, Shape
    outputs (all shapes are static here) and anything computed only from those."""
    const = {i.name for i in model.graph.initializer}
    for node in model.graph.node:
        ins = [i for i in node.input if i]
        if node.op_type in ("Constant", "Shape", "Size") or all(i in const for i in ins):
            const.update(o for o in node.output if o)
    return const


def node_macs(node: onnx.NodeProto, vi: dict[str, ValueInfo]) -> int:
    out = vi[node.output[0]]
    if node.op_type == "Conv":
        w = vi[node.input[1]].shape  # [M, C/group, k...]
        return out.numel * w[1] * int(np.prod(w[2:], dtype=np.int64))
    if node.op_type == "ConvTranspose":
        w = vi[node.input[1]].shape  # [C, M/group, k...]
        x = vi[node.input[0]]
        return x.numel * w[1] * int(np.prod(w[2:], dtype=np.int64))
    if node.op_type == "MatMul":
        a = vi[node.input[0]].shape
        return out.numel * a[-1]
    if node.op_type == "Gemm":
        a = vi[node.input[0]].shape
        trans_a = any(x.name == "transA" and x.i for x in node.attribute)
        m, k = (a[1], a[0]) if trans_a else (a[0], a[1])
        return m * out.shape[1] * k
    raise ValueError(node.op_type)


def node_has_bias(node: onnx.NodeProto) -> bool:
    return node.op_type in ("Conv", "ConvTranspose", "Gemm") and len(node.input) > 2 and bool(node.input[2])


@dataclass
class InspectReference:
    ir_version: int
    opsets: dict[str, int]
    producer_name: str
    producer_version: str
    sha256: str
    inputs: list[dict]
    outputs: list[dict]
    op_histogram: dict[str, int]
    params_count: int
    params_bytes: int
    mac_nodes: dict[str, dict]  # node name -> {"op", "macs", "out_elems", "has_bias", "output_shape"}
    total_macs: int
    peak_lower: int  # largest single compute node: activation inputs + outputs
    peak_upper: int  # every activation value at once


def _io_entry(vi_proto, fixed: dict | None) -> dict:
    tt = vi_proto.type.tensor_type
    if fixed is not None:
        shape = list(fixed)
    else:
        shape = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in tt.shape.dim]
    return {"name": vi_proto.name, "dtype": DTYPE_NAMES.get(tt.elem_type, str(tt.elem_type)), "shape": shape}


def reference_inspect(path: Path, input_shapes: dict | None = None) -> InspectReference:
    data = Path(path).read_bytes()
    model = onnx.load_from_string(data)
    g = model.graph
    vi = value_infos(model, input_shapes)

    count = nbytes = 0
    for init in g.initializer:
        if init.data_type in FLOAT_TYPES:
            n = int(np.prod(init.dims, dtype=np.int64))
            count += n
            nbytes += n * _elem_size(init.data_type)
    for node in g.node:
        if node.op_type == "Constant":
            ct = _constant_tensor(node)
            if ct is not None and ct[0] in FLOAT_TYPES:
                n = int(np.prod(ct[1], dtype=np.int64))
                count += n
                nbytes += n * _elem_size(ct[0])

    init_names = {i.name for i in g.initializer}
    const = _constant_values(model)
    mac_nodes = {}
    lower = 0
    for node in g.node:
        if node.op_type in MAC_OPS:
            out = vi[node.output[0]]
            mac_nodes[node.name] = {
                "op": node.op_type,
                "macs": node_macs(node, vi),
                "out_elems": out.numel,
                "has_bias": node_has_bias(node),
                "output_shape": list(out.shape),
            }
            live = sum(vi[i].nbytes for i in node.input if i and i not in const)
            live += sum(vi[o].nbytes for o in node.output if o)
            lower = max(lower, live)
    upper = sum(vi[i.name].nbytes for i in g.input if i.name not in init_names)
    upper += sum(vi[o].nbytes for n in g.node if n.op_type != "Constant" for o in n.output if o)

    real_inputs = [i for i in g.input if i.name not in init_names]
    shapes = input_shapes or {}
    return InspectReference(
        ir_version=model.ir_version,
        opsets={o.domain: o.version for o in model.opset_import},
        producer_name=model.producer_name,
        producer_version=model.producer_version,
        sha256=hashlib.sha256(data).hexdigest(),
        inputs=[_io_entry(i, shapes.get(i.name)) for i in real_inputs],
        outputs=[_io_entry(o, vi[o.name].shape if shapes else None) for o in g.output],
        op_histogram=dict(Counter(n.op_type for n in g.node)),
        params_count=count,
        params_bytes=nbytes,
        mac_nodes=mac_nodes,
        total_macs=sum(v["macs"] for v in mac_nodes.values()),
        peak_lower=lower,
        peak_upper=upper,
    )
