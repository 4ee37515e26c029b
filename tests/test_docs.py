"""The generated docs: every class and dataset has its page, links resolve and go both ways, the
output is escaped and deterministic, and the HTML works in a real browser from the file system."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markupsafe import escape
from support.goldens import check_goldens
from support.paths import GENERATED, ROOT, SPECS

from unitax.compiler import build
from unitax.compiler.emit import docs as emit_docs
from unitax.compiler.emit.docs import gh_anchor, slug
from unitax.compiler.model import UNIVERSAL, Model

GOLDEN_SPECS = ROOT / "tests" / "goldens" / "specs"


def _model(root: Path) -> Model:
    model, problems = build.check_specs(root)
    assert model is not None, [str(p) for p in problems]
    return model


@pytest.fixture(scope="module")
def model() -> Model:
    return _model(SPECS)


@pytest.fixture(scope="module")
def docs(model: Model) -> dict[str, bytes]:
    return emit_docs.render(model)


@pytest.fixture(scope="module")
def site(docs: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs written out, as a reader would open them: a folder, no server."""
    out = tmp_path_factory.mktemp("site")
    for rel, data in docs.items():
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return out / "docs"


def class_page(model: Model, uid: int) -> str:
    return f"docs/html/class/{uid}-{slug(model.universal.classes[uid].name)}.html"


def _maps(model: Model, kind: str):
    return {m.source if kind == "to_universal" else m.target: m for m in model.mappings_of(kind)}


# ---------------------------------------------------------------- the specs behind the docs


def test_every_universal_class_has_a_definition(model):
    assert len(model.universal.classes) == 194
    empty = [c.name for c in model.universal.classes if not (c.definition or "").strip()]
    assert not empty


def test_an_empty_definition_is_reported(tmp_path):
    specs = tmp_path / "specs"
    shutil.copytree(GOLDEN_SPECS, specs)
    p = specs / "universal.yaml"
    p.write_text(p.read_text().replace('definition: "A paved way for vehicles. Pavements beside it go to sidewalk."',
                                       'definition: ""'))
    model, problems = build.check_specs(specs)
    assert model is not None  # a warning, not an error
    assert [(pr.rule, pr.severity, pr.line) for pr in problems] == [("empty-definition", "warning", 13)]
    assert "'road'" in problems[0].message


def test_definitions_are_in_our_own_words(reference, model):
    from support import mseg_reference as R

    _, rows = R.master(reference)
    theirs = {r["universal"]: r["Defn (Most of the meanings are derived from WordNet 3.1)"].strip().lower()
              for r in rows}
    for c in model.universal.classes:
        if theirs[c.name]:
            assert theirs[c.name] not in c.definition.lower(), c.name


# ---------------------------------------------------------------- what the docs hold


def test_a_page_for_every_class_dataset_category_and_legend(model, docs):
    u = model.universal
    parents = {c.parent for c in u.classes}
    expected = {"docs/html/index.html", "docs/md/README.md", "docs/legend/universal.svg"}
    expected |= {class_page(model, c.id) for c in u.classes}
    expected |= {f"docs/html/dataset/{d.name}.html" for d in model.datasets}
    expected |= {f"docs/md/dataset/{d.name}.md" for d in model.datasets}
    expected |= {f"docs/legend/{d.name}.svg" for d in model.datasets}
    expected |= {f"docs/md/category/{'no-parent' if p is None else slug(p)}.md" for p in parents}
    assert set(docs) == expected
    assert len(docs) == 1 + 1 + 1 + 194 + 3 * 38 + len(parents)  # bundled: 36 MSeg datasets + 2 union variants


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.scripts: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("href", "src"):
            if a.get(key) is not None:
                self.links.append(a[key])
        if "id" in a:
            self.ids.add(a["id"])


def _parse(data: bytes) -> _Links:
    p = _Links()
    p.feed(data.decode("utf-8"))
    return p


