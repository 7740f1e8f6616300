// stdin/stdout sets: codecontests, codejam, apps (stdin part), xcodeeval.
import type { BenchmarkSet } from "./set";

export const stdioSets: BenchmarkSet[] = [];
