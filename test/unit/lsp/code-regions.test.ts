import { test } from "node:test";
import assert from "node:assert/strict";
import { findFunctions, functionAt, languageOfFile } from "../../../server/agent/code-regions";

const py = `import os


@decorator
def outer(a,
          b):
    """Doc."""
    x = (a +
b)

    return x


class Calc:
    def add(self, a, b):
        return a + b

    async def fetch(self):
        # comment at a lower indent follows
# weird
        return 1


def last():
    pass
`;

test("Python functions span their decorators, continuation lines and body", () => {
  const fs = findFunctions(py, "python");
  assert.deepEqual(
    fs.map((f) => [f.name, f.startLine, f.endLine, f.depth]),
    [
      ["outer", 4, 11, 0],
      ["add", 15, 16, 1],
      ["fetch", 18, 21, 1],
      ["last", 24, 25, 0],
    ],
  );
});

test("the function under the cursor is the innermost one; outside any function there is none", () => {
  assert.equal(functionAt(py, "python", 16)?.name, "add");
  assert.equal(functionAt(py, "python", 9)?.name, "outer");
  assert.equal(functionAt(py, "python", 1), null);
  assert.equal(functionAt(py, "python", 13), null);
});

test("JavaScript and TypeScript functions come from the TypeScript parser", () => {
  const js = "const a = 1;\nfunction mul(a, b) {\n  return a * b;\n}\nconst half = (x) => {\n  return x / 2;\n};\nclass K {\n  m() {\n    return 1;\n  }\n}\n";
  assert.deepEqual(
    findFunctions(js, "javascript").map((f) => [f.name, f.startLine, f.endLine]),
    [
      ["mul", 2, 4],
      ["half", 5, 7],
      ["m", 9, 11],
    ],
  );
  const ts = "export function id<T>(x: T): T {\n  return x;\n}\n";
  assert.deepEqual(findFunctions(ts, "typescript").map((f) => [f.name, f.startLine, f.endLine]), [["id", 1, 3]]);
});

test("files are recognised by extension", () => {
  assert.equal(languageOfFile("/a/b.py"), "python");
  assert.equal(languageOfFile("x.mjs"), "javascript");
  assert.equal(languageOfFile("x.tsx"), "typescript");
  assert.equal(languageOfFile("x.md"), null);
});

test("malformed source does not throw", () => {
  assert.doesNotThrow(() => findFunctions("def broken(:\n  ???", "python"));
  assert.doesNotThrow(() => findFunctions("function (( {", "javascript"));
});
