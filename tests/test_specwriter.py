"""tools/authoring/specwriter.py: the one writer of the spec format (layouts, quoting, key order, sets)."""
from __future__ import annotations

import json
import os

import pytest
import yaml

from unitax.compiler.schema import REPO_SCHEMAS
from unitax.tools.authoring import specwriter
from unitax.tools.authoring.specwriter import LAYOUTS, Pairs, Raw


def _props(schema: dict, node: dict) -> dict:
    """The properties of a schema node, following a local or cross-schema $ref to a $defs entry."""
    ref = node.get("$ref")
    if ref:
        name, _, pointer = ref.rpartition("#")
        if name:
            schema = json.loads((REPO_SCHEMAS / f"{name.rsplit(':', 1)[1]}.schema.json").read_text())
        for part in pointer.strip("/").split("/"):
            schema = schema[part]
        node = schema
    for alt in node.get("oneOf", node.get("anyOf", [])):   # a list or a map (mapping unfed): the map's keys
        if "properties" in alt:
            return alt
    return node


def _check(schema: dict, node: dict, shape: specwriter.Shape, where: str) -> None:
    node = _props(schema, node)
    if shape.fields:
        assert set(shape.fields) == set(node.get("properties", {})), where
        for k, sub in shape.fields.items():
            _check(schema, node["properties"][k], sub, f"{where}.{k}")
    if shape.items is not None and shape.items.fields:
        items = _props(schema, node)["items"]
        _check(schema, items, shape.items, f"{where}[]")


@pytest.mark.parametrize("kind", sorted(LAYOUTS))
def test_the_layout_has_exactly_the_schemas_keys(kind):
    """A field added to a schema and not to the layout (or the other way) fails here: one description."""
    schema = json.loads((REPO_SCHEMAS / f"{kind}.schema.json").read_text())
    assert list(LAYOUTS[kind]) and set(LAYOUTS[kind]) == set(schema["properties"])
    for key, shape in LAYOUTS[kind].items():
        _check(schema, schema["properties"][key], shape, f"{kind}.{key}")


HOSTILE = ["yes", "null", "1.5", "a: b", "#x", "- x", "{a}", "[a]", "tab\there", "line\nbreak", "\u2028", "é ü",
           "'q'", '"q"', "", " lead", "trail ", "a, b", "\x85", "\ufeff", "*ref", "&anchor", "!tag", "%", "@", "`"]


def test_every_string_reads_back_as_written():
    data = {"source": "a", "target": "universal", "note": "; ".join(HOSTILE),
            "map": {s: s for s in HOSTILE if s}, "ignore": HOSTILE, "unfed": [], "draft": {"x": HOSTILE[0]}}
    text = specwriter.render("mapping", data)
    assert yaml.safe_load(text) == data
    uni = {"name": "u", "ignore": {"id": 255, "name": "unlabeled"}, "classes": [
        {"id": i, "name": s or "x", "parent": None, "synset": None, "wordnet_modified": False, "color": [i, 0, 0],
         "definition": s} for i, s in enumerate(HOSTILE)]}
    assert yaml.safe_load(specwriter.render("universal", uni)) == uni


def test_the_layouts_order_not_the_datas():
    text = specwriter.render("dataset", {"classes": [{"void": True, "name": "b", "id": 0}], "ignore": 255,
                                         "name": "d"}, header=["head"], comments={"classes": ["", "why"]})
    assert text == "# head\nname: d\nignore: 255\n#\n# why\nclasses:\n  - {id: 0, name: b, void: true}\n"


def test_styles():
    assert specwriter.key_lines("mapping", "map", {}) == ["map: {}"]
    assert specwriter.key_lines("mapping", "ignore", []) == ["ignore: []"]
    assert specwriter.key_lines("mapping", "map", {"a b": ["c", "d"], "e": "f"}) == ["map:", "  a b: [c, d]", "  e: f"]
    assert specwriter.key_lines("mapping", "unfed", {"as_of": 3, "all_others": True}) == [
        "unfed:", "  all_others: true", "  as_of: 3"]
    assert specwriter.key_lines("relabel", "aliases", ["x", "yes"]) == ['aliases: [x, "yes"]']
    assert specwriter.item_lines("universal", "classes", {"id": 1, "name": "nm", "color": [1, 2, 3]}) == [
        "  - id: 1", "    name: nm", "    color: [1, 2, 3]"]
    assert specwriter.key_lines("universal", "description", Raw("a, b")) == ["description: a, b"]


def test_repeated_keys_are_kept_for_the_validator_to_name():
    text = specwriter.render("mapping", {"map": Pairs([("a", "x"), ("a", "z")])})
    assert text == "map:\n  a: x\n  a: z\n"


def test_unknown_keys_are_refused():
    with pytest.raises(ValueError, match="colour"):
        specwriter.render("dataset", {"colour": 1})
    with pytest.raises(ValueError, match="colour"):
        specwriter.render("dataset", {"classes": [{"id": 0, "name": "a", "colour": [0, 0, 0]}]})
    with pytest.raises(TypeError):
        specwriter.render("dataset", {"ignore": 1.5})


def test_replace_folder_leaves_exactly_the_new_set(tmp_path):
    old = {"relabel/a.yaml": "old", "relabel/a/x.tsv": "1", "relabel/b/y.tsv": "2"}
    specwriter.write_specs(tmp_path, old)
    (tmp_path / "keep.yaml").write_text("mine")
    specwriter.replace_folder(tmp_path, "relabel", {"relabel/a.yaml": "new", "relabel/a/z.tsv": "3"})
    got = sorted(os.path.relpath(os.path.join(d, n), tmp_path) for d, _, ns in os.walk(tmp_path) for n in ns)
    assert got == ["keep.yaml", "relabel/a.yaml", "relabel/a/z.tsv"]
    assert not (tmp_path / "relabel" / "b").exists()            # the folder its stale file left empty
    assert (tmp_path / "relabel/a.yaml").read_text() == "new"


def test_a_failed_set_changes_nothing(tmp_path):
    specwriter.write_specs(tmp_path, {"datasets/a.yaml": "old"})
    with pytest.raises(FileExistsError):
        specwriter.write_specs(tmp_path, {"datasets/b.yaml": "new", "datasets/a.yaml": "new"}, replace=False)
    assert sorted(p.name for p in (tmp_path / "datasets").iterdir()) == ["a.yaml"]
    assert (tmp_path / "datasets/a.yaml").read_text() == "old"