def test_html_links_resolve_and_stay_local(docs):
    """Every href/src points at a generated file (and an element on it, for #fragments); nothing
    reaches the network, and CSS and JS are inline."""
    parsed = {rel: _parse(data) for rel, data in docs.items() if rel.endswith(".html")}
    index_parents = set(re.findall(r'<option value="([^"]*)">', docs["docs/html/index.html"].decode()))
    checked = 0
    for rel, page in parsed.items():
        text = docs[rel].decode()
        assert "<link rel=\"stylesheet\"" not in text and "<script src" not in text
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme == "data":
                continue
            assert not parts.scheme and not parts.netloc, f"{rel}: {link} leaves the file system"
            target = (Path(rel).parent / unquote(parts.path)).as_posix() if parts.path else rel
            target = os.path.normpath(target)
            assert target in docs, f"{rel}: broken link {link}"
            frag = unquote(parts.fragment)
            if frag.startswith("parent="):
                assert frag[len("parent="):] in index_parents, f"{rel}: {link}"
            elif frag:
                assert frag in parsed[target].ids, f"{rel}: {link} names no element of {target}"
            checked += 1
    assert checked > 10_000


def test_links_go_both_ways(model, docs):
    """A class page links to each dataset class that folds into it and to each test class it counts
    as; those dataset pages link back to the class page."""
    pages = {rel: docs[rel].decode() for rel in docs if rel.endswith(".html")}
    for m in model.mappings_of("to_universal"):
        ds = pages[f"docs/html/dataset/{m.source}.html"]
        for s, t in m.pairs:
            assert f'href="../dataset/{m.source}.html#id-{s}"' in pages[class_page(model, t)], (m.key, s)
            assert f'href="../{class_page(model, t)[len("docs/html/"):]}"' in ds, (m.key, s)
    for m in model.mappings_of("from_universal"):
        ds = pages[f"docs/html/dataset/{m.target}.html"]
        for s, t in m.pairs:
            assert f'href="../dataset/{m.target}.html#id-{t}"' in pages[class_page(model, s)], (m.key, s)
            assert f'href="../{class_page(model, s)[len("docs/html/"):]}"' in ds, (m.key, s)
    index = pages["docs/html/index.html"]
    for c in model.universal.classes:
        assert f'href="{class_page(model, c.id)[len("docs/html/"):]}"' in index


def test_class_pages_show_the_facts(model, docs):
    for c in model.universal.classes:
        page = docs[class_page(model, c.id)].decode()
        assert "#{:02x}{:02x}{:02x}".format(*c.color) in page
        assert str(escape(c.definition)) in page, c.name
        assert f"</span>{escape(c.name)}</h1>" in page
        if c.synset:
            assert f"<code>{c.synset}</code>" in page
        if c.parent:
            assert f">{escape(c.parent)}</a>" in page
    minibike = docs[class_page(model, model.spaces[UNIVERSAL].index["motorcycle"])].decode()
    assert re.search(r'ade20k-150</a>.*?\n<td>.*?>minibike</a>', minibike)


_MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_markdown_links_and_anchors_resolve(docs):
    md = {rel: data.decode() for rel, data in docs.items() if rel.endswith(".md")}
    anchors = {rel: {gh_anchor(h) for h in re.findall(r"^#+ (.+)$", text, re.M)} for rel, text in md.items()}
    n = 0
    for rel, text in md.items():
        for link in _MD_LINK.findall(text):
            path, _, frag = link.partition("#")
            target = os.path.normpath((Path(rel).parent / path).as_posix())
            assert target in docs, f"{rel}: broken link {link}"
            if frag:
                assert frag in anchors[target], f"{rel}: {link}: no such heading in {target}"
            n += 1
    assert n > 5_000


def _table_cells(line: str) -> int:
    """Cells of a Markdown table row: pipes that are not escaped and not inside a code span."""
    line = re.sub(r"``.*?``|`[^`]*`", lambda m: m.group(0).replace("\\|", ""), line)
    return len(re.findall(r"(?<!\\)\|", line)) - 1


@pytest.mark.parametrize("specs", ["bundled", "fixture"])
def test_markdown_tables_are_rectangular(specs, docs):
    files = docs if specs == "bundled" else emit_docs.render(_model(GOLDEN_SPECS))
    for rel, data in files.items():
        if not rel.endswith(".md"):
            continue
        width = None
        for line in data.decode().splitlines():
            if not line.startswith("|"):
                width = None
                continue
            cells = _table_cells(line)
            if width is None:
                width = cells
            assert cells == width, f"{rel}: {line}"


