import { test } from "node:test";
import assert from "node:assert/strict";
import { parseProblemText, problemFileTask, ProblemFileError } from "../../../server/env/tasks/problem-file";

const codeforcesStyle = `# A. Sum

Given n numbers, print their sum.

## Input

The first line contains n. The second line contains n integers.

## Output

Print one integer.

## Examples

### Input
\`\`\`
3
1 2 3
\`\`\`

### Output
\`\`\`
6
\`\`\`

### Input
\`\`\`
1
-5
\`\`\`
### Output
\`\`\`
-5
\`\`\`
`;

test("markdown examples in fenced blocks become public tests; prose Input/Output sections do not", () => {
  const task = problemFileTask(codeforcesStyle, "sum.md");
  assert.deepEqual(task.publicTests, [
    { input: "3\n1 2 3\n", output: "6\n" },
    { input: "1\n-5\n", output: "-5\n" },
  ]);
  assert.equal(task.privateTests.length, 0);
  assert.equal(task.kind, "stdio");
  assert.equal(task.checker.mode, "tokens");
  assert.match(task.statement, /print their sum/);
});

test("plain-text 'Sample Input N' labels take the lines up to the next blank line", () => {
  const text = "Reverse a word.\r\n\r\nSample Input 1\r\nabc\r\n\r\nSample Output 1\r\ncba\r\n\r\nSample Input 2\r\nxy\r\nSample Output 2\r\nyx\r\n";
  assert.deepEqual(parseProblemText(text, "rev.txt").examples, [
    { input: "abc\n", output: "cba\n" },
    { input: "xy\n", output: "yx\n" },
  ]);
});

test("bold labels with colons are recognised", () => {
  const text = "Double it.\n\n**Input:**\n```\n4\n```\n**Output:**\n```\n8\n```\n";
  assert.deepEqual(parseProblemText(text, "d.md").examples, [{ input: "4\n", output: "8\n" }]);
});

test("a file without examples is a clear error naming the file", () => {
  assert.throws(() => problemFileTask("Just prose, no examples.\n", "p.md"), (err: unknown) => {
    assert.ok(err instanceof ProblemFileError);
    assert.match(err.message, /^p\.md: no examples found/);
    return true;
  });
});

test("an empty file is rejected", () => {
  assert.throws(() => problemFileTask("  \n", "e.md"), /e\.md: the file is empty/);
});

test("an input without an output is rejected with its line number", () => {
  const text = "T\n\n### Input\n```\n1\n```\n\n### Input\n```\n2\n```\n### Output\n```\n2\n```\n";
  assert.throws(() => parseProblemText(text, "x.md"), /x\.md: example input at line 3 has no output before the next input at line 8/);
});

test("an output with no input before it is rejected", () => {
  assert.throws(() => parseProblemText("T\n\nSample Output\n5\n", "y.txt"), /example output at line 3 has no input/);
});

test("an unterminated fence is not taken as an example", () => {
  const text = "T\n\n### Input\n```\n1\n2\n";
  assert.deepEqual(parseProblemText(text, "u.md").examples, []);
});
