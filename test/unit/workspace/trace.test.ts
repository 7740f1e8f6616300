import { test } from "node:test";
import assert from "node:assert/strict";
import { relativizePaths, trimTrace } from "../../../server/env/workspace/trace";

test("project paths become relative, as plain paths and file URLs", () => {
  assert.equal(relativizePaths("at f (/work/src/a.js:1:2) file:///work/b.js /workshop/c.js", "/work"), "at f (src/a.js:1:2) b.js /workshop/c.js");
});

test("JavaScript frames inside node_modules, node internals and anonymous code are dropped", () => {
  const trace = [
    "TypeError: boom",
    "    at add (/work/calc.js:2:9)",
    "    at Object.<anonymous> (/work/node_modules/jest-circus/build/utils.js:298:28)",
    "    at new Promise (<anonymous>)",
    "    at Test.run (node:internal/test_runner/test:796:25)",
    "    at file:///work/node_modules/@vitest/runner/dist/x.js:1:1",
    "    at /work/calc.test.js:6:23",
    "    at last (node:internal/x:1:1) {",
  ].join("\n");
  assert.equal(trimTrace(trace, "/work"), "TypeError: boom\n    at add (calc.js:2:9)\n    at calc.test.js:6:23");
});

test("pytest frames in site-packages and frozen importlib are dropped with their source lines", () => {
  const trace = [
    "/usr/lib/python3/site-packages/_pytest/python.py:507: in importtestmodule",
    "    mod = import_path(",
    "<frozen importlib._bootstrap>:1204: in _gcd_import",
    "    ???",
    "/work/tests/test_calc.py:3: in <module>",
    "    from calc import add",
    'E     File "/work/calc.py", line 16',
    "E   SyntaxError: invalid syntax",
  ].join("\n");
  assert.equal(trimTrace(trace, "/work"), 'tests/test_calc.py:3: in <module>\n    from calc import add\nE     File "calc.py", line 16\nE   SyntaxError: invalid syntax');
});

test("Python traceback frames outside the project are dropped", () => {
  const trace = [
    "Traceback (most recent call last):",
    '  File "/work/calc.py", line 3, in add',
    "    return a + b",
    '  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads',
    "    return _default_decoder.decode(s)",
    "           ^^^^^^^^^^^^^^^^^^^^^^^^^^",
    "ValueError: bad",
  ].join("\n");
  assert.equal(trimTrace(trace, "/work"), 'Traceback (most recent call last):\n  File "calc.py", line 3, in add\n    return a + b\nValueError: bad');
});
