"""`edgeport inspect --json` agrees with an independent computation from the ONNX file."""

from __future__ import annotations

import json

import pytest

from oracle_lib import PPOCR_NAMES, fixture_case_params, reference_inspect

SCHEMA = "edgeport.inspect/1"


def _inspect(edgeport, case) -> dict:
    res = edgeport.run("inspect", case.model, *case.shape_args, "--json")
    assert res.returncode == 0, res.describe()
    try:
        report = json.loads(res.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"stdout is not JSON ({e})\n{res.describe()}") from None
    assert isinstance(report, dict), res.stdout[:2000]
    return report


def _io(entries) -> list[dict]:
    return [{k: e.get(k) for k in ("name", "dtype", "shape")} for e in entries]


@pytest.fixture
def inspected(case, edgeport):
    ref = reference_inspect(case.model, case.input_shapes or None)
    return _inspect(edgeport, case), ref


def _check_counts(report, ref):
    assert report["schema"] == SCHEMA
    assert report["op_histogram"] == ref.op_histogram
    params = report["params"]
    assert (params["count"], params["bytes"]) == (ref.params_count, ref.params_bytes), (
        f"params {params}, expected count {ref.params_count} bytes {ref.params_bytes}"
    )


def _check_model_section(report, ref):
    m = report["model"]
    assert m["ir_version"] == ref.ir_version
    assert m["sha256"] == ref.sha256
    # the default domain may be spelled "" or "ai.onnx"
    opsets = {("" if k == "ai.onnx" else k): v for k, v in m["opsets"].items()}
    assert opsets == ref.opsets
    assert m["producer"] in (
        ref.producer_name,
        f"{ref.producer_name} {ref.producer_version}".strip(),
    ), m["producer"]


def _check_nodes(report, ref):
    nodes = report["nodes"]
    by_name: dict[str, dict] = {}
    for n in nodes:
        assert set(n) >= {"name", "op", "macs", "flops", "output_shapes"}, n
        by_name.setdefault(n["name"], n)

    problems = []
    for name, exp in ref.mac_nodes.items():
        got = by_name.get(name)
        if got is None:
            problems.append(f"{name} ({exp['op']}): missing from nodes")
            continue
        if got["macs"] != exp["macs"]:
            problems.append(f"{name} ({exp['op']}): macs {got['macs']}, expected {exp['macs']}")
        # FLOPs = 2 x MACs (+ output elements when there is a bias; folding may add one)
        allowed = {2 * exp["macs"] + exp["out_elems"]} if exp["has_bias"] else {
            2 * exp["macs"],
            2 * exp["macs"] + exp["out_elems"],
        }
        if exp["op"] in ("Conv", "Gemm") and got["flops"] not in allowed:
            problems.append(f"{name} ({exp['op']}): flops {got['flops']}, expected one of {sorted(allowed)}")
        shapes = got["output_shapes"]
        if not shapes or list(shapes[0]) != exp["output_shape"]:
            problems.append(f"{name} ({exp['op']}): output_shapes {shapes}, expected [{exp['output_shape']}]")
    assert not problems, "\n".join(problems)

    total = report["total"]
    assert total["macs"] == ref.total_macs
    assert total["macs"] == sum(n["macs"] for n in nodes)
    assert total["flops"] == sum(n["flops"] for n in nodes)
    assert total["flops"] >= 2 * total["macs"]

    peak = report["peak_activation_bytes"]
    assert ref.peak_lower <= peak <= ref.peak_upper, (
        f"peak_activation_bytes {peak} outside [{ref.peak_lower}, {ref.peak_upper}]"
    )


@pytest.mark.parametrize("case", fixture_case_params(), indirect=True)
def test_inspect_fixture(case, inspected):
    report, ref = inspected
    print(json.dumps({k: report.get(k) for k in ("model", "params", "total", "peak_activation_bytes")}))
    _check_counts(report, ref)
    _check_model_section(report, ref)
    assert _io(report["inputs"]) == ref.inputs
    assert _io(report["outputs"]) == ref.outputs
    _check_nodes(report, ref)


@pytest.mark.ppocr
@pytest.mark.parametrize("case", PPOCR_NAMES, indirect=True)
def test_inspect_ppocr(case, inspected):
    """Real exporter output (Paddle2ONNX: weights as Constant nodes, literal -1 dims)."""
    report, ref = inspected
    print(json.dumps({k: report.get(k) for k in ("model", "params", "total", "peak_activation_bytes")}))
    _check_counts(report, ref)
    _check_model_section(report, ref)
    assert [i["name"] for i in report["inputs"]] == [i["name"] for i in ref.inputs]
    assert [o["name"] for o in report["outputs"]] == [o["name"] for o in ref.outputs]
    _check_nodes(report, ref)


@pytest.mark.parametrize("case", ["mlp_gelu", "transformer"], indirect=True)
def test_inspect_is_deterministic(case, edgeport):
    a = edgeport.run("inspect", case.model, "--json")
    b = edgeport.run("inspect", case.model, "--json")
    assert a.returncode == 0 and b.returncode == 0, a.describe() + "\n" + b.describe()
    assert a.stdout == b.stdout
