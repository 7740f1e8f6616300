"""Python reference for the TypeScript policy tests: what transformers does with a model folder.

    reference.py chat-ids --model DIR [--template-config FILE]   < [messages, ...] -> [[ids], ...]
    reference.py quantize --model DIR --kind int8|fp16     -> onnx/model_quantized.onnx | onnx/model_fp16.onnx
    reference.py greedy --model DIR --max-new-tokens N           < messages.json  -> {"prompt": [ids], "completion": [ids]}

`chat-ids` renders the conversation with Jinja2 through transformers' apply_chat_template
(optionally with the chat template of another tokenizer_config.json) and tokenizes it.
`quantize` writes onnx/model_quantized.onnx with onnxruntime's dynamic int8 quantisation, or
onnx/model_fp16.onnx with onnxruntime's float16 converter (inputs, KV cache and logits in fp16 too).
`greedy` runs PyTorch's generate() with do_sample=False and the folder's generation_config
(repetition penalty and EOS included).
"""

import argparse
import json
import os
import sys


def chat_ids(tokenizer, messages):
    out = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
    ids = out["input_ids"] if hasattr(out, "keys") else out
    return [int(i) for i in ids]


def load_tokenizer(model_dir, template_config):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if template_config is not None:
        with open(template_config, encoding="utf-8") as f:
            tokenizer.chat_template = json.load(f)["chat_template"]
    return tokenizer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["chat-ids", "greedy", "quantize"])
    parser.add_argument("--model", required=True)
    parser.add_argument("--template-config")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--kind", choices=["int8", "fp16"], default="int8")
    args = parser.parse_args()
    if args.command == "quantize":
        onnx_dir = os.path.join(args.model, "onnx")
        source = os.path.join(onnx_dir, "model.onnx")
        if args.kind == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(source, os.path.join(onnx_dir, "model_quantized.onnx"), weight_type=QuantType.QInt8)
        else:
            import onnx
            from onnxruntime.transformers.float16 import convert_float_to_float16

            half = convert_float_to_float16(onnx.load(source), keep_io_types=False)
            onnx.save(half, os.path.join(onnx_dir, "model_fp16.onnx"))
        return
    stdin = json.load(sys.stdin)
    tokenizer = load_tokenizer(args.model, args.template_config)
    if args.command == "chat-ids":
        print(json.dumps([chat_ids(tokenizer, conversation) for conversation in stdin]))
        return
    prompt = chat_ids(tokenizer, stdin)

    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    input_ids = torch.tensor([prompt])
    with torch.no_grad():
        out = model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            max_new_tokens=args.max_new_tokens,
        )
    print(json.dumps({"prompt": prompt, "completion": [int(i) for i in out[0, len(prompt):]]}))


if __name__ == "__main__":
    main()
