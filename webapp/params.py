"""Parameters of a request (query string or JSON body) -> one Params, and Params -> permalink
queries."""

from __future__ import annotations

from werkzeug.urls import urlencode

from geo.params import Params, parse_params


def from_args(args) -> Params:
    """A request's query string -> Params (raises ParamError naming every bad field)."""
    return parse_params({k: args.get(k) for k in args})


def without_version(args) -> dict:
    """A query without ``v`` (the version of a URL that names one content, not a parameter)."""
    return {k: args.get(k) for k in args if k != "v"}


def queries(params: Params, lang: str, langs) -> tuple[str, dict]:
    """The permalink query for ``lang`` and the same view in every other language."""
    base = params.to_query()
    return urlencode(base | {"lang": lang}), {
        other: urlencode(base | {"lang": other}) for other in langs
    }
