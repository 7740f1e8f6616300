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

/**
 * Known-answer programs for LeetCode-style tasks, which have no reference solutions: a `Solution` whose method
 * returns each test's expected value, looked up by the test's keyword arguments (the table is built from the
 * tests' own `test_input = {...}` / `assert ... == expected` lines), must pass; the same with one answer changed
 * in a single token (an int +1, a bool negated, a string or list extended) must fail.
 */
export function leetCodeKnownAnswerPrograms(task: FunctionTask): VerificationProgram[] {
  const method = task.entryPoint;
  const cases = [...task.publicTests, ...task.privateTests].flatMap((c) => (c.kind === "assert" ? [c.code] : []));
  if (cases.length === 0) return [];
  // Linked-list problems pass `_f1([...])` (a ListNode chain) and compare `_f2(result)` (back to a list):
  // inputs are keyed by their values either way, and such answers are returned as ListNode chains.
  const table = [
    "import ast as _rlef_ast",
    "def _rlef_norm(v):",
    "    if hasattr(v, 'val') and hasattr(v, 'next'):",
    "        out = []",
    "        while v is not None:",
    "            out.append(v.val)",
    "            v = v.next",
    "        return ('linked', tuple(out))",
    "    if isinstance(v, (list, tuple)): return tuple(_rlef_norm(x) for x in v)",
    "    if isinstance(v, dict): return tuple(sorted((k, _rlef_norm(x)) for k, x in v.items()))",
    "    return v",
    "def _rlef_key(kwargs):",
    "    return repr(sorted((k, _rlef_norm(v)) for k, v in kwargs.items()))",
    "_RLEF_ENV = {'_f1': lambda xs: ('linked', tuple(xs))}",
    `_RLEF_CASES = ${JSON.stringify(cases)}`,
    "_RLEF_TABLE = {}",
    "_RLEF_FIRST = None",
    "for _rlef_case in _RLEF_CASES:",
    "    _rlef_tree = _rlef_ast.parse(_rlef_case)",
    "    _rlef_inputs = eval(compile(_rlef_ast.Expression(_rlef_tree.body[0].value), '<input>', 'eval'), dict(_RLEF_ENV))",
    "    _rlef_test = _rlef_tree.body[1].test",
    "    _rlef_linked = isinstance(_rlef_test.left, _rlef_ast.Call) and getattr(_rlef_test.left.func, 'id', '') == '_f2'",
    "    _rlef_expected = eval(compile(_rlef_ast.Expression(_rlef_test.comparators[0]), '<expected>', 'eval'))",
    "    _rlef_key_text = repr(sorted((k, _rlef_norm(v)) for k, v in _rlef_inputs.items()))",
    "    _RLEF_TABLE.setdefault(_rlef_key_text, (_rlef_linked, _rlef_expected))",
    "    if _RLEF_FIRST is None: _RLEF_FIRST = _rlef_key_text",
  ];
  const solution = [
    "class Solution:",
    `    def ${method}(self, **kwargs):`,
    "        linked, answer = _RLEF_TABLE[_rlef_key(kwargs)]",
    "        if not linked or answer is None: return answer",
    "        head = None",
    "        for value in reversed(answer): head = ListNode(value, head)",
    "        return head",
    "",
  ];
  const changeOne = [
    "def _rlef_changed(v):",
    "    if isinstance(v, bool): return not v",
    "    if isinstance(v, (int, float)): return v + 1",
    "    if isinstance(v, str): return v + 'x'",
    "    if isinstance(v, list): return v + [v[0] if v else 0]",
    "    return None",
    "_RLEF_TABLE[_RLEF_FIRST] = (_RLEF_TABLE[_RLEF_FIRST][0], _rlef_changed(_RLEF_TABLE[_RLEF_FIRST][1]))",
  ];
  return [
    { label: "known answer", code: [...table, ...solution].join("\n"), mustPass: true },
    { label: "known answer with one token changed", code: [...table, ...changeOne, ...solution].join("\n"), mustPass: false },
  ];
}

export function pythonVerificationPrograms(task: FunctionTask): VerificationProgram[] {
  if (task.set === "leetcode") return leetCodeKnownAnswerPrograms(task);
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
