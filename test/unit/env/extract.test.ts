import { test } from "node:test";
import assert from "node:assert/strict";
import { extractCode, findFencedBlocks } from "../../../server/env/extract";

test("a single python block is extracted with a trailing newline", () => {
  const r = extractCode("Here you go:\n```python\nprint(1)\n```\nDone.", "python");
  assert.deepEqual(r.valid && r.code, "print(1)\n");
});

test("with several blocks the last one tagged with the task's language wins", () => {
  const response = "```python\nfirst()\n```\ntext\n```bash\npython x.py\n```\n```py\nsecond()\n```\n```\nuntagged()\n```";
  const r = extractCode(response, "python");
  assert.ok(r.valid);
  assert.equal(r.code, "second()\n");
  assert.equal(r.blockCount, 4);
});

test("without a tagged block the last untagged block is taken", () => {
  const r = extractCode("```\na = 1\n```\n```\nb = 2\n```", "python");
  assert.ok(r.valid);
  assert.equal(r.code, "b = 2\n");
});

test("blocks tagged with another language are never taken", () => {
  const r = extractCode("```javascript\nconsole.log(1)\n```", "python");
  assert.deepEqual(r, { valid: false, reason: "no-block-for-language", blockCount: 1 });
});

test("javascript and typescript tasks take their own tags", () => {
  const response = "```ts\nconst a: number = 1;\n```\n```js\nconst b = 2;\n```";
  assert.equal((extractCode(response, "typescript") as { code: string }).code, "const a: number = 1;\n");
  assert.equal((extractCode(response, "javascript") as { code: string }).code, "const b = 2;\n");
});

test("tags are case-insensitive and only the info string's first word counts", () => {
  const r = extractCode("```Python title=main.py\nx = 1\n```", "python");
  assert.ok(r.valid && r.code === "x = 1\n");
});

test("an unterminated fence runs to the end of the response", () => {
  const r = extractCode("```python\ndef f():\n    return 1", "python");
  assert.ok(r.valid);
  assert.equal(r.code, "def f():\n    return 1\n");
  assert.equal(r.block.unterminated, true);
});

test("CRLF line endings are normalised", () => {
  const r = extractCode("```python\r\nimport sys\r\nprint(sys.stdin.read())\r\n```\r\n", "python");
  assert.ok(r.valid && r.code === "import sys\nprint(sys.stdin.read())\n");
});

test("tilde fences work and backtick fences inside them are content", () => {
  const r = extractCode("~~~python\ns = '''\n```\n'''\nprint(s)\n~~~", "python");
  assert.ok(r.valid);
  assert.equal(r.code, "s = '''\n```\n'''\nprint(s)\n");
});

test("a longer opening fence is only closed by a fence at least as long", () => {
  const r = extractCode("````python\nx = '```'\n```\ny = 2\n````", "python");
  assert.ok(r.valid && r.code === "x = '```'\n```\ny = 2\n");
});

test("indented fences (inside a list) are found and their indentation removed", () => {
  const r = extractCode("1. Solution:\n   ```python\n   def f():\n       return 2\n   ```\n", "python");
  assert.ok(r.valid);
  assert.equal(r.code, "def f():\n    return 2\n");
});

test("a fence indented deeper than the opening fence does not close the block", () => {
  const blocks = findFencedBlocks("```\ncode\n    ```\nmore\n```");
  assert.equal(blocks.length, 1);
  assert.equal(blocks[0].content, "code\n    ```\nmore");
});

test("a response without any code block is invalid", () => {
  assert.deepEqual(extractCode("I think you should use a hash map.", "python"), {
    valid: false,
    reason: "no-code-block",
    blockCount: 0,
  });
  assert.deepEqual(extractCode("", "python"), { valid: false, reason: "no-code-block", blockCount: 0 });
});

test("inline backticks are not a fence", () => {
  assert.equal(extractCode("use ```print``` here", "python").valid, false);
});

test("an empty or whitespace-only block does not count", () => {
  assert.deepEqual(extractCode("```python\n   \n```", "python"), { valid: false, reason: "no-code-block", blockCount: 0 });
  const r = extractCode("```python\nx = 1\n```\n```python\n\n```", "python");
  assert.ok(r.valid && r.code === "x = 1\n");
});

test("code with a syntax error is still valid: it is run, not rejected", () => {
  const r = extractCode("```python\ndef f(:\n```", "python");
  assert.ok(r.valid && r.code === "def f(:\n");
});
