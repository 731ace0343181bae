"""Converted .tflite files run in LiteRT and match onnxruntime; their structure is what a good
converter emits (NHWC inside, no layout shuffles between convs, fused activations)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from oracle_lib import (
    RESOLVERS,
    all_case_params,
    compare_outputs,
    load_npz,
    read_tflite,
    run_tflite,
    to_nhwc,
)

CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")
RELU_OPS = ("RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1")


def _has_4d_input(case) -> bool:
    return any(a.ndim == 4 for a in load_npz(case.input).values())


@pytest.mark.parametrize("resolver", RESOLVERS)
@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_matches_onnxruntime_nchw(case, resolver, converted, request):
    path = converted(case.name, False)
    inputs = load_npz(case.input)
    expected = load_npz(case.expected)
    print(f"{path}")
    got = run_tflite(path, inputs, resolver, list(expected))
    failures = compare_outputs(request.node.name, got, expected)
    assert not failures, f"{path}:\n" + "\n".join(failures)


@pytest.mark.parametrize("resolver", RESOLVERS)
@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_matches_onnxruntime_nhwc_io(case, resolver, converted, request):
    if not _has_4d_input(case):
        pytest.skip("no 4-D input: --nhwc-io does not apply")
    path = converted(case.name, True)
    inputs = {k: np.ascontiguousarray(to_nhwc(v)) for k, v in load_npz(case.input).items()}
    expected = {k: to_nhwc(v) for k, v in load_npz(case.expected).items()}
    print(f"{path}")
    got = run_tflite(path, inputs, resolver, list(expected))
    failures = compare_outputs(request.node.name, got, expected)
    assert not failures, f"{path}:\n" + "\n".join(failures)


# --------------------------------------------------------------------------------------------
# structure
# --------------------------------------------------------------------------------------------


def _describe(graph, op) -> str:
    ins = [graph.tensor_names[i] for i in op.inputs if i >= 0]
    outs = [graph.tensor_names[i] for i in op.outputs]
    return f"#{op.index} {op.name} {ins} -> {outs}"


def _interface_only_transposes(graph) -> list[str]:
    """TRANSPOSE ops that neither read a graph input nor write a graph output."""
    bad = []
    for op in graph.ops:
        if op.name != "TRANSPOSE":
            continue
        if op.inputs and op.inputs[0] in graph.inputs:
            continue
        if any(o in graph.outputs for o in op.outputs):
            continue
        bad.append(_describe(graph, op))
    return bad


@pytest.mark.parametrize(
    "case",
    ["mobilenetv2", "resnet", pytest.param("ppocr_cls", marks=pytest.mark.ppocr)],
    indirect=True,
)
def test_transpose_count_nchw_interface(case, converted):
    """With the default (NCHW) interface the only TRANSPOSE is the one on the input."""
    graph = read_tflite(converted(case.name, False))
    print(graph.histogram())
    transposes = [op for op in graph.ops if op.name == "TRANSPOSE"]
    assert len(transposes) <= 1, "expected at most one TRANSPOSE (the input):\n" + "\n".join(
        _describe(graph, op) for op in transposes
    )
    for op in transposes:
        assert op.inputs[0] in graph.inputs, "the TRANSPOSE must read the graph input: " + _describe(graph, op)


@pytest.mark.parametrize(
    "case",
    ["mobilenetv2", "resnet", pytest.param("ppocr_cls", marks=pytest.mark.ppocr)],
    indirect=True,
)
def test_no_transpose_with_nhwc_io(case, converted):
    graph = read_tflite(converted(case.name, True))
    print(graph.histogram())
    transposes = [_describe(graph, op) for op in graph.ops if op.name == "TRANSPOSE"]
    assert not transposes, "no TRANSPOSE expected with --nhwc-io:\n" + "\n".join(transposes)


@pytest.mark.ppocr
@pytest.mark.parametrize("nhwc", [False, True], ids=["nchw", "nhwc_io"])
@pytest.mark.parametrize("case", ["ppocr_det"], indirect=True)
def test_ppocr_det_no_inner_transpose(case, nhwc, converted):
    graph = read_tflite(converted(case.name, nhwc))
    print(graph.histogram())
    inner = _interface_only_transposes(graph)
    assert not inner, "TRANSPOSE between convs (only interface ones are allowed):\n" + "\n".join(inner)
    if nhwc:
        assert graph.count("TRANSPOSE") == 0, graph.histogram()
    assert graph.count("CONV_2D") + graph.count("DEPTHWISE_CONV_2D") > 0, graph.histogram()


@pytest.mark.parametrize("nhwc", [False, True], ids=["nchw", "nhwc_io"])
@pytest.mark.parametrize("case", ["mobilenetv2"], indirect=True)
def test_mobilenetv2_convs_and_fused_activations(case, nhwc, converted):
    graph = read_tflite(converted(case.name, nhwc))
    hist = graph.histogram()
    print(hist)
    assert graph.count("CONV_2D") > 0, hist
    assert graph.count("DEPTHWISE_CONV_2D") > 0, hist

    standalone = []
    for op in graph.ops:
        if op.name in RELU_OPS and op.inputs:
            src = graph.producer(op.inputs[0])
            if src is not None and src.name in CONV_OPS:
                standalone.append(f"{_describe(graph, op)} follows {_describe(graph, src)}")
    assert not standalone, "activation not fused into its conv:\n" + "\n".join(standalone)

    # every Clip(0, 6) of the source ends up as a fused RELU6 on a conv
    onnx_model = onnx.load(str(case.model), load_external_data=False)
    n_clip = sum(1 for n in onnx_model.graph.node if n.op_type == "Clip")
    fused = sum(1 for op in graph.ops if op.name in CONV_OPS and op.fused_activation == "RELU6")
    assert fused == n_clip, f"{fused} convs with fused RELU6, expected {n_clip}; {hist}"


@pytest.mark.parametrize("nhwc", [False, True], ids=["nchw", "nhwc_io"])
@pytest.mark.parametrize("case", ["mobilenetv2", "resnet"], indirect=True)
def test_batchnorm_folded(case, nhwc, converted):
    """BatchNormalization is folded into the convs: no MUL / SUB left, ADD only for residuals."""
    graph = read_tflite(converted(case.name, nhwc))
    hist = graph.histogram()
    print(hist)
    onnx_model = onnx.load(str(case.model), load_external_data=False)
    n_add = sum(1 for n in onnx_model.graph.node if n.op_type == "Add")
    assert graph.count("MUL") == 0, hist
    assert graph.count("SUB") == 0, hist
    assert graph.count("ADD") == n_add, f"expected {n_add} ADD (residuals); {hist}"
    assert graph.count("CONV_2D") + graph.count("DEPTHWISE_CONV_2D") == sum(
        1 for n in onnx_model.graph.node if n.op_type == "Conv"
    ), hist
