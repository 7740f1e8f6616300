// docs/env-protocol.md promises that a Python client can be written from it alone: this runs the
// document's own Python client, verbatim, against a real service. It uses the project's virtual environment
// (.venv, made by .ci/install, which has `websockets`), and fails with instructions where that is missing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createSandbox, type Sandbox } from "../../../server/env/sandbox";
import { startEnvService, type EnvService } from "../../../server/service/server";

const PYTHON = process.env.RLEF_TEST_PYTHON ?? join(__dirname, "..", "..", "..", ".venv", "bin", "python");
const hasWebsockets = spawnSync(PYTHON, ["-c", "import websockets"], { encoding: "utf8" }).status === 0;
if (!hasWebsockets) throw new Error(`${PYTHON} cannot import websockets: run bash .ci/install (it makes .venv with the trainer's dependencies)`);

function documentedClient(): string {
  const doc = readFileSync("docs/env-protocol.md", "utf8");
  const section = doc.slice(doc.indexOf("## A Python client"));
  const code = /```python\n([\s\S]*?)\n```/.exec(section)?.[1];
  assert.ok(code, "docs/env-protocol.md has a Python client block");
  return code;
}

const DRIVER = `
import sys
url, token = sys.argv[1], sys.argv[2]
task = {"kind": "stdio", "id": "double", "set": "user", "language": "python",
        "statement": "Read an integer n and print 2n.",
        "publicTests": [{"input": "2\\n", "output": "4\\n"}], "privateTests": [{"input": "21\\n", "output": "42\\n"}],
        "checker": {"mode": "tokens"}, "limits": {"timeMs": 10000, "memoryBytes": 268435456}}
answers = iter(["\`\`\`python\\nprint(int(input()) + 1)\\n\`\`\`", "\`\`\`python\\nprint(2 * int(input()))\\n\`\`\`"])

async def main():
    async with EnvClient(url, token) as env:
        messages, rewards, passed = await rollout(env, task, lambda messages: next(answers))
        print(json.dumps({"roles": [m["role"] for m in messages], "rewards": rewards, "passed": passed,
                          "feedback": messages[2]["content"]}))
        try:
            await env.request({"type": "step", "episodeId": "nope", "response": "x"})
        except RuntimeError as e:
            print(json.dumps({"error": str(e)}))

asyncio.run(main())
`;

let sandbox: Sandbox;
let service: EnvService;
before(async () => {
  sandbox = await createSandbox({ workers: 2 });
  service = await startEnvService({ sandbox });
});
after(async () => {
  await service.close();
  await sandbox.dispose();
});

test("the documented Python client plays an episode: feedback, a fix, +1, and errors as exceptions", async () => {
  const { spawn } = await import("node:child_process");
  const child = spawn(PYTHON, ["-c", documentedClient() + "\n" + DRIVER, service.url, service.token], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  assert.equal(code, 0, err);
  const [episode, error] = out.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(episode.roles, ["user", "assistant", "user", "assistant"]);
  assert.deepEqual(episode.rewards, [0, 1]);
  assert.equal(episode.passed, true);
  assert.match(episode.feedback as string, /^Your code failed the following tests:\n\nTest 1: wrong answer\nInput:\n2\nExpected output:\n4\nYour output:\n3/);
  assert.match(error.error as string, /^unknown_episode: /);
});
