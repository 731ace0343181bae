"""The coremltools side of `cargo xtask bench compress` (run with the Core ML peers venv's Python).

optimize FLOAT.mlpackage METHOD OUT.mlpackage TIMES.jsonl
    Loads the fp16 ML Program package FLOAT.mlpackage (the one `edgeport convert --to coreml
    --target ios16` writes, so both tools compress the same program and the same weights),
    compresses its weights with coremltools.optimize.coreml (METHOD: int8, palettize4,
    palettize2 or prune50; every config with weight_threshold=2048, as coremltools' default)
    and saves OUT.mlpackage. Appends the phase times of the run to TIMES.jsonl; the caller
    times the whole process.

sqnr ORACLES_DIR REFERENCE.mlpackage PKG...
    Decodes every weight of each package to dense float with tests/oracles/mil_eval.py (const
    ops and the constexpr_* ops that decompress them) and compares the weights of at least
    2048 values with REFERENCE's, matched in program order (their shapes must agree). Prints
    one JSON line: per package the SQNR in dB, 10 log10(sum w^2 / sum (w - w_q)^2) summed over
    all those tensors, the tensor and value counts, the fraction of exact zeros and how many
    tensors have none.
"""

import json
import sys
import time

T_START = time.perf_counter()

import numpy as np  # noqa: E402

WEIGHT_THRESHOLD = 2048


def config(method: str):
    from coremltools.optimize import coreml as cto

    if method == "int8":
        op = cto.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=WEIGHT_THRESHOLD
        )
        return cto.linear_quantize_weights, cto.OptimizationConfig(global_config=op)
    if method.startswith("palettize"):
        nbits = int(method[len("palettize"):])
        op = cto.OpPalettizerConfig(mode="kmeans", nbits=nbits, granularity="per_tensor", weight_threshold=WEIGHT_THRESHOLD)
        return cto.palettize_weights, cto.OptimizationConfig(global_config=op)
    if method == "prune50":
        op = cto.OpMagnitudePrunerConfig(target_sparsity=0.5, weight_threshold=WEIGHT_THRESHOLD)
        return cto.prune_weights, cto.OptimizationConfig(global_config=op)
    raise SystemExit(f"unknown method {method!r}")


def optimize(float_pkg: str, method: str, out_path: str, times_path: str) -> None:
    import coremltools as ct

    t_imports = time.perf_counter()
    fn, cfg = config(method)
    mlmodel = ct.models.MLModel(float_pkg, skip_model_load=True)
    t0 = time.perf_counter()
    compressed = fn(mlmodel, config=cfg)
    t1 = time.perf_counter()
    compressed.save(out_path)
    t2 = time.perf_counter()
    row = {
        "method": method,
        "imports_s": t_imports - T_START,
        "load_s": t0 - t_imports,
        "optimize_s": t1 - t0,
        "save_s": t2 - t1,
        "coremltools": ct.__version__,
    }
    with open(times_path, "a") as f:
        f.write(json.dumps(row) + "\n")


def weights(mil_eval, path: str) -> list[np.ndarray]:
    """The dense value of every constant of >= WEIGHT_THRESHOLD values that a computing op
    (neither const nor constexpr_*) reads, in program order."""
    prog = mil_eval.MilProgram(mil_eval.MlPackage(path))
    env, types, is_const = {}, {}, {}
    consts = []
    used = set()
    for o in prog.block.operations:
        if o.type == "const" or o.type.startswith("constexpr_"):
            prog._run_op(o, env, types, is_const)
            consts.extend(x.name for x in o.outputs)
        else:
            used.update(b.name for arg in o.inputs.values() for b in arg.arguments if b.WhichOneof("binding") == "name")
    out = []
    for name in consts:
        a = np.asarray(env[name])
        if name in used and a.size >= WEIGHT_THRESHOLD and np.issubdtype(a.dtype, np.floating):
            out.append(a.astype(np.float64))
    return out


def sqnr(oracles_dir: str, reference: str, *pkgs: str) -> None:
    sys.path.insert(0, oracles_dir)
    import mil_eval

    ref = weights(mil_eval, reference)
    result = {}
    for pkg in pkgs:
        got = weights(mil_eval, pkg)
        if [w.shape for w in got] != [w.shape for w in ref]:
            raise SystemExit(
                f"{pkg}: weight shapes {[w.shape for w in got]} do not match the reference's {[w.shape for w in ref]}"
            )
        signal = sum(float(np.sum(w * w)) for w in ref)
        noise = sum(float(np.sum((w - q) ** 2)) for w, q in zip(ref, got))
        values = sum(w.size for w in ref)
        result[pkg] = {
            "sqnr_db": 10 * np.log10(signal / noise) if noise > 0 else float("inf"),
            "tensors": len(ref),
            "values": int(values),
            "zero_fraction": sum(int(np.count_nonzero(q == 0)) for q in got) / values,
            "tensors_without_zeros": sum(1 for q in got if not np.any(q == 0)),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"optimize": optimize, "sqnr": sqnr}[cmd](*args)
