// The Python side of the fork server, kept as a string so that bundling the server (esbuild) keeps it.
// It runs inside a worker's bubblewrap sandbox, imports what every Python start imports (site and its
// .pth files, the expensive part) once, and forks a child per run. Protocol: JSON lines on fds 0/1.
//
// A child waits on a pipe until the host has moved it into the run's cgroups, then becomes the program:
// fresh stdio (a stdin file and two FIFOs the host reads), rlimits, /work as cwd, the run's environment,
// sys.modules as it was before the server imported anything of its own, and the program as __main__.
// Nothing of a run ever enters the server's own memory (which every later child inherits a copy of):
// the child reads its request from a file after the fork, and a throwaway child wipes what it left.
export const FORK_SERVER_SCRIPT = String.raw`
import sys
PRISTINE_MODULES = frozenset(sys.modules)
PRISTINE_PATH = list(sys.path[1:])
import builtins, ctypes, gc, io, json, os, resource, shutil, signal

IO = "/run/rlef-io"
SERVER_FILE = __file__

def main():
    # Non-dumpable: a run's program (same uid) can neither ptrace us nor read /proc/<us>/mem or fd.
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    reader = LineReader(0)
    # Everything start-up made goes to the collector's permanent generation: a child's collections then
    # never walk (and so never copy-on-write) the pages it shares with the server. Measured 15-25% off a
    # forked harness run. A program sees it only through gc.get_freeze_count() / gc.get_objects().
    gc.freeze()
    send({"ready": True})
    while True:
        request = reader.next()
        if request is None:
            return
        serve(reader)

class LineReader:
    def __init__(self, fd):
        self.fd, self.pending = fd, b""
    def next(self):
        while b"\n" not in self.pending:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

def send(message):
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(1, data):]

def serve(reader):
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_write)
        become_program(go_read)
    os.close(go_read)
    send({"pid": pid})
    answer = reader.next()
    if answer and answer.get("go"):
        os.write(go_write, b"g")
    else:
        os.kill(pid, signal.SIGKILL)
    os.close(go_write)
    _, status = os.waitpid(pid, 0)
    send({"exit": os.waitstatus_to_exitcode(status)})
    answer = reader.next()  # the host says every process of the run is dead
    if answer is None:
        sys.exit(0)
    cleaner = os.fork()
    if cleaner == 0:
        try:
            for folder in ("/tmp", "/dev/shm"):
                wipe(folder)
            remove_sysv_ipc()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(cleaner, 0)
    if status != 0:
        # Something of the last run could not be removed: end this server; the host starts a clean one.
        sys.exit(1)
    send({"ready": True})

def remove_sysv_ipc():
    # Shared memory, message queues and semaphores outlive their creator within the worker's IPC namespace.
    libc = ctypes.CDLL(None, use_errno=True)
    for table, remove in (("shm", lambda i: libc.shmctl(i, 0, None)), ("msg", lambda i: libc.msgctl(i, 0, None)),
                          ("sem", lambda i: libc.semctl(i, 0, 0))):
        try:
            with open("/proc/sysvipc/" + table) as listing:
                rows = listing.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1:
                remove(int(fields[1]))  # IPC_RMID on the id column

def wipe(folder):
    # The program may have made folders unreadable to itself (chmod 0): open them up top-down first.
    for root, dirs, _ in os.walk(folder):
        for name in dirs:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, 0o700)
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)

def remove_sysv_ipc():
    # Shared memory, message queues and semaphores outlive their creator within the worker's IPC namespace.
    libc = ctypes.CDLL(None, use_errno=True)
    removers = {"shm": lambda i: libc.shmctl(i, 0, None), "msg": lambda i: libc.msgctl(i, 0, None), "sem": lambda i: libc.semctl(i, 0, 0)}
    for table, remove in removers.items():
        for ipc_id in sysv_ids(table):
            remove(ipc_id)  # IPC_RMID
        if sysv_ids(table):
            raise RuntimeError("SysV IPC objects survived removal")

def sysv_ids(table):
    try:
        with open("/proc/sysvipc/" + table) as listing:
            rows = listing.read().splitlines()[1:]
    except OSError:
        return []
    return [int(row.split()[1]) for row in rows if len(row.split()) > 1]

def become_program(go_read):
    try:
        if os.read(go_read, 1) != b"g":
            os._exit(125)
        with open(os.path.join(IO, "request"), "rb") as request:
            run = json.loads(request.read())
        os.setsid()
        for fd, name, flags in ((0, "stdin", os.O_RDONLY), (1, "stdout", os.O_WRONLY), (2, "stderr", os.O_WRONLY)):
            opened = os.open(os.path.join(IO, name), flags)
            os.dup2(opened, fd)
            os.close(opened)
        os.closerange(3, 65536)
        cpu = run["cpuSeconds"]
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (run["fileBytes"], run["fileBytes"]))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.chdir("/work")
        os.environ.clear()
        os.environ.update(run["env"])
        for name in list(sys.modules):
            if name not in PRISTINE_MODULES:
                del sys.modules[name]
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
        sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
        sys.stderr = sys.__stderr__ = io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8", errors="backslashreplace", line_buffering=True)
    except BaseException:
        os._exit(126)
    os._exit(run_as_main(run["args"], run.get("flags", [])))

def run_as_main(args, flags):
    import types
    main_module = types.ModuleType("__main__")
    main_module.__builtins__ = builtins
    sys.modules["__main__"] = main_module
    # -I: neither the script's folder nor the cwd goes on sys.path (fork-exec.ts says why the rest holds)
    isolated = "-I" in flags
    site = sys.modules.get("site")
    if site is not None and (isolated or "-s" in flags):
        site.ENABLE_USER_SITE = False
    if "-B" in flags:
        sys.dont_write_bytecode = True
    try:
        if args[0] == "-c":
            sys.argv = ["-c"] + args[2:]
            sys.path[:] = ([] if isolated else [""]) + PRISTINE_PATH
            code = compile(args[1], "<string>", "exec")
        else:
            sys.argv = list(args)
            sys.path[:] = ([] if isolated else [os.path.dirname(os.path.abspath(args[0]))]) + PRISTINE_PATH
            path = os.path.abspath(args[0])  # as python3 FILE reports it since 3.9
            with open(path, "rb") as source:
                code = compile(source.read(), path, "exec")
            main_module.__file__ = path
        main_module.__cached__ = None
        exec(code, main_module.__dict__)
        status = 0
    except SystemExit as stop:
        status = exit_code(stop.code)
    except BaseException as error:
        # Show the traceback a fresh interpreter would: without this server's own frames.
        frames = error.__traceback__
        while frames is not None and frames.tb_frame.f_code.co_filename == SERVER_FILE:
            frames = frames.tb_next
        sys.excepthook(type(error), error.with_traceback(frames), frames)
        status = 1
    return finish(status)

def exit_code(value):
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    try:
        print(value, file=sys.stderr)
    except BaseException:
        pass
    return 1

def finish(code):
    # What a normal interpreter exit does: join non-daemon threads, run atexit handlers, flush.
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
        import atexit
        atexit._run_exitfuncs()
    except SystemExit as stop:
        code = exit_code(stop.code)
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            code = code or 120
    return code

main()
`;
