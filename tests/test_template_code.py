"""Compiled Jinja templates kept between starts (webapp.template_code): a template read back renders as
one compiled afresh, anything the compiler reads is part of the key, and a damaged file is compiled again."""
from __future__ import annotations

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


def test_the_folder_is_capped(cache, monkeypatch):
    monkeypatch.setattr(template_code, "MAX_FILES", 3)
    for i in range(6):
        assert jinja2.Environment().from_string(f"{{{{ {i} }}}}").render() == str(i)
    assert len(files(cache)) == 3


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
