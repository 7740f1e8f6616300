// The pre-started Python per worker: same observable behaviour as a fresh interpreter, same limits,
// and nothing of one run visible to the next run on the same worker.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { childPids, childPidsByScan } from "../../../server/env/sandbox/fork-server";
import { createSandbox } from "../../../server/env/sandbox/index";
import type { ExecSpec, Sandbox } from "../../../server/env/sandbox/types";

let forked: Sandbox;
let fresh: Sandbox;
before(async () => {
  forked = await createSandbox({ mode: "bwrap", workers: 1, forkServer: true });
  fresh = await createSandbox({ mode: "bwrap", workers: 1 });
});
after(async () => {
  await forked?.dispose();
  await fresh?.dispose();
});

const limits = { wallMs: 15_000 };

const programs: Array<[string, ExecSpec]> = [
  ["stdin, argv and cwd", { argv: ["python3", "-c", "import sys, os; print(sys.argv, os.getcwd(), sys.stdin.read()[::-1])", "a", "b"], stdin: "olleh", limits }],
  ["a script file with arguments", { argv: ["python3", "main.py", "--flag"], files: { "main.py": "import sys\nprint(__name__, __file__, sys.argv)\n" }, limits }],
  ["an uncaught exception in a file", { argv: ["python3", "main.py"], files: { "main.py": "def f():\n    raise ValueError('boom')\nf()\n" }, limits }],
  ["an uncaught exception in -c", { argv: ["python3", "-c", "x = 1\nprint('before', flush=True)\n1 / 0"], limits }],
  ["a syntax error", { argv: ["python3", "-c", "def f(:\n  pass"], limits }],
  ["sys.exit with a message", { argv: ["python3", "-c", "import sys; sys.exit('bad input')"], limits }],
  ["sys.exit with a code", { argv: ["python3", "-c", "import sys; print('x'); sys.exit(4)"], limits }],
  ["atexit handlers and non-daemon threads", { argv: ["python3", "-c", "import atexit, threading, time\natexit.register(print, 'atexit ran')\nthreading.Thread(target=lambda: (time.sleep(0.2), print('thread done'))).start()"], limits }],
  ["the environment", { argv: ["python3", "-c", "import os; print(sorted(os.environ.items()))"], env: { ANSWER: "42" }, limits }],
  ["-I: sys.path without the cwd", { argv: ["python3", "-I", "-c", "import sys; print('' in sys.path, '/work' in sys.path, sys.argv)", "x"], limits }],
  ["-B with a script file", { argv: ["python3", "-B", "main.py"], files: { "main.py": "import sys, helper\nprint(sys.dont_write_bytecode, helper.X)\n", "helper.py": "X = 5\n" }, collect: ["__pycache__/helper.cpython-311.pyc"], limits }],
  ["the stdio task's environment (PYTHONHASHSEED=0, PYTHONIOENCODING)", { argv: ["python3", "-B", "main.py"], files: { "main.py": "print(hash('abc'), list({'x', 'y', 'z', 'w'}))\n" }, env: { PYTHONHASHSEED: "0", PYTHONIOENCODING: "utf-8" }, limits }],
  ["unicode output", { argv: ["python3", "-c", "print('héllo ✓'); import sys; print('err ✓', file=sys.stderr)"], limits }],
];

for (const [name, spec] of programs) {
  test(`a fork-server run matches a fresh interpreter: ${name}`, async () => {
    const [a, b] = await Promise.all([forked.exec(spec), fresh.exec(spec)]);
    assert.ok(a.isolation.enforced.includes("fork-server"));
    assert.ok(!b.isolation.enforced.includes("fork-server"));
    assert.equal(a.stdout.toString(), b.stdout.toString());
    assert.equal(a.stderr.toString(), b.stderr.toString());
    assert.equal(a.exitCode, b.exitCode);
    assert.equal(a.termination, b.termination);
    assert.deepEqual(Object.keys(a.collected), Object.keys(b.collected));
  });
}

// The function harness runs `python3 -I python_harness.py spec.json`: what -I promises must hold when forked.
test("a forked -I run cannot be steered by a planted sitecustomize, usercustomize or a module shadowing the stdlib", async () => {
  const planted = "import sys; sys.stdout.write('PLANTED ' + __name__ + '\\n')\n";
  const spec: ExecSpec = {
    argv: ["python3", "-I", "harness.py", "spec.json"],
    files: {
      "sitecustomize.py": planted,
      "usercustomize.py": planted,
      ".local/lib/python3.11/site-packages/usercustomize.py": planted,
      ".local/lib/python3.11/site-packages/evil.pth": "import sys; sys.stdout.write('PLANTED pth\\n')\n",
      "json.py": planted,
      "random.py": planted,
      "harness.py": "import json, random, sys\nprint(json.__file__.startswith('/work'), random.__file__.startswith('/work'), [p for p in sys.path if p in ('', '/work') or '.local' in p], 'sitecustomize' in sys.modules and getattr(sys.modules['sitecustomize'], '__file__', '').startswith('/work'))\n",
      "spec.json": "{}",
    },
    limits,
  };
  const [a, b] = await Promise.all([forked.exec(spec), fresh.exec(spec)]);
  assert.ok(a.isolation.enforced.includes("fork-server"), "the -I run went to a fresh sandbox instead of the fork server");
  assert.equal(a.stdout.toString(), "False False [] False\n", a.stderr.toString());
  assert.equal(a.stdout.toString(), b.stdout.toString());
  assert.equal(a.stderr.toString(), "");
});

