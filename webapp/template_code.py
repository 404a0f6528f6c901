"""Compiled Jinja templates kept on disk between starts (what ``__pycache__`` is for Python modules).

Jinja's own bytecode cache serves only templates read through a loader. Folium and branca make about
forty templates from strings when their modules are imported and a few more when a map is rendered;
compiling those, with the app's own templates, is some 0.15 s of every start. ``install(folder)``
wraps ``jinja2.Environment.compile`` (process-wide, once) so that a template source with Jinja syntax
is compiled once and its code object read back (``marshal``) by later starts.

The key is a hash of what the lexer, parser, optimizer and code generator read: the source, its name and
file name, the Jinja and Python versions, the environment's class and the code of the methods a subclass
defines, its syntax settings, its autoescape decision for that name, ``optimized``, ``is_async``,
sandboxing and intercepted operators, the undefined and code-generator classes, the policies, and each
filter, test and ``finalize`` by its code and what it closes over or is bound to (the optimizer calls
filters on constants while compiling; ``_function_id``). A change to any of them is another key; a value
that can only be told by its memory address gives another key in every process (a miss, never a wrong
hit).
Not cached: sources without Jinja syntax (branca wraps every rendered piece of a map in a template of
its own; they hold random element ids and would only fill the folder), environments with extensions
(they run code of their own while parsing), ``raw`` compiles and already parsed sources. The folder is
capped (``MAX_FILES``: beyond it the half read longest ago is removed). A file that cannot be read or is
damaged is compiled again and rewritten.
"""
from __future__ import annotations

import functools
import hashlib
import marshal
import os
import re
import sys
import threading
import types
import weakref
from pathlib import Path

import jinja2
from jinja2.utils import _PassArg

MAX_FILES = 2000
SUFFIX = ".jinja-code"

_state: dict = {"folder": None, "original": None, "hits": 0, "misses": 0, "writes": 0}
_lock = threading.Lock()
_env_signatures: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # env -> (what was hashed, its hash)
SIMPLE = (bool, int, float, str, bytes, type(None))


def _function_id(func, depth: int = 0) -> bytes:
    """What a callable the compiler may call is, as bytes that differ when its behaviour may: its module
    and name, how Jinja passes it context, its code, and what it closes over (functions by their code,
    other values by ``repr``); a partial's function and arguments; a bound method's function and its
    object's simple attributes; another callable object's type, ``__call__`` code and simple attributes.
    A ``repr`` that names a memory address makes another key in every process: a miss, never a wrong hit."""
    if depth > 4:
        return b"deep"
    if isinstance(func, functools.partial):
        return b"partial\0" + _function_id(func.func, depth + 1) + _value_id((func.args, func.keywords))
    if isinstance(func, types.MethodType):
        return b"method\0" + _function_id(func.__func__, depth + 1) + _simple_state(func.__self__)
    code = getattr(func, "__code__", None)
    name = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', type(func).__qualname__)}"
    out = [name.encode(), repr(_PassArg.from_obj(func)).encode(), marshal.dumps(code) if code is not None else b""]
    if code is not None:  # default arguments, and the module globals its code reads (folded in as constants)
        out.append(_value_id((getattr(func, "__defaults__", None), getattr(func, "__kwdefaults__", None))))
        glob = getattr(func, "__globals__", {})
        for gname in sorted(set(_names(code))):
            if gname in glob:
                value = glob[gname]
                out.append(gname.encode() + b"=" + (_function_id(value, depth + 1) if callable(value) and not isinstance(value, type)
                                                    else _value_id(value)))
    for cell in getattr(func, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            out.append(b"empty")
            continue
        out.append(_function_id(value, depth + 1) if callable(value) else _value_id(value))
    if code is None and not isinstance(func, (types.BuiltinFunctionType, type)):  # a callable object
        call = getattr(type(func), "__call__", None)
        out += [marshal.dumps(call.__code__) if hasattr(call, "__code__") else b"", _simple_state(func)]
    return b"\0".join(out)


def _names(code) -> list[str]:
    """The global names a code object and the code objects inside it read."""
    out = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out += _names(const)
    return out


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _stable(value, depth: int = 0) -> str:
    """``repr`` that is the same in every process: sets and dicts sorted, modules, classes and functions
    by name, memory addresses left out (a sentinel ``object()`` is told by its type only)."""
    if depth > 4:
        return "..."
    if isinstance(value, types.ModuleType):
        return f"module {value.__name__}"
    if isinstance(value, type):
        return f"class {value.__module__}.{value.__qualname__}"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(_stable(x, depth + 1) for x in value)) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(sorted(f"{_stable(k, depth + 1)}: {_stable(v, depth + 1)}" for k, v in value.items())) + "}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_stable(x, depth + 1) for x in value) + ")"
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return f"function {getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"
    return _ADDRESS.sub("", repr(value))


