"""The runtime conformance suite: `edgeport run` against onnxruntime on every fixture and
PP-OCR model, for every backend this build has (cpu; gpu where an adapter exists).

Tolerance: max |got - ref| <= 1e-4 * max(1, max|ref|) for the CPU backend (the issue's bound),
1e-3 * max(1, max|ref|) for the GPU backend (relative to the CPU runtime's outputs).
Also checks the CLI's interface: errors on wrong inputs name the input and exit non-zero, NaN
inputs are accepted and reported, and `edgeport bench --json` carries the harness fields.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from oracle_lib import all_case_params, compare_outputs, load_npz

BENCH_FIELDS = {"load_ms", "first_run_ms", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "runs", "std_ms", "peak_memory_bytes", "environment"}


@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_cpu_matches_onnxruntime(case, edgeport, out_root):
    out = out_root / "runtime" / f"{case.name}_cpu.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    res = edgeport.run("run", case.model, "--input", case.input, "--output", out, *case.shape_args)
    assert res.returncode == 0, res.describe()
    got = load_npz(out)
    failures = compare_outputs(f"runtime-cpu/{case.name}", got, load_npz(case.expected), rel_tol=1e-4)
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="session")
def gpu_available(edgeport, case_loader):
    """Whether `--backend gpu` finds an adapter. `cargo xtask test` installs Mesa's lavapipe and
    sets EDGEPORT_REQUIRE_GPU=1, so there a missing adapter fails instead of skipping."""
    case = case_loader("mlp_gelu")
    res = edgeport.run("bench", case.model, "--backend", "gpu", "--runs", "1", "--json")
    if res.returncode == 0:
        return True
    if os.environ.get("EDGEPORT_REQUIRE_GPU") == "1":
        pytest.fail(f"no GPU adapter, but EDGEPORT_REQUIRE_GPU=1: {res.describe()}")
    pytest.skip("no GPU adapter here")


@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_gpu_matches_cpu(case, edgeport, out_root, gpu_available):
    outs = {}
    for backend in ["cpu", "gpu"]:
        path = out_root / "runtime" / f"{case.name}_{backend}_vs.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        res = edgeport.run("run", case.model, "--input", case.input, "--output", path, "--backend", backend, *case.shape_args)
        assert res.returncode == 0, res.describe()
        outs[backend] = load_npz(path)
    failures = compare_outputs(f"runtime-gpu/{case.name}", outs["gpu"], outs["cpu"], rel_tol=1e-3)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("variant", ["fp16", "coreml-fp16"])
@pytest.mark.parametrize("name", ["mobilenetv2", "transformer", "ops_misc"])
def test_gpu_fp16_variants_match_the_cpu(name, variant, edgeport, out_root, case_loader, gpu_available):
    """fp16 variants on the GPU (weights stored as float16 where the adapter has shader-f16)
    compute what the CPU runtime's same variant computes."""
    case = case_loader(name)
    outs = {}
    for backend in ["cpu", "gpu"]:
        path = out_root / "runtime" / f"{name}_{variant}_{backend}.npz"
        res = edgeport.run("run", case.model, "--input", case.input, "--output", path, "--backend", backend, "--variant", variant)
        assert res.returncode == 0, res.describe()
        outs[backend] = load_npz(path)
    failures = compare_outputs(f"runtime-gpu-{variant}/{name}", outs["gpu"], outs["cpu"], rel_tol=1e-3)
    assert not failures, "\n".join(failures)


def test_gpu_stores_fp16_weights_as_float16_where_the_adapter_can(edgeport, case_loader, gpu_available):
    case = case_loader("mobilenetv2")
    reports = {}
    for variant in ["fp32", "fp16"]:
        res = edgeport.run("bench", case.model, "--backend", "gpu", "--variant", variant, "--runs", "1", "--json")
        assert res.returncode == 0, res.describe()
        reports[variant] = json.loads(res.stdout)
    weights = {v: r["memory"]["weights_bytes"] for v, r in reports.items()}
    if "shader-f16" in reports["fp16"]["environment"]["adapter"]["features"]:
        assert weights["fp16"] < 0.6 * weights["fp32"], weights
    else:
        assert weights["fp16"] == weights["fp32"], weights


