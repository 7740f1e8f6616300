// The programs `rlef verify` runs against a Python function-level task and the verdict each must get:
// the reference passes, the deterministic mutant fails, and where EvalPlus has a special oracle a correct
// but different answer passes (another root for find_zero, a permuted output for order-insensitive tasks,
// a different non-None value for "not None" tasks).
import type { FunctionTask } from "../types";
import type { VerificationProgram } from "../tasks/set";
import { returnValueMutant } from "./python-mutant";

function wrapResult(reference: string, entryPoint: string, body: string[]): string {
  return [
    reference,
    "",
    `_rlef_reference_${entryPoint} = ${entryPoint}`,
    `def ${entryPoint}(*args, **kwargs):`,
    `    result = _rlef_reference_${entryPoint}(*args, **kwargs)`,
    ...body.map((l) => `    ${l}`),
    "",
  ].join("\n");
}

/** A root of the same polynomial that is not the reference's bit pattern: the farthest other real root, or a Newton-refined one. */
const OTHER_ROOT = [
  "def _value(x):",
  "    return sum(c * x ** i for i, c in enumerate(args[0]))",
  "def _slope(x):",
  "    return sum(i * c * x ** (i - 1) for i, c in enumerate(args[0]) if i)",
  "roots = []",
  "grid = [-20 + k * 0.1 for k in range(401)]",
  "for lo, hi in zip(grid, grid[1:]):",
  "    if _value(lo) == 0 or _value(lo) * _value(hi) < 0:",
  "        for _ in range(200):",
  "            mid = (lo + hi) / 2",
  "            if _value(lo) * _value(mid) <= 0: hi = mid",
  "            else: lo = mid",
  "        roots.append(lo)",
  "other = [r for r in roots if abs(r - result) > 1e-3 and abs(_value(r)) < 1e-6]",
  "if other:",
  "    return max(other, key=lambda r: abs(r - result))",
  "x = result + 1e-7",
  "for _ in range(20):",
  "    s = _slope(x)",
  "    if s == 0: break",
  "    x -= _value(x) / s",
  "return x",
];

const PERMUTED = [
  "if isinstance(result, (list, tuple)) and len(result) > 1:",
  "    return type(result)(list(result)[1:] + list(result)[:1])",
  "return result",
];

const OTHER_NON_NONE = ["return result if result is None or isinstance(result, bool) else 'another non-None answer'"];

export function pythonVerificationPrograms(task: FunctionTask): VerificationProgram[] {
  const reference = task.referenceSolution;
  if (!reference) return [];
  const mutant = returnValueMutant(reference, task.entryPoint);
  const programs: VerificationProgram[] = [
    { label: "reference", code: reference, mustPass: true },
    { label: mutant.description, code: mutant.code, mustPass: false },
  ];
  const rule = task.comparison?.rule;
  if (rule === "find-zero") {
    programs.push({ label: "other root", code: wrapResult(reference, task.entryPoint, OTHER_ROOT), mustPass: true });
  } else if (rule === "set") {
    programs.push({ label: "permuted output", code: wrapResult(reference, task.entryPoint, PERMUTED), mustPass: true });
  } else if (rule === "not-none") {
    programs.push({ label: "different non-None answer", code: wrapResult(reference, task.entryPoint, OTHER_NON_NONE), mustPass: true });
  }
  return programs;
}
