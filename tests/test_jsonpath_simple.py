"""Simple JSONPaths are read without jsonpath-ng, exactly as jsonpath-ng reads them."""

from __future__ import annotations

import pytest
from jsonpath_ng.ext import parse

from rulerouter.policy.jsonpath import _simple_steps, compile_path, selects_one_value, simple_steps

PATHS = ["$", "$.tier", "$.a.b", "$.messages[-1].role", "$[0]", "$[0][12]", "$[00]", "$[-0]", "$.a_b.C9", "$._x",
         "$.true", "$.false", "$.null", "$.len", "$.sorted", "$.this", "$.parent", "$.keys", "$.id",
         # read by jsonpath-ng: wildcards, slices, filters, quotes, spaces, descent, reserved words
         "$.where", "$.a.wherenot", "$.*", "$[*]", "$..a", "$.a[1:2]", "$.a[?(@.b > 1)]", "$['a']", '$."a b"',
         "$. a", "$.a [0]", "$.a-b", "$.é", "$.a.", "$[", "a.b", "$.1a", "$[+1]", "$.a[0,1]", ""]


@pytest.mark.parametrize("path", PATHS)
def test_simple_paths_are_read_as_jsonpath_ng_reads_them(path):
    steps = simple_steps(path)
    if steps is None:
        return  # left to jsonpath-ng, which is the reference
    assert steps == _simple_steps(parse(path))


def test_what_a_simple_path_finds():
    data = {"messages": [{"role": "system"}, {"role": "user"}], "tier": "complex", "a": {"b": [1, 2]}}
    assert compile_path("$.messages[-1].role")(data) == ["user"]
    assert compile_path("$.tier")(data) == ["complex"]
    assert compile_path("$.a.b[5]")(data) == [] and compile_path("$.tier.x")(data) == [] and compile_path("$")(data) == [data]
    assert compile_path("$.messages[*].role")(data) == ["system", "user"]  # jsonpath-ng's
    assert selects_one_value("$.tier") and not selects_one_value("$") and not selects_one_value("$.messages[*]")
