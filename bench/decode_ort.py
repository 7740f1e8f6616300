"""Baseline for bench/decode.ts: onnxruntime's Python API running the same decoder .onnx file
with the same thread count, as the same greedy loop: prefill the prompt, then one token per
step, with IOBinding so each step's present.{i}.* OrtValues are bound as the next step's
past_key_values.{i}.* without a copy through numpy.

    python bench/decode_ort.py --onnx FILE --config config.json --eos 1,2 --threads 1 \
        --new-tokens 128 --runs 3 < prompt_ids.json

Prints one JSON object: the generated ids and, per run, time to first token, decode time and
the process CPU time of the decode (robust to other jobs preempting this one on a shared machine).

With --serve --prompt FILE it loads and warms up once, then runs one generation per line read
from stdin and prints one JSON line each, so bench/decode.ts can alternate it with its own runs
(both engines then see the same background load). The measured loop is the same in both modes.
"""

import argparse
import json
import sys
import time

import numpy as np
import onnxruntime as ort


def open_session(onnx_path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])


def greedy(session, config, prompt, new_tokens, eos):
    layers = config["num_hidden_layers"]
    kv_heads = config.get("num_key_value_heads", config["num_attention_heads"])
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    input_names = {i.name for i in session.get_inputs()}
    output_names = [o.name for o in session.get_outputs()]
    binding = session.io_binding()
    empty = np.zeros((1, kv_heads, 0, head_dim), dtype=np.float32)
    for i in range(layers):
        binding.bind_cpu_input(f"past_key_values.{i}.key", empty)
        binding.bind_cpu_input(f"past_key_values.{i}.value", empty)

    generated = []
    ids = list(prompt)
    past_length = 0
    start = time.perf_counter()
    first_token_at = None
    first_token_cpu = None
    while len(generated) < new_tokens:
        total = past_length + len(ids)
        binding.bind_cpu_input("input_ids", np.array([ids], dtype=np.int64))
        binding.bind_cpu_input("attention_mask", np.ones((1, total), dtype=np.int64))
        if "position_ids" in input_names:
            binding.bind_cpu_input("position_ids", np.arange(past_length, total, dtype=np.int64)[None, :])
        for name in output_names:
            binding.bind_output(name, "cpu")
        session.run_with_iobinding(binding)
        outputs = dict(zip(output_names, binding.get_outputs(), strict=True))
        # Present of this step becomes past of the next, as OrtValues (no copy).
        for i in range(layers):
            binding.bind_ortvalue_input(f"past_key_values.{i}.key", outputs[f"present.{i}.key"])
            binding.bind_ortvalue_input(f"past_key_values.{i}.value", outputs[f"present.{i}.value"])
        logits = outputs["logits"].numpy()
        token = int(np.argmax(logits[0, -1]))
        generated.append(token)
        if first_token_at is None:
            first_token_at = time.perf_counter()
            first_token_cpu = time.process_time()
        if token in eos:
            break
        past_length = total
        ids = [token]
    end = time.perf_counter()
    end_cpu = time.process_time()
    return generated, {
        "ttftMs": (first_token_at - start) * 1000,
        "decodeMs": (end - first_token_at) * 1000,
        "decodeCpuMs": (end_cpu - first_token_cpu) * 1000,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--onnx", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--eos", default="")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--warmup-tokens", type=int, default=4)
    parser.add_argument("--warmup-runs", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--prompt", help="file with the prompt ids as JSON (default: stdin)")
    args = parser.parse_args()
    if args.prompt is not None:
        with open(args.prompt, encoding="utf-8") as f:
            prompt = json.load(f)
    else:
        prompt = json.load(sys.stdin)
    with open(args.config, encoding="utf-8") as f:
        config = json.load(f)
    eos = {int(t) for t in args.eos.split(",") if t}
    session = open_session(args.onnx, args.threads)
    for _ in range(args.warmup_runs):
        greedy(session, config, prompt, args.warmup_tokens, eos)  # warm-up: allocations and kernel selection
    if args.serve:
        print(json.dumps({"ready": True, "onnxruntime": ort.__version__}), flush=True)
        for _ in sys.stdin:
            tokens, run = greedy(session, config, prompt, args.new_tokens, eos)
            print(json.dumps({"tokens": tokens, "run": run}), flush=True)
        return
    runs = []
    tokens = None
    for _ in range(args.runs):
        tokens, run = greedy(session, config, prompt, args.new_tokens, eos)
        runs.append(run)
    print(json.dumps({"tokens": tokens, "runs": runs, "onnxruntime": ort.__version__}))


if __name__ == "__main__":
    main()
