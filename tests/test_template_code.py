"""Compiled Jinja templates kept between starts (webapp.template_code): a template read back renders as
one compiled afresh, anything the compiler reads is part of the key, and a damaged file is compiled again."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import jinja2
import pytest

from webapp import ROOT, template_code

SOURCE = "{% for x in items %}<b>{{ x|upper }}</b>{% endfor %}{{ title|e }}"


@pytest.fixture
def cache(tmp_path):
    template_code.uninstall()
    assert template_code.install(tmp_path / "code")
    yield tmp_path / "code"
    template_code.uninstall()


def files(folder):
    return sorted(folder.glob(f"*{template_code.SUFFIX}"))


def test_a_template_read_back_renders_as_a_fresh_one(cache):
    env = jinja2.Environment(autoescape=True)
    first = env.from_string(SOURCE).render(items=["a", "<b>"], title="x & y")
    assert len(files(cache)) == 1 and template_code.stats()["misses"] == 1
    again = jinja2.Environment(autoescape=True).from_string(SOURCE).render(items=["a", "<b>"], title="x & y")
    assert template_code.stats()["hits"] == 1
    assert again == first == "<b>A</b><b>&lt;B&gt;</b>x &amp; y"
    template_code.uninstall()
    assert jinja2.Environment(autoescape=True).from_string(SOURCE).render(items=["a", "<b>"], title="x & y") == first


def test_the_key_holds_what_the_compiler_reads(cache):
    """Autoescape, syntax, and a filter's code each give another compiled template (else a page would be
    rendered with another environment's code)."""
    plain = jinja2.Environment().from_string("{{ v }}").render(v="<i>")
    escaped = jinja2.Environment(autoescape=True).from_string("{{ v }}").render(v="<i>")
    assert (plain, escaped) == ("<i>", "&lt;i&gt;")
    assert jinja2.Environment(variable_start_string="[[", variable_end_string="]]").from_string(
        "[[ v ]] {{ v }}").render(v=1) == "1 {{ v }}"
    one, two = jinja2.Environment(), jinja2.Environment()
    one.filters["twice"] = lambda v: v * 2
    two.filters["twice"] = lambda v: v * 3  # the same name, other code: folded constants differ
    assert one.from_string("{{ 'a'|twice }}").render() == "aa"
    assert two.from_string("{{ 'a'|twice }}").render() == "aaa"
    assert len(files(cache)) == 5


def _make(n):
    return lambda v: v * n


class _Joiner:
    def __init__(self, sep):
        self.sep = sep

    def join(self, v):
        return self.sep.join(v)


class _OwnGetattr(jinja2.Environment):
    def getattr(self, obj, attribute):
        return "overridden"


@pytest.mark.parametrize("change", [
    lambda e: ("name", dict(name="other.html")), lambda e: ("filename", dict(filename="/x/other.html")),
    lambda e: ("defer_init", dict(defer_init=True)),
    lambda e: setattr(e, "variable_start_string", "{{{"), lambda e: setattr(e, "block_start_string", "{%%"),
    lambda e: setattr(e, "comment_start_string", "{##"), lambda e: setattr(e, "line_statement_prefix", "#"),
    lambda e: setattr(e, "line_comment_prefix", "##"), lambda e: setattr(e, "trim_blocks", True),
    lambda e: setattr(e, "lstrip_blocks", True), lambda e: setattr(e, "keep_trailing_newline", True),
    lambda e: setattr(e, "newline_sequence", "\r\n"), lambda e: setattr(e, "autoescape", True),
    lambda e: setattr(e, "optimized", False), lambda e: setattr(e, "is_async", True),
    lambda e: setattr(e, "finalize", lambda v: v), lambda e: setattr(e, "undefined", jinja2.StrictUndefined),
    lambda e: e.policies.__setitem__("json.dumps_kwargs", {"sort_keys": False}),
    lambda e: e.filters.__setitem__("upper", lambda v: v), lambda e: e.tests.__setitem__("odd", lambda v: True),
    lambda e: e.filters.__setitem__("rep", _make(3)), lambda e: e.filters.__setitem__("joined", _Joiner("-").join),
])
def test_each_thing_the_compiler_reads_is_in_the_key(change):
    """Removing any of them from ``cache_key`` makes its case fail."""
    def env_with(f=None):
        env = jinja2.Environment()
        env.filters["rep"], env.filters["joined"] = _make(2), _Joiner(",").join
        out = f(env) if f else None
        return env, (out[1] if isinstance(out, tuple) else {})
    base, _ = env_with()
    other, args = env_with(change)
    key = dict(name="page.html", filename="/t/page.html", defer_init=False) | args
    assert template_code.cache_key(base, SOURCE, "page.html", "/t/page.html", False) != \
        template_code.cache_key(other, SOURCE, key["name"], key["filename"], key["defer_init"])