test("PYTHON* settings the fork cannot honour, and flags it cannot replay, run in a fresh sandbox", async () => {
  const cases: ExecSpec[] = [
    { argv: ["python3", "-c", "import os; print(os.environ['PYTHONPATH'])"], env: { PYTHONPATH: "/work/lib" }, limits },
    { argv: ["python3", "-c", "print(hash('a'))"], env: { PYTHONHASHSEED: "7" }, limits },
    { argv: ["python3", "-u", "-c", "print(1)"], limits },
    { argv: ["python3", "-O", "-c", "assert False; print('optimised')"], limits },
  ];
  for (const spec of cases) {
    const [a, b] = await Promise.all([forked.exec(spec), fresh.exec(spec)]);
    assert.ok(!a.isolation.enforced.includes("fork-server"), `${spec.argv.join(" ")} ${JSON.stringify(spec.env)} was forked`);
    assert.equal(a.stdout.toString(), b.stdout.toString());
  }
  // under -I a fresh interpreter ignores PYTHON* itself, so the fork may take the run
  const ignored = await forked.exec({ argv: ["python3", "-I", "-c", "import sys; print(sys.path[0] != '')"], env: { PYTHONPATH: "/work/lib" }, limits });
  assert.ok(ignored.isolation.enforced.includes("fork-server"));
  assert.equal(ignored.stdout.toString(), "True\n");
});

test("run N's changes to builtins, sys.modules, cwd, environment, /tmp, /work and SysV IPC are invisible to run N+1", async () => {
  const mutate = [
    "import builtins, sys, os, json",
    "builtins.len = lambda x: -1",
    "builtins.LEAKED = True",
    "sys.modules['json'] = None",
    "sys.modules['leaked_module'] = sys",
    "sys.path.insert(0, '/leaked')",
    "os.environ['LEAKED'] = '1'; os.putenv('LEAKED_PUT', '1')",
    "open('/tmp/leaked', 'w').write('x'); os.makedirs('/tmp/d/e'); os.chmod('/tmp/d', 0)",
    "open('/dev/shm/leaked', 'w').write('x')",
    "open('leaked.txt', 'w').write('x')",
    "import ctypes; libc = ctypes.CDLL(None); assert libc.shmget(0x5eed, 4096, 0o1666) >= 0",
    "os.chdir('/tmp')",
    "print('mutated')",
  ].join("\n");
  const first = await forked.exec({ argv: ["python3", "-c", mutate], limits });
  assert.equal(first.stdout.toString(), "mutated\n", first.stderr.toString());
  const check = [
    "import builtins, sys, os, json",
    "print(len([1, 2]), hasattr(builtins, 'LEAKED'), json.dumps(1), 'leaked_module' in sys.modules, '/leaked' in sys.path)",
    "print(os.getcwd(), 'LEAKED' in os.environ, 'LEAKED_PUT' in os.environ)",
    "print(sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm')), sorted(os.listdir('.')))",
    "print(len(open('/proc/sysvipc/shm').read().splitlines()) - 1)",
  ].join("\n");
  const second = await forked.exec({ argv: ["python3", "-c", check], limits });
  assert.equal(second.stdout.toString(), "2 False 1 False False\n/work False False\n[] [] []\n0\n", second.stderr.toString());
});

test("run N's program text and environment never reach the memory run N+1 inherits", async () => {
  const secret = `rlef-private-${Date.now()}-9f3a`;
  await forked.exec({ argv: ["python3", "-c", `x = '${secret}'`], env: { PRIVATE: secret }, files: { "data.txt": secret }, limits });
  // Scan this run's whole memory (inherited from the server) for the earlier run's secret, against a
  // control needle built the same way that no run ever used, and a positive control the server holds.
  const scan = [
    "import uuid",
    "def count(needle):",
    "    total = 0",
    "    with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb') as mem:",
    "        for line in maps:",
    "            span, perms = line.split()[:2]",
    "            start, end = (int(x, 16) for x in span.split('-'))",
    "            if 'r' not in perms or end - start > 1 << 30: continue",
    "            try:",
    "                mem.seek(start); total += mem.read(end - start).count(needle)",
    "            except (OSError, OverflowError, ValueError): pass",
    "    return total",
    `secret = b'rlef-private-' + '${secret.slice("rlef-private-".length)}'.encode()`,
    "control = b'rlef-private-' + (str(uuid.uuid4().int % 10**13) + '-9f3a').encode()",
    "print(count(secret) - count(control), count(b'PRISTINE_' + b'MODULES') > 0)",
  ].join("\n");
  const result = await forked.exec({ argv: ["python3", "-c", scan], limits });
  assert.equal(result.stdout.toString(), "0 True\n", result.stderr.toString());
});

