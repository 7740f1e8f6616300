import { test } from "node:test";
import assert from "node:assert/strict";
import { isPythonMemoryError, trimPythonTrace } from "../../../server/env/run/stdio";

test("frames outside the program are dropped and its path becomes main.py", () => {
  const stderr = [
    "Traceback (most recent call last):",
    '  File "/work/main.py", line 4, in <module>',
    "    solve()",
    '  File "/root/.pyenv/versions/3.11.7/lib/python3.11/json/__init__.py", line 346, in loads',
    "    return _default_decoder.decode(s)",
    "           ^^^^^^^^^^^^^^^^^^^^^^^^^^",
    "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
  ].join("\n");
  const trimmed = trimPythonTrace(stderr);
  assert.equal(
    trimmed,
    ['Traceback (most recent call last):', '  File "main.py", line 4, in <module>', "    solve()", "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)"].join("\n"),
  );
});

test("the program's own stderr before the traceback is kept", () => {
  assert.equal(trimPythonTrace("debug: 3\n"), "debug: 3");
});

test("a huge stderr is cut to its end, where the exception is", () => {
  const trimmed = trimPythonTrace(`${"noise\n".repeat(100_000)}ValueError: the end`);
  assert.ok(trimmed.length <= 16 * 1024 + 1);
  assert.match(trimmed, /ValueError: the end$/);
});

test("MemoryError is recognised on the last line only", () => {
  assert.equal(isPythonMemoryError("Traceback (most recent call last):\n  File \"main.py\", line 1\nMemoryError\n"), true);
  assert.equal(isPythonMemoryError("MemoryError: cannot allocate\n"), true);
  assert.equal(isPythonMemoryError("MemoryError\nValueError: later\n"), false);
  assert.equal(isPythonMemoryError(""), false);
});
