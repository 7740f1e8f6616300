// JavaScript/TypeScript sets: humaneval_x_js, multipl_e_js, multipl_e_ts, exercism_js.
import type { BenchmarkSet } from "./set";

export const jsSets: BenchmarkSet[] = [];
