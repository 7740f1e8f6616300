import { test } from "node:test";
import assert from "node:assert/strict";
import { buildFirstPrompt, formatInstruction } from "../../../server/env/prompts";
import { extractCode } from "../../../server/env/extract";
import { DEFAULT_LIMITS, type FunctionTask, type StdioTask, type WorkspaceTask } from "../../../server/env/types";

const stdio: StdioTask = {
  kind: "stdio",
  id: "s",
  set: "user",
  language: "python",
  statement: "  Read n and print n squared.\n",
  publicTests: [{ input: "2\n", output: "4\n" }],
  privateTests: [],
  checker: { mode: "tokens" },
  limits: DEFAULT_LIMITS,
};

test("a stdio prompt is one user message: language, I/O convention, statement, format instruction", () => {
  assert.deepEqual(buildFirstPrompt(stdio), [
    {
      role: "user",
      content:
        "Solve the following programming problem in Python 3. Your program reads the input from standard input and writes the answer to standard output.\n\n" +
        "Read n and print n squared.\n\n" +
        "Answer with your complete program in a single fenced ```python code block, and put nothing else in backticks.",
    },
  ]);
});

const fn: FunctionTask = {
  kind: "function",
  id: "f",
  set: "user",
  language: "javascript",
  prompt: "/** Adds. */\nfunction add(a, b) {\n",
  entryPoint: "add",
  publicTests: [{ kind: "assert", code: "assert.equal(add(1, 2), 3)" }],
  privateTests: [],
  limits: DEFAULT_LIMITS,
};

test("a function prompt given as a signature is shown as code with the language's fence", () => {
  const [m] = buildFirstPrompt(fn);
  assert.equal(
    m.content,
    "Complete the following JavaScript function `add`. Include any imports and helper functions it needs.\n\n" +
      "```javascript\n/** Adds. */\nfunction add(a, b) {\n```\n\n" +
      "Answer with the complete function in a single fenced ```javascript code block, and put nothing else in backticks.",
  );
});

test("a function prompt given as prose is shown as prose", () => {
  const [m] = buildFirstPrompt({ ...fn, language: "python", prompt: "Write a function to add two numbers.\nassert add(1, 2) == 3" });
  assert.match(m.content, /`add`\. Include any imports and helper functions it needs\.\n\nWrite a function to add two numbers\.\nassert add/);
});

test("the fence the prompt asks for is one the extractor accepts", () => {
  for (const language of ["python", "javascript", "typescript"] as const) {
    const instruction = formatInstruction({ ...stdio, language });
    const tag = /```(\w+)/.exec(instruction)?.[1];
    assert.ok(extractCode("```" + tag + "\nx\n```", language).valid, language);
  }
});

test("a workspace prompt names the target, the test command and shows the current code", () => {
  const ws: WorkspaceTask = {
    kind: "workspace",
    id: "w",
    set: "workspace",
    language: "python",
    root: "/tmp/p",
    target: { file: "calc.py", startLine: 3, endLine: 5 },
    runner: "pytest",
    command: ["pytest", "-q"],
    limits: DEFAULT_LIMITS,
  };
  const [m] = buildFirstPrompt(ws, { targetSource: "def f():\n    return 0\n" });
  assert.equal(
    m.content,
    "Change lines 3–5 of `calc.py` so that the project's tests pass. The tests are run with `pytest -q`.\n\n" +
      "The current code:\n```python\ndef f():\n    return 0\n```\n\n" +
      "Answer with the complete replacement for lines 3–5 in a single fenced ```python code block, and put nothing else in backticks.",
  );
});
