"""Compiled Jinja templates kept on disk between starts (what ``__pycache__`` is for Python modules).

Jinja's own bytecode cache serves only templates read through a loader. Folium and branca make about
forty templates from strings when their modules are imported and a few more when a map is rendered;
compiling those, with the app's own templates, is some 0.15 s of every start. ``install(folder)``
wraps ``jinja2.Environment.compile`` (process-wide, once) so that a template source with Jinja syntax
is compiled once and its code object read back (``marshal``) by later starts.

The key is a hash of everything the compiler reads: the source, its name and file name, the Jinja and
Python versions, the environment's class and syntax settings, its autoescape decision for that name,
``finalize``, ``is_async``, ``optimized``, sandboxing, and each filter's and test's identity and code
(the optimizer calls filters on constants at compile time). A change to any of them is another key.
Not cached: sources without Jinja syntax (branca wraps every rendered piece of a map in a template of
its own; they hold random element ids and would only fill the folder), environments with extensions
(they run code of their own while parsing), ``raw`` compiles and already parsed sources. The folder is
capped (``MAX_FILES``): beyond it, templates are compiled as usual and not saved. A file that cannot
be read or is damaged is compiled again and rewritten.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import sys
import threading
from pathlib import Path

import jinja2
from jinja2.utils import _PassArg

MAX_FILES = 2000
SUFFIX = ".jinja-code"

_state: dict = {"folder": None, "original": None, "hits": 0, "misses": 0}
_lock = threading.Lock()
_env_signatures: dict = {}  # id(env) -> (the filters' and tests' ids, their signature)


def _function_id(func) -> bytes:
    """What a filter or test is: its module, name, how it is passed context, and its code if it has any."""
    code = getattr(func, "__code__", None)
    body = marshal.dumps(code) if code is not None else b""
    name = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', type(func).__qualname__)}"
    return name.encode() + b"\0" + repr(_PassArg.from_obj(func)).encode() + b"\0" + body


def _functions_signature(env) -> bytes:
    ids = (tuple((k, id(v)) for k, v in env.filters.items()), tuple((k, id(v)) for k, v in env.tests.items()))
    hit = _env_signatures.get(id(env))
    if hit is not None and hit[0] == ids:
        return hit[1]
    h = hashlib.blake2b(digest_size=20)
    for kind, table in (("filter", env.filters), ("test", env.tests)):
        for name in sorted(table):
            h.update(f"{kind}:{name}\0".encode() + _function_id(table[name]) + b"\0")
    sig = h.digest()
    _env_signatures[id(env)] = (ids, sig)
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
    h.update(_functions_signature(env))
    if env.finalize is not None:
        h.update(b"finalize\0" + _function_id(env.finalize))
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
    try:
        if sum(1 for _ in folder.glob(f"*{SUFFIX}")) >= MAX_FILES:
            return
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(marshal.dumps(code))
        os.replace(tmp, path)
    except OSError:
        pass


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
        _state.update(folder=None, original=None, hits=0, misses=0)
        _env_signatures.clear()


def stats() -> dict:
    """The folder in use and this process's hits and misses."""
    return {"folder": str(_state["folder"]) if _state["folder"] else None, "hits": _state["hits"],
            "misses": _state["misses"]}
