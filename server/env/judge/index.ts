// The output judge (one function for every caller) and the number rules it uses.
export { judgeOutput, tokensMatch, DEFAULT_FLOAT_TOLERANCE } from "./output";
export type { JudgeVerdict } from "./output";