def _value_id(value) -> bytes:
    return _stable(value).encode()


def _simple_state(obj) -> bytes:
    """An object's attributes of simple types (a JSON provider's ``ensure_ascii``, ``sort_keys``, ...)."""
    try:
        items = vars(obj).items()
    except TypeError:
        return b""
    return _value_id({k: v for k, v in items if isinstance(v, SIMPLE)})


def _subclass_code(env) -> bytes:
    """The code of every method an Environment subclass defines (``getattr``, ``getitem``, ``_parse``, ...)."""
    out = []
    for cls in type(env).__mro__:
        if cls is jinja2.Environment:
            break
        for name, member in sorted(vars(cls).items()):
            if callable(member) and hasattr(member, "__code__"):
                out.append(name.encode() + b"\0" + marshal.dumps(member.__code__))
    return b"\0".join(out)


def _same_objects(a: tuple, b: tuple) -> bool:
    """Two tables of (name, object) hold the same names, in order, bound to the very same objects."""
    return len(a) == len(b) and all(x[0] == y[0] and x[1] is y[1] for x, y in zip(a, b))


def _environment_signature(env) -> bytes:
    """The hash of the filters, tests, policies, finalize and subclass code of ``env``; kept per
    environment (weakly) while these are the same objects (the compared ones are held: their ids
    cannot be taken by others meanwhile)."""
    seen = (tuple(env.filters.items()), tuple(env.tests.items()), env.finalize, repr(sorted(env.policies.items())))
    hit = _env_signatures.get(env)
    if hit is not None and _same_objects(hit[0][0], seen[0]) and _same_objects(hit[0][1], seen[1]) \
            and hit[0][2] is seen[2] and hit[0][3] == seen[3]:
        return hit[1]  # the same filter and test objects, finalize and policies (compared by value)
    h = hashlib.blake2b(digest_size=20)
    for kind, table in (("filter", env.filters), ("test", env.tests)):
        for name in sorted(table):
            h.update(f"{kind}:{name}\0".encode() + _function_id(table[name]) + b"\0")
    for name, value in sorted(env.policies.items()):
        h.update(f"policy:{name}\0".encode() + (_function_id(value) if callable(value) else _value_id(value)) + b"\0")
    if env.finalize is not None:
        h.update(b"finalize\0" + _function_id(env.finalize))
    h.update(b"class\0" + _subclass_code(env))
    sig = h.digest()
    try:
        _env_signatures[env] = (seen, sig)
    except TypeError:  # an environment that cannot be weakly referenced: hashed every time
        pass
    return sig


