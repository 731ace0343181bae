"""onnxruntime peer of `cargo xtask bench cpu`: one thread (intra- and inter-op), all graph
optimizations, the model's own input; prints the fields `edgeport bench --json` has.

Usage: python bench_cpu_peer.py MODEL INPUT.npz RUNS WARMUP
"""

import json
import sys
import time

import numpy as np
import onnxruntime as ort


def main() -> None:
    model, inputs, runs, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    feed = dict(np.load(inputs))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t0 = time.perf_counter()
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    session.run(None, feed)
    first_run_ms = (time.perf_counter() - t0) * 1e3
    for _ in range(warmup):
        session.run(None, feed)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, feed)
        samples.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({
        "peer": f"onnxruntime {ort.__version__}",
        "load_ms": load_ms,
        "first_run_ms": first_run_ms,
        "p50_ms": float(np.percentile(samples, 50)),
        "mean_ms": float(np.mean(samples)),
        "runs": runs,
    }))


if __name__ == "__main__":
    main()
