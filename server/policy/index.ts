// Public surface of the policy layer: the contract and the backends that implement it.
export * from "./types";
export { loadOnnxPolicy, DEFAULT_MAX_TOKENS, type OnnxPolicyOptions } from "./onnx/onnx-policy";
export type { OnnxVariant } from "./onnx/model-folder";
