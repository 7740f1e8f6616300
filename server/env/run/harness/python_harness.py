# The judge's half inside the sandbox: loads a candidate program once, then evaluates each test case on its
# own (per-case time limit, exceptions caught per case) and reports one result per case.
#
# Usage: python3 python_harness.py SPEC_JSON_PATH
#
# Result channel: the original stdout, duplicated to a private descriptor before any candidate code runs;
# the candidate's own fd 1 points at /dev/null. Every line the harness writes starts with a nonce that the
# judge chose and that is read from the spec file, which is deleted before the candidate is loaded, so a
# candidate that prints fake result lines is ignored by the judge. A candidate that calls os._exit simply
# stops the stream: the judge classifies the case that was running and restarts for the rest.
#
# Modes:
#   judge  - compare each case's outcome with the expected value (asserts, scripts, calls).
#   record - run the trusted reference solution on call cases and report each result (expected outputs).
import ast
import copy
import json
import linecache
import math
import operator
import os
import re
import signal
import sys
import time
import traceback

# Bound once, before any candidate code runs, so that a candidate that patches os.write, json.dumps or
# signal.setitimer cannot rewrite the results or disarm the timer through those names.
_write = os.write
_dumps = json.dumps
_setitimer = signal.setitimer
_exit = os._exit
_monotonic = time.monotonic

SOLUTION_FILE = "solution.py"
PRELUDE_FILE = "prelude.py"
PREAMBLE_FILE = "test_setup.py"
TEST_FILE = "test.py"
HARNESS_FILE = os.path.abspath(__file__)
# Values shown in feedback are capped here so one huge value cannot flood the result channel.
MAX_REPR = 65536
# After the per-case limit fires, a case that swallows the timeout exception gets this long before the
# harness ends the process itself (the judge then restarts it for the remaining cases).
GRACE_SECONDS = 1.0


class CaseTimeout(BaseException):
    """Raised by the timer; a BaseException so that `except Exception` in candidate code does not catch it."""


class ReprValue:
    """An expected value the encoder could not express as data; compared through repr()."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


# ---- value encoding: plain JSON plus single-key tagged objects for Python types JSON lacks ----

TAGS = ("$tuple", "$set", "$frozenset", "$dict", "$complex", "$float", "$repr", "$hexint")
# Integers above this many bits travel as hex: decimal conversion is quadratic in CPython, and HumanEval+
# has expected outputs with a million digits (HumanEval/83, HumanEval/139).
HEX_INT_BITS = 8192


def decode(value):
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, inner), = value.items()
            if tag == "$tuple":
                return tuple(decode(v) for v in inner)
            if tag == "$set":
                return set(decode(v) for v in inner)
            if tag == "$frozenset":
                return frozenset(decode(v) for v in inner)
            if tag == "$dict":
                return {decode(k): decode(v) for k, v in inner}
            if tag == "$complex":
                return complex(inner[0], inner[1]) if isinstance(inner, list) else complex(inner)
            if tag == "$float":
                return float(inner)
            if tag == "$repr":
                return ReprValue(inner)
            if tag == "$hexint":
                return int(inner, 16)
        return {k: decode(v) for k, v in value.items()}
    return value


def encode(value, depth=0):
    if depth > 200:
        return {"$repr": safe_repr(value)}
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > HEX_INT_BITS:
        return {"$hexint": format(value, "x")}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [encode(v, depth + 1) for v in value]}
    if isinstance(value, (set, frozenset)):
        tag = "$set" if isinstance(value, set) else "$frozenset"
        return {tag: [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"$dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, complex):
        return {"$complex": [value.real, value.imag]}
    return {"$repr": safe_repr(value)}


def safe_repr(value):
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 20 * HEX_INT_BITS:
        return "<int of about %d digits>" % int(value.bit_length() * 0.30103)
    try:
        text = repr(value)
    except BaseException as e:  # a candidate's __repr__ may itself fail
        text = "<unrepresentable %s: %s>" % (type(value).__name__, type(e).__name__)
    if len(text) > MAX_REPR:
        text = text[:MAX_REPR] + "...[%d more characters]" % (len(text) - MAX_REPR)
    return text


# ---- EvalPlus comparison rules ----

def is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)):
        return all(isinstance(i, float) for i in x)
    return False


def all_close(out, exp, atol, rtol=1e-7):
    """numpy.testing.assert_allclose semantics for numbers and (nested) lists/tuples of numbers."""
    if isinstance(out, (int, float)) and isinstance(exp, (int, float)):
        if math.isinf(out) or math.isinf(exp):
            return out == exp
        return abs(out - exp) <= atol + rtol * abs(exp)
    if isinstance(out, (list, tuple)) and isinstance(exp, (list, tuple)):
        return len(out) == len(exp) and all(all_close(o, e, atol, rtol) for o, e in zip(out, exp))
    return out == exp


def poly(xs, x):
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def outputs_match(out, exp, comparison, args):
    atol = comparison.get("atol", 0) or 0
    rule = comparison.get("rule")
    if rule == "find-zero":
        return abs(poly(*args, out)) <= atol
    if rule == "not-none":
        return exp == (out is not None)
    if rule == "set":
        return set(out) == set(exp)
    if isinstance(exp, ReprValue):
        return safe_repr(out) == exp.text
    exact = out == exp
    if not isinstance(exact, bool):
        exact = bool(exact)
    if atol == 0 and is_floats(exp):
        atol = 1e-6
    if not exact and atol != 0:
        return all_close(out, exp, atol)
    return exact


# ---- traces ----

def register_source(filename, source):
    lines = [line + "\n" for line in source.splitlines()]
    linecache.cache[filename] = (len(source), None, lines, filename)


def user_trace(exc):
    """The traceback without the harness's own frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.abspath(f.filename) != HARNESS_FILE]
    text = "".join(traceback.format_exception_only(type(exc), exc))
    if frames:
        text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) + text
    return text


