"""runtime/fileops/jsonio.py: JSON read back from disk, bounded in size and depth (issue 20, class 4)."""

from __future__ import annotations

import io

import pytest

from unitax.fileops import jsonio
from unitax.fileops.jsonio import JSONLimitError


def test_ordinary_json_reads_as_json():
    doc = {"a": [1, {"b": [2.5, None, "x"]}], "c": True}
    assert jsonio.loads('{"a": [1, {"b": [2.5, null, "x"]}], "c": true}') == doc
    assert jsonio.load(io.BytesIO(b'[1, 2]')) == [1, 2]
    assert jsonio.load(io.StringIO('"s"')) == "s"


@pytest.mark.parametrize("text", ["[" * 100_000, "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000])
def test_deep_nesting_is_a_value_error_not_a_recursion_error(text):
    with pytest.raises(JSONLimitError, match="nested deeper than 64 levels"):
        jsonio.loads(text)
    assert issubclass(JSONLimitError, ValueError)  # readers that skip bad JSON skip these too


def test_the_depth_bound_is_exact():
    jsonio.loads("[" * 64 + "]" * 64)
    with pytest.raises(JSONLimitError):
        jsonio.loads("[" * 65 + "]" * 65)
    jsonio.loads('{"a": ' * 3 + "[]" + "}" * 3, max_depth=4)
    with pytest.raises(JSONLimitError):
        jsonio.loads('{"a": ' * 4 + "[]" + "}" * 4, max_depth=4)


def test_size_is_bounded_before_reading_the_rest(tmp_path):
    class Stream(io.BytesIO):
        asked: list[int] = []

        def read(self, n=-1):
            self.asked.append(n)
            return super().read(n)

    s = Stream(b"[" + b"0," * 1000 + b"0]")
    with pytest.raises(JSONLimitError, match="larger than 100 bytes"):
        jsonio.load(s, max_bytes=100)
    assert s.asked == [101]
    p = tmp_path / "x.json"
    p.write_text("[1]")
    assert jsonio.load(p, max_bytes=3) == [1]
    with pytest.raises(JSONLimitError):
        jsonio.load(p, max_bytes=2)
    with pytest.raises(ValueError):
        jsonio.loads("[1,")