test("limits hold on the fork server: timeout, memory, processes, output", async () => {
  const slow = await forked.exec({ argv: ["python3", "-c", "while True: pass"], limits: { wallMs: 500 } });
  assert.equal(slow.termination, "timeout");
  const hungry = await forked.exec({ argv: ["python3", "-c", "x = bytearray(300 * 1024 * 1024)"], limits: { wallMs: 10_000, memoryBytes: 64 * 1024 * 1024 } });
  assert.equal(hungry.termination, "memory");
  const forks = await forked.exec({
    argv: ["python3", "-c", "import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            import time; time.sleep(30)\n        n += 1\nexcept OSError: print(n)"],
    limits: { wallMs: 10_000, maxProcesses: 8 },
  });
  assert.equal(forks.stdout.toString(), "7\n", forks.stderr.toString());
  const chatty = await forked.exec({ argv: ["python3", "-c", "print('x' * 100000)"], limits: { wallMs: 10_000, outputBytes: 1000 } });
  assert.equal(chatty.stdout.length, 1000);
  assert.equal(chatty.stdoutTruncated, true);
  const after = await forked.exec({ argv: ["python3", "-c", "print('still serving')"], limits });
  assert.equal(after.stdout.toString(), "still serving\n");
});

test("a program cannot read the server's memory, open its protocol pipe, and killing it only ends its own run", async () => {
  const probe = [
    "import os",
    "for path in [f'/proc/{os.getppid()}/mem', f'/proc/{os.getppid()}/environ']:",
    "    try: open(path, 'rb').read(1); print('read', path)",
    "    except OSError: print('denied')",
    "try: open(f'/proc/{os.getppid()}/fd/1', 'w').write('{\"exit\": 0}\\n'); print('wrote to the server protocol')",
    "except OSError: print('denied')",
  ].join("\n");
  const result = await forked.exec({ argv: ["python3", "-c", probe], limits });
  assert.equal(result.stdout.toString(), "denied\ndenied\ndenied\n", result.stderr.toString());
  const killer = await forked.exec({ argv: ["python3", "-c", "import os, signal; os.kill(os.getppid(), signal.SIGKILL)"], limits });
  assert.equal(killer.termination, "signaled");
  const next = await forked.exec({ argv: ["python3", "-c", "print('new server')"], limits });
  assert.equal(next.stdout.toString(), "new server\n");
});

test("programs the fork server does not handle run in a fresh sandbox", async () => {
  const module = await forked.exec({ argv: ["python3", "-m", "json.tool"], stdin: "[1]", limits });
  assert.equal(module.stdout.toString(), "[\n    1\n]\n");
  assert.ok(!module.isolation.enforced.includes("fork-server"));
  const node = await forked.exec({ argv: ["node", "-e", "console.log(1)"], limits });
  assert.ok(!node.isolation.enforced.includes("fork-server"));
});

test("a process's children are found with and without /proc/<pid>/task/<pid>/children", async () => {
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    await new Promise((resolve) => child.once("spawn", resolve));
    assert.ok(childPids(process.pid).includes(child.pid!));
    assert.ok(childPidsByScan(process.pid).includes(child.pid!));
    assert.deepEqual(childPidsByScan(child.pid!), []);
  } finally {
    child.kill("SIGKILL");
  }
});

test('forkServer "auto" forks where bubblewrap and both cgroups are there, says so, and runs fresh where they are not', async () => {
  const auto = await createSandbox({ mode: "bwrap", workers: 1, forkServer: "auto" });
  try {
    assert.ok(auto.isolation.enforced.includes("fork-server"), JSON.stringify(auto.isolation));
    assert.ok(auto.isolation.missing.some((m) => m.startsWith("per-run-namespaces")));
    const run = await auto.exec({ argv: ["python3", "-c", "print(6 * 7)"], limits });
    assert.equal(run.stdout.toString(), "42\n");
    assert.ok(run.isolation.enforced.includes("fork-server"));
  } finally {
    await auto.dispose();
  }
  assert.ok(!fresh.isolation.enforced.includes("fork-server"));
  const unisolated = await createSandbox({ mode: "unisolated", allowUnisolated: true, workers: 1, forkServer: "auto" });
  try {
    assert.ok(!unisolated.isolation.enforced.includes("fork-server"));
    const run = await unisolated.exec({ argv: ["python3", "-c", "print(6 * 7)"], limits });
    assert.equal(run.stdout.toString(), "42\n");
    assert.ok(!run.isolation.enforced.includes("fork-server"));
  } finally {
    await unisolated.dispose();
  }
});

test("a forkServer setting that is not true, false or \"auto\" is refused", async () => {
  await assert.rejects(createSandbox({ mode: "bwrap", forkServer: "yes" as unknown as boolean }), /forkServer must be true, false or "auto"/);
});