def raised_by_test(exc):
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last == TEST_FILE


# ---- evaluating one case ----

COMPARE_OPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


OP_SYMBOLS = {
    ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Is: "is", ast.IsNot: "is not",
    ast.In: "in", ast.NotIn: "not in",
}


class WrongAnswer(Exception):
    def __init__(self, actual, expected, message=None, call=None):
        super().__init__(message)
        self.actual = actual
        self.expected = expected
        self.message = message
        # The call as Python shows it (after the per-task type restoration), for call cases.
        self.call = call


def evaluate_expr(node, ns):
    return eval(compile(ast.Expression(node), TEST_FILE, "eval"), ns)


def check_assert(stmt, ns):
    """Runs one `assert` so that a failure reports the run-time values of both sides."""
    test = stmt.test
    message = None
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left = evaluate_expr(test.left, ns)
        right = evaluate_expr(test.comparators[0], ns)
        if COMPARE_OPS[type(test.ops[0])](left, right):
            return
        actual, expected = safe_repr(left), safe_repr(right)
        if not isinstance(test.ops[0], ast.Eq):
            expected = "a value %s %s" % (OP_SYMBOLS[type(test.ops[0])], expected)
    elif isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        value = evaluate_expr(test.operand, ns)
        if not value:
            return
        actual, expected = safe_repr(value), "a falsy value"
    elif (isinstance(test, ast.Call) and len(test.args) >= 2 and not test.keywords
          and not any(isinstance(a, ast.Starred) for a in test.args)):
        func = evaluate_expr(test.func, ns)
        args = [evaluate_expr(a, ns) for a in test.args]
        if func(*args):
            return
        # e.g. math.isclose(f(x), y): the first two arguments are what was compared
        actual, expected = safe_repr(args[0]), safe_repr(args[1])
    else:
        value = evaluate_expr(test, ns)
        if value:
            return
        actual, expected = safe_repr(value), "a truthy value"
    if stmt.msg is not None:
        message = "AssertionError: %s" % evaluate_expr(stmt.msg, ns)
    raise WrongAnswer(actual, expected, message)


def run_statements(code, ns, assert_values):
    register_source(TEST_FILE, code)
    tree = ast.parse(code, TEST_FILE)
    for stmt in tree.body:
        if assert_values and isinstance(stmt, ast.Assert):
            check_assert(stmt, ns)
        else:
            exec(compile(ast.Module(body=[stmt], type_ignores=[]), TEST_FILE, "exec"), ns)


def run_call(case, ns, entry_point, comparison, mode):
    fn = ns.get(entry_point)
    if not callable(fn):
        raise NameError("the solution does not define a function named %r" % entry_point)
    args = decode(json.loads(case["argsJson"]))
    try:
        shown_args = copy.deepcopy(args)
    except BaseException:
        shown_args = args
    out = fn(*args)
    if mode == "record":
        if comparison.get("rule") == "not-none":
            out = out is not None
        return {"valueJson": _dumps(encode(out))}
    expected = decode(json.loads(case["expectedJson"]))
    if outputs_match(out, expected, comparison, shown_args):
        return {}
    call = "%s(%s)" % (entry_point, ", ".join(safe_repr(a) for a in shown_args))
    rule = comparison.get("rule")
    if rule == "find-zero":
        shown_expected = "x with |poly(x)| <= %g" % comparison.get("atol", 0)
    elif rule == "not-none":
        shown_expected = "a value that is not None" if expected else "None"
    elif rule == "set":
        shown_expected = "%s (in any order)" % safe_repr(expected)
    else:
        shown_expected = safe_repr(expected)
    raise WrongAnswer(safe_repr(out), shown_expected, None, call)