_SCALE = 10


def _scaled(v):
    return v * _SCALE


def _rounding(digits):
    def fmt(x, digits=digits):  # the same code, another default
        return round(x, digits)
    return fmt


def test_defaults_and_globals_a_filter_reads_are_in_the_key(cache, monkeypatch):
    """The optimizer folds ``{{ 3.14159|fmt }}`` and ``{{ 2|scaled }}`` while compiling."""
    one, three = jinja2.Environment(), jinja2.Environment()
    one.filters["fmt"], three.filters["fmt"] = _rounding(1), _rounding(3)
    assert one.from_string("{{ 3.14159|fmt }}").render() == "3.1"
    assert three.from_string("{{ 3.14159|fmt }}").render() == "3.142"
    env = jinja2.Environment()
    env.filters["scaled"] = _scaled
    assert env.from_string("{{ 2|scaled }}").render() == "20"
    monkeypatch.setattr(__import__(__name__), "_SCALE", 1000)
    again = jinja2.Environment()
    again.filters["scaled"] = _scaled
    assert again.from_string("{{ 2|scaled }}").render() == "2000"


def test_the_key_is_the_same_in_every_process():
    """Sets, sentinels and other values whose repr varies between processes are written stably: a
    template compiled by one start is found by the next (else the cache would only ever miss)."""
    script = ("import jinja2; from webapp import template_code as t; "
              "print(t.cache_key(jinja2.Environment(), '{{ x|map(attribute=\\'a\\')|list }}', None, None, False))")
    keys = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(keys) == 1


def test_sandboxing_and_subclass_methods_are_in_the_key():
    from jinja2.sandbox import SandboxedEnvironment

    keys = {template_code.cache_key(cls(), SOURCE, None, None, False)
            for cls in (jinja2.Environment, SandboxedEnvironment, _OwnGetattr)}
    assert len(keys) == 3


def test_policies_closures_and_bound_objects_render_as_without_the_cache(cache):
    """The optimizer folds constants with filters (tojson reads the policies): each environment gets
    its own compiled code, not the first one's."""
    src = "{{ {'b': 1, 'a': 2}|tojson }} {{ 'a'|rep }} {{ ['x', 'y']|joined }}"
    sorted_env, plain_env = jinja2.Environment(), jinja2.Environment()
    plain_env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    sorted_env.filters["rep"], plain_env.filters["rep"] = _make(2), _make(3)
    sorted_env.filters["joined"], plain_env.filters["joined"] = _Joiner(",").join, _Joiner("-").join
    assert sorted_env.from_string(src).render() == '{"a": 2, "b": 1} aa x,y'
    assert plain_env.from_string(src).render() == '{"b": 1, "a": 2} aaa x-y'


def test_environments_made_and_dropped_never_borrow_each_others_code(cache):
    """Memory of a dropped environment is reused by the next one: its filters must still be its own."""
    wrong = 0
    for i in range(300):
        env = jinja2.Environment()
        env.filters["n"] = (lambda k: lambda v: f"{v}-{k}")(i)
        wrong += env.from_string("{{ 'x'|n }}").render() != f"x-{i}"
        del env
    assert wrong == 0


def test_sources_without_jinja_syntax_and_extensions_are_not_kept(cache):
    """branca wraps each rendered piece of a map in a template of its own (random element ids)."""
    assert jinja2.Environment().from_string("var map_0123 = L.map('x');").render() == "var map_0123 = L.map('x');"
    ext = jinja2.Environment(extensions=["jinja2.ext.do"])
    assert ext.from_string("{% set l = [] %}{% do l.append(1) %}{{ l }}").render() == "[1]"
    assert files(cache) == []