def cache_key(env, source: str, name, filename, defer_init: bool) -> str:
    """The hash of the source and of everything in ``env`` the compiler reads for it."""
    autoescape = env.autoescape(name) if callable(env.autoescape) else env.autoescape
    settings = (jinja2.__version__, sys.version, type(env).__module__, type(env).__qualname__, name, filename,
                defer_init, env.block_start_string, env.block_end_string, env.variable_start_string,
                env.variable_end_string, env.comment_start_string, env.comment_end_string,
                env.line_statement_prefix, env.line_comment_prefix, env.trim_blocks, env.lstrip_blocks,
                env.newline_sequence, env.keep_trailing_newline, bool(autoescape), env.optimized, env.is_async,
                env.sandboxed, env.undefined.__module__, env.undefined.__qualname__,
                env.code_generator_class.__module__, env.code_generator_class.__qualname__,
                tuple(sorted(getattr(env, "intercepted_binops", ()))), tuple(sorted(getattr(env, "intercepted_unops", ()))))
    h = hashlib.blake2b(digest_size=20)
    h.update(repr(settings).encode() + b"\0")
    h.update(_environment_signature(env))
    h.update(source.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def cacheable(env, source) -> bool:
    if not isinstance(source, str) or env.extensions:
        return False
    return any(s in source for s in (env.block_start_string, env.variable_start_string, env.comment_start_string))


def _read(path: Path):
    try:
        code = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return code if hasattr(code, "co_code") else None


def _write(folder: Path, path: Path, code) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(marshal.dumps(code))
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return
    with _lock:
        _state["writes"] += 1
        check = _state["writes"] % 64 == 1  # the first write of a start, then every 64th
    if check:
        prune(folder)


def prune(folder: Path, max_files: int | None = None) -> int:
    """Keep at most ``max_files`` (default MAX_FILES) compiled templates: beyond, the half read or written
    longest ago is removed (templates of old versions of the code); returns how many are kept."""
    max_files = MAX_FILES if max_files is None else max_files
    files = []
    for p in folder.glob(f"*{SUFFIX}"):
        try:
            files.append((p.stat().st_mtime_ns, p))
        except OSError:
            continue
    if len(files) <= max_files:
        return len(files)
    files.sort()
    drop = len(files) - max_files // 2
    for _, p in files[:drop]:
        try:
            p.unlink()
        except OSError:
            pass
    return len(files) - drop


def install(folder: str | os.PathLike) -> bool:
    """Keep compiled templates in ``folder`` from now on (this process). False if another folder is
    already in use (the first one stays: one cache per process) or ``folder`` cannot be made."""
    folder = Path(folder)
    with _lock:
        if _state["folder"] is not None:
            return _state["folder"] == folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        original = jinja2.Environment.compile
        _state.update(folder=folder, original=original)

        def compile(self, source, name=None, filename=None, raw=False, defer_init=False):  # noqa: A001
            if raw or not cacheable(self, source):
                return original(self, source, name, filename, raw, defer_init)
            path = folder / f"{cache_key(self, source, name, filename, defer_init)}{SUFFIX}"
            code = _read(path)
            if code is not None:
                _state["hits"] += 1
                try:
                    os.utime(path)  # read recently: kept when the folder is pruned
                except OSError:
                    pass
                return code
            _state["misses"] += 1
            code = original(self, source, name, filename, raw, defer_init)
            _write(folder, path, code)
            return code

        compile.__wrapped__ = original
        compile.__doc__ = original.__doc__
        jinja2.Environment.compile = compile
        return True


def uninstall() -> None:
    """Compile as Jinja does (tests)."""
    with _lock:
        if _state["original"] is not None:
            jinja2.Environment.compile = _state["original"]
        _state.update(folder=None, original=None, hits=0, misses=0, writes=0)
        _env_signatures.clear()


def stats() -> dict:
    """The folder in use and this process's hits and misses."""
    return {"folder": str(_state["folder"]) if _state["folder"] else None, "hits": _state["hits"],
            "misses": _state["misses"]}


def main() -> int:
    """``python -m webapp.template_code`` (``make run``, before the first start, as ``compileall`` for the
    modules): the templates a start compiles, compiled now into the instance folder's cache: Folium's
    and branca's (made when they are imported and when a map is rendered) and the app's own, by
    rendering the first page once. Prints what it did."""
    from webapp import create_app
    from webapp import template_code as cache  # the imported module (this file runs as __main__)

    app = create_app()
    folder = app.config.get("TEMPLATE_CODE_DIR") or os.path.join(app.instance_path, "template-code")
    cache.install(folder)
    status = app.test_client().get("/?lang=en").status_code
    done = cache.stats()
    print(f"compiled templates in {done['folder']}: {done['misses']} compiled, {done['hits']} already there "
          f"(first page: {status})")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