def run_case(case, ns, spec):
    kind = case["kind"]
    if kind == "call":
        return run_call(case, ns, spec["entryPoint"], spec.get("comparison") or {}, spec["mode"])
    if "candidate" not in ns and re.search(r"\bcandidate\b", case["code"]):
        # HumanEval's tests call the function `candidate`; say which name the solution must define.
        raise NameError("the solution does not define a function named %r" % spec["entryPoint"])
    run_statements(case["code"], ns, assert_values=(kind == "assert"))
    return {}


class Timer:
    """Per-case wall limit through SIGALRM; a second alarm after the grace period ends the process."""

    def __init__(self, emit):
        self.emit = emit
        self.case = None
        self.fired = False
        signal.signal(signal.SIGALRM, self._on_alarm)

    def _on_alarm(self, _signum, _frame):
        if not self.fired:
            self.fired = True
            _setitimer(signal.ITIMER_REAL, GRACE_SECONDS)
            raise CaseTimeout()
        # The candidate swallowed the timeout: report it ourselves and stop.
        if self.case is None:
            self.emit({"event": "load_error", "outcome": "timeout", "trace": "loading the program took too long"})
        else:
            self.emit({"event": "result", "case": self.case, "outcome": "timeout", "durationMs": None})
        _exit(3)

    def start(self, case_index, seconds):
        self.case = case_index
        self.fired = False
        _setitimer(signal.ITIMER_REAL, seconds)

    def stop(self):
        _setitimer(signal.ITIMER_REAL, 0)


def main():
    spec_path = sys.argv[1]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    os.unlink(spec_path)
    nonce = spec.pop("nonce")

    results_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stdin = open(os.devnull, encoding="utf-8")

    def emit(obj):
        data = (nonce + " " + _dumps(obj) + "\n").encode("utf-8")
        while data:
            data = data[_write(results_fd, data):]

    timer = Timer(emit)
    case_seconds = spec["caseTimeMs"] / 1000.0
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))
    # Expected values and arguments can be integers of thousands of digits (HumanEval/83's outputs);
    # Python 3.11 refuses to convert those to and from text unless the limit is lifted.
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)

    try:
        timer.start(None, case_seconds)
        try:
            for filename, source in ((PRELUDE_FILE, spec.get("prelude")), (SOLUTION_FILE, spec["candidate"]),
                                     (PREAMBLE_FILE, spec.get("preamble"))):
                if source:
                    register_source(filename, source)
                    exec(compile(source, filename, "exec"), ns)
        finally:
            timer.stop()
        entry = ns.get(spec["entryPoint"])
        if entry is not None:
            ns["candidate"] = entry
    except CaseTimeout:
        emit({"event": "load_error", "outcome": "timeout", "trace": "loading the program took too long"})
        return
    except MemoryError as e:
        emit({"event": "load_error", "outcome": "out_of_memory", "trace": user_trace(e)})
        return
    except BaseException as e:  # SyntaxError, SystemExit, anything at import time
        emit({"event": "load_error", "outcome": "exception", "trace": user_trace(e)})
        return
    emit({"event": "loaded"})

    for case in spec["cases"]:
        index = case["index"]
        emit({"event": "start", "case": index})
        result = {"event": "result", "case": index}
        began = _monotonic()
        try:
            timer.start(index, case_seconds)
            try:
                extra = run_case(case, ns, spec)
            finally:
                timer.stop()
            result.update(outcome="passed", **extra)
        except CaseTimeout:
            result.update(outcome="timeout")
        except MemoryError as e:
            result.update(outcome="out_of_memory", trace=user_trace(e))
        except WrongAnswer as e:
            result.update(outcome="wrong_answer", actual=e.actual, expected=e.expected)
            if e.message:
                result["trace"] = e.message
            if e.call:
                result["input"] = e.call
        except AssertionError as e:
            if raised_by_test(e):
                result.update(outcome="wrong_answer", trace=user_trace(e))
            else:
                result.update(outcome="exception", trace=user_trace(e))
        except SystemExit as e:
            result.update(outcome="exception", trace="SystemExit: %s (the program called exit)" % safe_repr(e.code))
        except BaseException as e:
            result.update(outcome="exception", trace=user_trace(e))
        result["durationMs"] = round((_monotonic() - began) * 1000, 3)
        emit(result)
        if spec.get("stopAtFirstFailure") and result["outcome"] != "passed":
            break
    emit({"event": "done"})


if __name__ == "__main__":
    main()