def test_legends_show_every_class_in_its_colour(model, docs):
    ns = {"s": "http://www.w3.org/2000/svg"}
    for name in [UNIVERSAL] + [d.name for d in model.datasets]:
        root = ET.fromstring(docs[f"docs/legend/{name}.svg"])
        space = model.spaces[name]
        classes = [c for c in space.classes if not c.void]
        swatches = root.findall("s:g/s:rect", ns)
        labels = [t.text for t in root.findall("s:g/s:text", ns)]
        assert len(swatches) == len(labels) == len(classes), name
        for c, rect, label in zip(classes, swatches, labels, strict=False):
            assert label.startswith(f"{c.id} ")
            assert c.name.startswith(label[len(f"{c.id} "):].rstrip("…"))
            if all(x.color is not None for x in classes):
                assert rect.get("fill") == "#{:02x}{:02x}{:02x}".format(*c.color)
        assert int(root.get("width")) > 0 and int(root.get("height")) >= 20 * min(len(classes), 40)


# ---------------------------------------------------------------- determinism and goldens


def test_docs_are_deterministic(model, docs):
    assert emit_docs.render(model) == docs
    code = ("import hashlib, sys; from pathlib import Path; from unitax.compiler import build; "
            "from unitax.compiler.emit import docs as emit_docs; "
            "m, _ = build.check_specs(Path(sys.argv[1])); f = emit_docs.render(m); "
            "print(hashlib.sha256(b''.join(k.encode() + b'\\0' + v for k, v in sorted(f.items()))).hexdigest())")
    r = subprocess.run([sys.executable, "-c", code, str(SPECS)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert r.returncode == 0, r.stderr
    here = hashlib.sha256(b"".join(k.encode() + b"\0" + v for k, v in sorted(docs.items()))).hexdigest()
    assert r.stdout.strip() == here


def test_committed_docs_are_current(docs):
    """What this emitter writes is committed as is (other emitters may add files beside it)."""
    committed = {f"docs/{k}": v for k, v in build.read_tree(GENERATED / "docs").items()}
    stale = sorted(k for k in docs if committed.get(k) != docs[k])
    assert not stale, f"generated/docs is stale ({len(stale)} files, e.g. {stale[:3]}): run make compile"


def test_goldens():
    """The docs of the tiny fixture taxonomy, byte for byte (UNITAX_UPDATE_GOLDENS=1 rewrites them)."""
    check_goldens(emit_docs.render(_model(GOLDEN_SPECS)), "docs")


def test_names_are_escaped_everywhere():
    files = emit_docs.render(_model(GOLDEN_SPECS))
    raw = 'sign <"A&B"> | x'
    page = files["docs/html/class/3-sign-a-b-x.html"].decode()
    assert "sign &lt;&#34;A&amp;B&#34;&gt; | x" in page and raw not in page
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page and "<b>" not in page
    for rel, data in files.items():
        if rel.endswith(".html"):
            assert raw not in data.decode(), rel
        if rel.endswith(".svg"):
            ET.fromstring(data)  # well-formed XML
        if rel.endswith(".md"):
            text = data.decode()
            assert "<b>" not in text and "<not MSeg>" not in text, rel


# ---------------------------------------------------------------- in a real browser


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium (`make browser` installs it, as root with apt-get), else the test skips."""
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(exe):
        pytest.skip("chromium is not installed: `make browser` (or `apt-get install chromium`) "
                    "installs it to run the browser tests")
    return exe


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    from support.cdp import Browser

    with Browser(chromium, tmp_path_factory.mktemp("chromium") / "profile") as b:
        yield b


def _choose(page, select_id: str, value: str) -> None:
    """Pick an option of a <select> as a user would, firing its change event."""
    page.eval(f"(() => {{ const s = document.getElementById('{select_id}'); s.value = '{value}'; "
              "s.dispatchEvent(new Event('change')); })()")


def _visible(page) -> list[str]:
    return page.eval("[...document.querySelectorAll('#classes tbody tr')].filter(r => !r.hidden)"
                     ".map(r => r.querySelector('td a').textContent)")


@pytest.mark.slow
def test_index_search_and_filters_in_chromium(browser, site, model, tmp_path):
    page = browser.new_page()
    page.goto((site / "html" / "index.html").as_uri())
    assert page.eval("document.title").startswith("Universal taxonomy")
    u = model.universal
    assert _visible(page) == [c.name for c in u.classes]

    page.type("#q", "minibike")
    ade = model.spaces["ade20k-150"]
    target = dict(_maps(model, "to_universal")["ade20k-150"].pairs)[ade.index["minibike"]]
    assert _visible(page) == [u.classes[target].name]
    assert page.eval("document.getElementById('count').textContent") == f"1 of {len(u.classes)} classes"
    shot = page.screenshot(tmp_path / "index-minibike.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

    page.eval("document.getElementById('q').value = ''; document.getElementById('q').dispatchEvent(new Event('input'))")
    _choose(page, "parent", "vehicle")
    assert _visible(page) == [c.name for c in u.classes if c.parent == "vehicle"]
    _choose(page, "dataset", "camvid-11")
    camvid = {s for s, _ in _maps(model, "from_universal")["camvid-11"].pairs}
    assert _visible(page) == [c.name for c in u.classes if c.parent == "vehicle" and c.id in camvid]
    # a dataset that reaches universal only through a remap filters by the composed route
    _choose(page, "parent", "")
    remap = next(m for m in model.mappings_of("remap") if m.source == "coco-panoptic-201")
    to_u = dict(_maps(model, "to_universal")[remap.target].pairs)
    reached = {to_u[t] for _, t in remap.pairs if t in to_u}
    _choose(page, "dataset", "coco-panoptic-201")
    assert _visible(page) == [c.name for c in u.classes if c.id in reached]
    page.type("#q", "zzz-no-such-class")
    assert _visible(page) == [] and page.eval("document.getElementById('none').hidden") is False
    assert page.errors() == []


@pytest.mark.slow
def test_minibike_in_two_clicks(browser, site, model, tmp_path):
    """Where does ADE20K's `minibike` go, and what does it count as in CamVid? Search, click the
    class, read both answers; click the dataset class to land on its row."""
    page = browser.new_page()
    page.goto((site / "html" / "index.html").as_uri())
    page.type("#q", "minibike")
    page.click("#classes tbody tr:not([hidden]) td a", navigates=True)  # click 1

    ade = model.spaces["ade20k-150"]
    uid = dict(_maps(model, "to_universal")["ade20k-150"].pairs)[ade.index["minibike"]]
    uname = model.universal.classes[uid].name
    assert page.eval("document.querySelector('h1').textContent") == uname
    rows = page.eval("Object.fromEntries([...document.querySelectorAll('#folded tbody tr, #tests tbody tr')]"
                     ".map(r => [r.cells[0].textContent, r.cells[r.cells.length - 1].textContent]))")
    assert "minibike" in rows["ade20k-150"].split(", ")
    camvid = dict(_maps(model, "from_universal")["camvid-11"].pairs).get(uid)
    want = "ignored (not evaluated)" if camvid is None else model.spaces["camvid-11"].classes[camvid].name
    assert rows["camvid-11"] == want
    page.screenshot(tmp_path / "class-page.png")

    page.click(f"#folded a[href$='ade20k-150.html#id-{ade.index['minibike']}']", navigates=True)  # click 2
    assert page.eval("location.hash") == f"#id-{ade.index['minibike']}"
    assert page.eval("document.querySelector(':target').cells[2].textContent") == "minibike"
    assert page.errors() == []


@pytest.mark.slow
def test_pages_of_each_kind_load_cleanly(browser, site, model):
    """A dataset page of each role (the largest, a remap-only source, a test set), a class page:
    no console errors and nothing fetched but local files."""
    page = browser.new_page()
    browser.send("Network.enable", page.s)
    by_size = sorted(model.datasets, key=lambda d: (-len(d.classes), d.name))
    kinds = [by_size[0]] + [next(d for d in by_size if d.role == r) for r in ("train", "source", "test")]
    urls = [(site / "html" / "dataset" / f"{d.name}.html").as_uri() for d in kinds]
    urls += [(site / "html" / "class" / Path(class_page(model, 0)).name).as_uri()]
    for url in urls:
        page.goto(url)
        assert page.eval("document.querySelectorAll('tbody tr').length") > 0, url
    requested = {e["params"]["request"]["url"].split(":", 1)[0] for e in browser.events
                 if e["method"] == "Network.requestWillBeSent" and e.get("sessionId") == page.s}
    assert requested <= {"file", "data"}, requested
    assert page.errors() == []