def test_a_damaged_file_is_compiled_again(cache):
    env = jinja2.Environment()
    assert env.from_string("{{ 1 + 1 }}").render() == "2"
    (path,) = files(cache)
    path.write_bytes(b"not marshal data")
    assert jinja2.Environment().from_string("{{ 1 + 1 }}").render() == "2"
    assert template_code._read(path) is not None  # rewritten


def test_syntax_errors_are_raised_as_ever(cache):
    with pytest.raises(jinja2.TemplateSyntaxError):
        jinja2.Environment().from_string("{% for %}")
    assert files(cache) == []


def test_the_folder_is_pruned_read_longest_ago_first(cache):
    env = jinja2.Environment()
    sources = [f"{{{{ {i} }}}}" for i in range(6)]
    paths = [cache / f"{template_code.cache_key(env, src, None, None, False)}{template_code.SUFFIX}" for src in sources]
    for i, src in enumerate(sources):
        assert env.from_string(src).render() == str(i)
        os.utime(paths[i], ns=(i * 10**9, i * 10**9))
    assert jinja2.Environment().from_string(sources[0]).render() == "0"  # read again: now the newest
    assert template_code.prune(cache, max_files=4) == 2  # over the cap: half of it kept
    assert [p.exists() for p in paths] == [True, False, False, False, False, True]


def test_one_folder_per_process(cache, tmp_path):
    assert template_code.install(cache) is True
    assert template_code.install(tmp_path / "other") is False


def test_served_map_page_is_the_same_with_the_cache(tmp_path):
    """The app's first page (Folium's and the app's templates) rendered by a process that compiled them,
    and by one that read them back, equal one rendered without the cache (Folium's random ids aside)."""
    script = f"""
import re, sys
sys.path.insert(0, {str(ROOT)!r})
from webapp import create_app, template_code
if sys.argv[1] != "none":
    template_code.install(sys.argv[1])
app = create_app({{"TESTING": True, "DATABASE_URL": "sqlite:///" + sys.argv[2], "SECRET_KEY": "t"}})
html = app.test_client().get("/?lang=kk").get_data(as_text=True)
html = re.sub(r'nonce="[^"]*"', "", re.sub(r"_[0-9a-f]{{32}}", "_ID", html))
html = re.sub(r"\\d{{4}}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ", "T", html)
print(template_code.stats()["hits"], template_code.stats()["misses"])
sys.stdout.write(html)
"""
    def run(folder, db):
        out = subprocess.run([sys.executable, "-c", script, str(folder), str(tmp_path / db)], capture_output=True,
                             text=True, check=True, cwd=ROOT).stdout
        counts, _, html = out.partition("\n")
        return tuple(int(x) for x in counts.split()), html

    (h0, m0), plain = run("none", "a.sqlite3")
    (h1, m1), compiled = run(tmp_path / "code", "b.sqlite3")
    (h2, m2), read_back = run(tmp_path / "code", "c.sqlite3")
    assert (h0, m0, h1) == (0, 0, 0) and m1 > 30
    assert (h2, m2) == (m1, 0)
    assert len(plain) > 100_000 and compiled == plain and read_back == plain


def test_make_run_compiles_the_templates_before_the_first_start(tmp_path):
    """``python -m webapp.template_code`` (make run's step): the first page's templates compiled into the
    instance folder; run again, everything is already there."""
    env = {**os.environ, "INSTANCE_DIR": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT)}

    def run():
        out = subprocess.run([sys.executable, "-m", "webapp.template_code"], capture_output=True, text=True,
                             env=env, cwd=ROOT, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        return [int(n) for n in re.findall(r"(\d+) (?:compiled|already there)", out.stdout)]

    compiled, there = run()
    assert compiled > 30 and there == 0
    assert len(list((tmp_path / "instance" / "template-code").glob(f"*{template_code.SUFFIX}"))) == compiled
    assert run() == [0, compiled]
