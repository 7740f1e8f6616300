import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_SETTINGS, parseSettings, SettingsError } from "../../../server/lsp/settings";

test("missing settings take the documented defaults", () => {
  assert.deepEqual(parseSettings(undefined), DEFAULT_SETTINGS);
  assert.deepEqual(parseSettings({}), DEFAULT_SETTINGS);
  assert.equal(DEFAULT_SETTINGS.agent.attempts, 3);
});

test("VS Code's nested sections are read, and a string test command is split into arguments", () => {
  const s = parseSettings({ agent: { attempts: 5, temperature: 1 }, tests: { command: " python3 -m pytest -x " }, policy: { backend: "onnx", modelPath: "/m" } });
  assert.equal(s.agent.attempts, 5);
  assert.equal(s.agent.temperature, 1);
  assert.deepEqual(s.tests.command, ["python3", "-m", "pytest", "-x"]);
  assert.equal(s.policy.backend, "onnx");
});

test("wrong types and out-of-range values are clear errors naming the setting", () => {
  assert.throws(() => parseSettings({ agent: { attempts: "three" } }), (e: unknown) => e instanceof SettingsError && /rlef\.agent\.attempts must be a number/.test(e.message));
  assert.throws(() => parseSettings({ agent: { attempts: 0 } }), /rlef\.agent\.attempts must be between 1 and 20/);
  assert.throws(() => parseSettings({ policy: { backend: "gpt" } }), /rlef\.policy\.backend must be "demo", "onnx" or "endpoint"/);
  assert.throws(() => parseSettings({ judge: { mode: 3 } }), /rlef\.judge\.mode/);
  assert.throws(() => parseSettings({ tests: { command: [1, 2] } }), /rlef\.tests\.command/);
});