def test_gpu_refuses_a_model_beyond_the_adapters_limits(edgeport, case_loader, gpu_available, tmp_path):
    """A model whose memory exceeds the adapter's storage-binding limit is refused before any
    GPU allocation, naming the limit, with the limit-exceeded exit code (3)."""
    import onnx
    from onnx import TensorProto, helper

    res = edgeport.run("bench", case_loader("mlp_gelu").model, "--backend", "gpu", "--runs", "1", "--json")
    limit = json.loads(res.stdout)["environment"]["adapter"]["limits"]["max_storage_buffer_binding_size"]
    if limit > 512 << 20:
        pytest.skip(f"the adapter binds {limit} bytes; a model beyond that is too large to build here")
    side = int((limit / 4 / 2) ** 0.5) + 64
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, side, side])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, side, side])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "big", [x], [y])
    path = tmp_path / "big.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    res = edgeport.run("bench", path, "--backend", "gpu", "--runs", "1")
    assert res.returncode == 3, res.describe()
    assert "more than this GPU allows" in res.stderr, res.stderr


def test_gpu_bench_reports_the_adapter(edgeport, case_loader, gpu_available):
    case = case_loader("resnet")
    res = edgeport.run("bench", case.model, "--backend", "gpu", "--runs", "3", "--json")
    assert res.returncode == 0, res.describe()
    report = json.loads(res.stdout)
    assert report["backend"] == "gpu" and report["timing"] in {"gpu-timestamp", "wall"}
    adapter = report["environment"]["adapter"]
    assert adapter["backend"] and adapter["limits"]["max_storage_buffer_binding_size"] > 0
    assert isinstance(adapter["fallback"], bool)


def test_fp16_variant_is_close_but_not_identical(edgeport, out_root, case_loader):
    case = case_loader("mobilenetv2")
    outs = {}
    for variant in ["fp32", "fp16"]:
        path = out_root / "runtime" / f"mobilenetv2_{variant}.npz"
        res = edgeport.run("run", case.model, "--input", case.input, "--output", path, "--variant", variant)
        assert res.returncode == 0, res.describe()
        outs[variant] = load_npz(path)["logits"]
    diff = float(np.max(np.abs(outs["fp32"] - outs["fp16"])))
    assert 0 < diff < 0.05 * max(1.0, float(np.max(np.abs(outs["fp32"])))), diff


def test_wrong_inputs_are_named(edgeport, out_root, case_loader, tmp_path):
    case = case_loader("mobilenetv2")
    out = tmp_path / "o.npz"
    bad_shape = tmp_path / "shape.npz"
    np.savez(bad_shape, input=np.zeros((1, 3, 10, 10), np.float32))
    res = edgeport.run("run", case.model, "--input", bad_shape, "--output", out)
    assert res.returncode == 2 and "input 'input'" in res.stderr and "[1, 3, 224, 224]" in res.stderr, res.describe()
    bad_dtype = tmp_path / "dtype.npz"
    np.savez(bad_dtype, input=np.zeros((1, 3, 224, 224), np.int32))
    res = edgeport.run("run", case.model, "--input", bad_dtype, "--output", out)
    assert res.returncode == 2 and "expected float32, got int32" in res.stderr, res.describe()
    extra = tmp_path / "extra.npz"
    np.savez(extra, input=np.zeros((1, 3, 224, 224), np.float32), other=np.zeros(3, np.float32))
    res = edgeport.run("run", case.model, "--input", extra, "--output", out)
    assert res.returncode == 2 and "'other' is not an input" in res.stderr, res.describe()
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    res = edgeport.run("run", case.model, "--input", garbage, "--output", out)
    assert res.returncode == 2 and "npz" in res.stderr, res.describe()
    assert not out.exists(), "no output file after a failed run"


def test_nan_inputs_are_reported(edgeport, case_loader, tmp_path):
    case = case_loader("mlp_gelu")
    x = load_npz(case.input)["features"].copy()
    x[0, :3] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, features=x)
    res = edgeport.run("run", case.model, "--input", path, "--output", tmp_path / "o.npz")
    assert res.returncode == 0, res.describe()
    assert "input 'features' has 3 NaN values" in res.stderr, res.describe()


def test_bench_json_carries_the_harness_fields(edgeport, case_loader):
    case = case_loader("resnet")
    res = edgeport.run("bench", case.model, "--runs", "5", "--warmup", "1", "--json")
    assert res.returncode == 0, res.describe()
    report = json.loads(res.stdout)
    assert BENCH_FIELDS <= set(report), sorted(BENCH_FIELDS - set(report))
    assert report["schema"] == "edgeport.bench/1" and report["runs"] == 5 and len(report["samples_ms"]) == 5
    assert report["environment"]["runtime"] == "native" and report["backend"] == "cpu"
    assert 0 < report["p50_ms"] <= report["p95_ms"] <= report["p99_ms"] <= report["max_ms"]
    res = edgeport.run("bench", case.model, "--runs", "0")
    assert res.returncode == 2 and "runs" in res.stderr, res.describe()
