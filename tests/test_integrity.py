"""Artefact integrity and input validation in the runtime.

`unitax.load()` must refuse a compiled folder whose manifest or files are missing, truncated,
tampered with, of a newer format, or hostile (a pickle inside a .npy must never run), with an
IntegrityError naming the file. The remap calls must refuse labels outside a dataset's ids,
float labels, wrong shapes and NaN scores with a LabelError (or, where asked, send out-of-range
labels to 255).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from support.bundled import N_UNIVERSAL
from support.corpus import make_specs

import unitax
from unitax.compiler import build


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    """A build of the corpus's base specs (camvid-11 test, cityscapes-19/34 train, camvid-32 source)."""
    tmp = tmp_path_factory.mktemp("integrity")
    out = tmp / "build"
    build.compile_taxonomy(make_specs(tmp, {"edits": []}), out)
    return out


@pytest.fixture
def root(tmp_path, compiled) -> Path:
    dst = tmp_path / "build"
    shutil.copytree(compiled, dst)
    return dst


@pytest.fixture(scope="module")
def tax(compiled):
    return unitax.load(compiled)


TABLE = "tables/to_universal/cityscapes-19.npy"


def manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def write_manifest(root: Path, m: dict) -> None:
    (root / "manifest.json").write_text(json.dumps(m, indent=1))


def reseal(root: Path, rel: str) -> None:
    """Make the manifest agree with ``rel`` again, as someone forging a build would."""
    m = manifest(root)
    data = (root / rel).read_bytes()
    m["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    write_manifest(root, m)


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def set_taxonomy(root: Path, edit) -> None:
    t = json.loads((root / "taxonomy.json").read_text())
    edit(t)
    (root / "taxonomy.json").write_text(json.dumps(t))
    reseal(root, "taxonomy.json")


# Each case breaks a copy of a good build; load() must raise IntegrityError matching the pattern,
# which names the file ({root} stands for the build folder).
BROKEN = {
    "manifest-missing": (lambda r: (r / "manifest.json").unlink(),
                         r"{root}/manifest.json: missing; is {root} a folder written by `unitax compile`\?"),
    "manifest-not-json": (lambda r: (r / "manifest.json").write_text("{files: "),
                          r"{root}/manifest.json: unreadable or not JSON"),
    "manifest-a-list": (lambda r: (r / "manifest.json").write_text("[]"),
                        r"{root}/manifest.json: not a unitax manifest"),
    "manifest-no-files": (lambda r: write_manifest(r, {"format_version": 1}),
                          r"{root}/manifest.json: not a unitax manifest"),
    "format-newer": (lambda r: write_manifest(r, {**manifest(r), "format_version": 2}),
                     r"{root}/manifest.json: format version 2, this runtime reads 1; upgrade unitax"),
    "format-older": (lambda r: write_manifest(r, {**manifest(r), "format_version": 0}),
                     r"{root}/manifest.json: format version 0, this runtime reads 1; recompile with this unitax"),
    "format-missing": (lambda r: write_manifest(r, {k: v for k, v in manifest(r).items() if k != "format_version"}),
                       r"{root}/manifest.json: format version None, this runtime reads 1"),
    "format-string": (lambda r: write_manifest(r, {**manifest(r), "format_version": "1"}),
                      r"{root}/manifest.json: format version '1', this runtime reads 1"),
    "taxonomy-missing": (lambda r: (r / "taxonomy.json").unlink(),
                         r"{root}/taxonomy.json: listed in the manifest but missing; recompile"),
    "taxonomy-tampered": (lambda r: (r / "taxonomy.json").write_text(
                              (r / "taxonomy.json").read_text().replace('"road"', '"raod"', 1)),
                          r"{root}/taxonomy.json: sha256 differs from the manifest"),
    "taxonomy-unlisted": (lambda r: write_manifest(r, {**manifest(r), "files": {
                              k: v for k, v in manifest(r)["files"].items() if k != "taxonomy.json"}}),
                          r"{root}/manifest.json: lists no taxonomy.json"),
    "table-missing": (lambda r: (r / TABLE).unlink(), r"{root}/" + TABLE + ": listed in the manifest but missing"),
    "table-truncated": (lambda r: (r / TABLE).write_bytes((r / TABLE).read_bytes()[:100]),
                        r"{root}/" + TABLE + r": 100 bytes, the manifest says 384 \(truncated or replaced\)"),
    "table-empty": (lambda r: (r / TABLE).write_bytes(b""),
                    r"{root}/" + TABLE + r": 0 bytes, the manifest says 384 \(truncated or replaced\)"),
    "table-one-byte-flipped": (lambda r: (r / TABLE).write_bytes((r / TABLE).read_bytes()[:-1] + b"\x07"),
                               r"{root}/" + TABLE + r": sha256 differs from the manifest \(modified after compiling\)"),
    "table-grown": (lambda r: (r / TABLE).write_bytes((r / TABLE).read_bytes() + b"\0"),
                    r"{root}/" + TABLE + r": 385 bytes, the manifest says 384"),
    "table-unlisted": (lambda r: write_manifest(r, {**manifest(r), "files": {
                           k: v for k, v in manifest(r)["files"].items() if k != TABLE}}),
                       r"{root}/manifest.json: does not list " + TABLE),
    "table-a-directory": (lambda r: ((r / TABLE).unlink(), (r / TABLE).mkdir()),
                          r"{root}/" + TABLE + r": cannot be read"),
    # Forged: the manifest agrees with the bytes, but the bytes are not what taxonomy.json says.
    "table-wrong-dtype": (lambda r: ((r / TABLE).write_bytes(npy(np.full(256, 255, np.int64))), reseal(r, TABLE)),
                          r"{root}/" + TABLE + r": holds int64\[256\], expected uint8\[256\]"),
    "table-wrong-shape": (lambda r: ((r / TABLE).write_bytes(npy(np.full(255, 255, np.uint8))), reseal(r, TABLE)),
                          r"{root}/" + TABLE + r": holds uint8\[255\], expected uint8\[256\]"),
    "table-not-npy": (lambda r: ((r / TABLE).write_bytes(b"\x93NUMPY garbage"), reseal(r, TABLE)),
                      r"{root}/" + TABLE + r": not a valid \.npy array"),
    "table-fortran-header-lies": (lambda r: ((r / TABLE).write_bytes(
                                      (r / TABLE).read_bytes().replace(b"(256,)", b"(999,)")), reseal(r, TABLE)),
                                  r"{root}/" + TABLE + r": not a valid \.npy array"),
    # Forged or foreign structure (the manifest agrees with the bytes): refused, never a KeyError later.
    "entry-without-sha256": (lambda r: write_manifest(r, {**manifest(r), "files": {**manifest(r)["files"],
                                                                                    TABLE: {"bytes": 384}}}),
                             r"{root}/manifest.json: malformed entry for " + TABLE),
    "entry-a-string": (lambda r: write_manifest(r, {**manifest(r), "files": {**manifest(r)["files"], TABLE: "x"}}),
                       r"{root}/manifest.json: malformed entry for " + TABLE),
    "manifest-nested-too-deep": (lambda r: (r / "manifest.json").write_text("[" * 100000 + "]" * 100000),
                                 r"{root}/manifest.json: unreadable or not JSON: maximum recursion depth"),
    "taxonomy-a-list": (lambda r: ((r / "taxonomy.json").write_text("[]"), reseal(r, "taxonomy.json")),
                        r"{root}/taxonomy.json: not a unitax taxonomy \(fields missing or of the wrong type\)"),
    "taxonomy-without-tables": (lambda r: set_taxonomy(r, lambda t: t.pop("tables")),
                                r"{root}/taxonomy.json: not a unitax taxonomy"),
    "taxonomy-dataset-without-names": (lambda r: set_taxonomy(r, lambda t: t["datasets"]["camvid-11"].pop("names")),
                                       r"{root}/taxonomy.json: not a unitax taxonomy"),
    "taxonomy-remap-without-source": (lambda r: set_taxonomy(
                                          r, lambda t: t["tables"]["remap/camvid-32_to_camvid-11"].pop("source")),
                                      r"{root}/taxonomy.json: not a unitax taxonomy"),
    "taxonomy-table-outside": (lambda r: (shutil.copy(r / TABLE, r.parent / "x.npy"), set_taxonomy(
                                   r, lambda t: t["tables"]["to_universal/cityscapes-19"].update(file="../x.npy")),
                                   reseal(r, "../x.npy")),
                               r"{root}/manifest.json: '\.\./x\.npy' points outside {root}"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_build_is_refused_naming_the_file(name, root):
    mutate, pattern = BROKEN[name]
    mutate(root)
    with pytest.raises(unitax.IntegrityError) as e:
        unitax.load(root)
    assert re.search(pattern.replace("{root}", re.escape(root.as_posix())), str(e.value)), str(e.value)


class _Payload:
    """Unpickling this runs ``os.system`` — what a hostile .npy or pickle would carry."""

    def __init__(self, cmd: str):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


@pytest.mark.parametrize("kind", ["object-npy", "raw-pickle"])
def test_hostile_table_is_refused_without_running_it(kind, root, tmp_path):
    marker = tmp_path / "pwned"
    payload = _Payload(f"touch {marker}")
    if kind == "object-npy":
        arr = np.empty(1, dtype=object)
        arr[0] = payload
        data = npy(arr)
    else:
        data = pickle.dumps(payload)
    # Sanity: this really would run if unpickled.
    assert b"system" in data
    (root / TABLE).write_bytes(data)
    reseal(root, TABLE)  # the manifest is forged too, so only the no-pickle read stands in the way
    with pytest.raises(unitax.IntegrityError, match=re.escape(f"{root / TABLE}: not a valid .npy array")):
        unitax.load(root)
    assert not marker.exists(), "loading a compiled table ran code"


def test_a_good_copy_loads_and_every_table_is_read_only(root, tax):
    t = unitax.load(root)
    assert t.datasets == tax.datasets == ("camvid-11", "camvid-32", "cityscapes-19", "cityscapes-34")
    for key, arr in t._c.tables.items():
        assert not arr.flags.writeable, key
        assert arr.dtype != object, key


def _header(descr: str, shape: str, fortran: bool = False) -> bytes:
    """A .npy 1.0 header as numpy pads it (64-byte aligned), with any text in it."""
    text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}".encode()
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


@pytest.mark.parametrize("arr", [np.arange(256, dtype=np.uint8), np.arange(12, dtype=np.uint16).reshape(3, 4),
                                 np.eye(3, 5, dtype=bool), np.arange(-3, 3, dtype=np.int64), np.zeros((), np.int32),
                                 np.zeros((4, 0), np.uint8)], ids=lambda a: f"{a.dtype}{list(a.shape)}")
def test_tables_read_without_numpys_header_parser_are_what_numpy_reads(arr):
    """The loader reads a header exactly as the compiler writes it by comparing bytes (no literal_eval);
    the array is the one numpy's reader gives, read-only."""
    from unitax.loader import _parse_npy, _plain_npy

    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=(1, 0), allow_pickle=False)
    data = buf.getvalue()
    fast = _plain_npy(data, str(arr.dtype), list(arr.shape))
    assert fast is not None and not fast.flags.writeable and fast.flags.c_contiguous and fast.flags.aligned
    ref = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    assert fast.dtype == ref.dtype and fast.shape == ref.shape and np.array_equal(fast, ref)
    assert np.array_equal(_parse_npy(data, Path("t.npy"), str(arr.dtype), list(arr.shape)), ref)


@pytest.mark.parametrize("data, dtype, shape, error", [
    (_header("|u1", "(2,)") + b"\0\0\0", "uint8", [2], None),  # a trailing byte: numpy's reader decides
    (_header("|u1", "(4,)") + b"\0\0", "uint8", [4], "not a valid .npy array"),  # short
    (_header("|u1", "(-2, -3)") + bytes(6), "uint8", [-2, -3], "not a valid .npy array"),  # negative dimensions
    (_header("|u1", "(2, 3)", fortran=True) + bytes(6), "uint8", [2, 3], None),  # Fortran order
    (_header("<f8", "(1,)") + bytes(8), "float64", [1], None),  # not a table dtype
    (_header("|u1", "(2,)") + bytes(2), "uint8", [3], "holds uint8\\[2\\], expected uint8\\[3\\]"),
], ids=["trailing", "short", "negative", "fortran", "float64", "other-shape"])
def test_other_npy_files_take_numpys_reader_and_its_errors(data, dtype, shape, error):
    from unitax.loader import _parse_npy, _plain_npy

    assert _plain_npy(data, dtype, shape) is None
    if error is None:
        ref = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
        assert np.array_equal(_parse_npy(data, Path("t.npy"), dtype, shape), ref)
    else:
        with pytest.raises(unitax.IntegrityError, match=error):
            _parse_npy(data, Path("t.npy"), dtype, shape)


# ----- labels and scores ------------------------------------------------------------------------


def test_labels_outside_the_ids_are_named_or_sent_to_ignore(tax):
    label = np.array([[0, 18, 19], [255, 254, 7]], dtype=np.uint8)
    with pytest.raises(unitax.LabelError, match=r"outside cityscapes-19's ids 0\.\.18 \(and ignore 255\): 19, 254; "
                                                r"pass out_of_range='ignore'"):
        tax.to_universal(label, "cityscapes-19")
    got = tax.to_universal(label, "cityscapes-19", out_of_range="ignore")
    lut = tax.lut("cityscapes-19")
    assert got.tolist() == [[lut[0], lut[18], 255], [255, 255, lut[7]]]
    with pytest.raises(unitax.LabelError, match=r"outside camvid-32's ids 0\.\.31 .*: 32"):
        tax.remap(np.array([32], np.uint16), "camvid-32", "camvid-11")
    n = N_UNIVERSAL
    with pytest.raises(unitax.LabelError, match=rf"outside universal's ids 0\.\.{n - 1} .*: {n}, 300"):
        tax.to_test_labels(np.array([300, n, 3], np.int32), "camvid-11")
    assert tax.to_test_labels(np.array([200, 255]), "camvid-11", out_of_range="ignore").tolist() == [255, 255]


@pytest.mark.parametrize("value", [-1, 2**15, 65535])
def test_wide_and_negative_label_values_are_refused(tax, value):
    dtype = np.int32 if value < 0 else np.uint16
    with pytest.raises(unitax.LabelError, match=re.escape(str(value))):
        tax.to_universal(np.array([0, value], dtype=dtype), "cityscapes-19")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.bool_, np.complex64, object, "U3"])
def test_labels_that_are_not_integers_are_refused(tax, dtype):
    label = np.zeros((2, 2), dtype=dtype)
    with pytest.raises(unitax.LabelError, match=r"cityscapes-19 labels must be an integer array, got dtype"):
        tax.to_universal(label, "cityscapes-19")


def test_unknown_out_of_range_mode_is_refused(tax):
    with pytest.raises(ValueError, match=r"out_of_range must be 'raise' or 'ignore', got 'clip'"):
        tax.to_universal(np.zeros(3, np.uint8), "cityscapes-19", out_of_range="clip")


SCORES = (N_UNIVERSAL, 3, 4)


@pytest.mark.parametrize("call", ["to_test", "to_test_labels"])
@pytest.mark.parametrize("bad, pattern", [
    (lambda: np.zeros(SCORES, np.int64), r"scores must be a float array, got dtype int64"),
    (lambda: np.zeros(SCORES, np.complex64), r"scores must be a float array, got dtype complex64"),
    (lambda: np.float32(0.5), r"scores must have a class axis"),
    (lambda: np.zeros((N_UNIVERSAL - 1, 3, 4), np.float32),
     rf"scores have {N_UNIVERSAL - 1} channels on axis 0; the universal taxonomy has {N_UNIVERSAL}"),
    (lambda: np.zeros((3, 4, N_UNIVERSAL), np.float32),
     rf"scores have 3 channels on axis 0; the universal taxonomy has {N_UNIVERSAL}"),
], ids=["int", "complex", "0-d", "193-channels", "channels-last-on-axis-0"])
def test_scores_of_the_wrong_type_or_shape_are_refused(tax, call, bad, pattern):
    if call == "to_test_labels" and np.issubdtype(np.asarray(bad()).dtype, np.integer):
        pytest.skip("integer input to to_test_labels is universal labels, not scores")
    with pytest.raises(unitax.LabelError, match=pattern):
        getattr(tax, call)(bad(), "camvid-11")


def test_scores_axis_out_of_range_is_refused(tax):
    with pytest.raises(unitax.LabelError, match=r"axis 3 out of range for 3-d scores"):
        tax.to_test(np.zeros(SCORES, np.float32), "camvid-11", axis=3)
    with pytest.raises(unitax.LabelError, match=r"axis -4 out of range for 3-d scores"):
        tax.to_test_labels(np.zeros(SCORES, np.float32), "camvid-11", axis=-4)


def _probs(tax, channels_last: bool = False) -> np.ndarray:
    x = np.random.default_rng(1).random(SCORES, dtype=np.float32)
    x /= x.sum(0)
    return np.moveaxis(x, 0, -1).copy() if channels_last else x


@pytest.mark.parametrize("channels_last", [False, True], ids=["channels-first", "channels-last"])
@pytest.mark.parametrize("poison", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("call, logits", [("to_test", False), ("to_test", True), ("to_test_labels", False),
                                          ("to_test_labels", True)],
                         ids=["to_test", "to_test-logits", "to_test_labels", "to_test_labels-logits"])
def test_nan_or_inf_scores_are_refused(tax, call, logits, poison, channels_last):
    x = _probs(tax, channels_last)
    car = tax.universal_names.index("car")  # feeds camvid-11 'Car'
    axis = -1 if channels_last else 0
    x[(2, 1, car) if channels_last else (car, 2, 1)] = poison
    run = lambda **kw: getattr(tax, call)(x, "camvid-11", axis=axis, from_logits=logits, **kw)  # noqa: E731
    if logits and poison == -np.inf:  # a masked class: probability 0, a valid logit
        assert np.isfinite(run()).all()
        return
    at = (2, 1, car) if channels_last else (car, 2, 1)
    with pytest.raises(unitax.LabelError, match=re.escape(
            f"scores hold 1 non-finite value(s) (NaN or infinity) in the channels camvid-11 reads; the first is "
            f"{poison} at index {at} (universal class 'car', id {car}); pass check_finite=False to skip this check")):
        run()
    with np.errstate(all="ignore"):  # asked not to check, the call runs on: the caller vouches for its input
        run(check_finite=False)


def test_nan_logit_in_a_channel_no_test_class_reads_poisons_the_softmax(tax):
    x = _probs(tax)
    unread = [i for i in range(len(tax.universal_names)) if tax.matrix("camvid-11")[:, i].sum() == 0][0]
    x[unread, 1, 3] = np.nan
    with pytest.raises(unitax.LabelError, match=re.escape(f"the first is nan at index ({unread}, 1, 3) (universal "
                                                          f"class {tax.universal_names[unread]!r}")):
        tax.to_test(x, "camvid-11", from_logits=True)


def test_nan_in_a_channel_no_test_class_reads_is_harmless_for_probabilities(tax):
    x = _probs(tax)
    unread = [i for i, n in enumerate(tax.universal_names) if tax.matrix("camvid-11")[:, i].sum() == 0][0]
    clean = tax.to_test(x, "camvid-11")
    x[unread, 0, 0] = np.nan
    np.testing.assert_array_equal(tax.to_test(x, "camvid-11"), clean)
    np.testing.assert_array_equal(tax.to_test_labels(x, "camvid-11"), clean.argmax(0))


def test_finite_scores_pass_and_agree(tax):
    x = _probs(tax)
    summed = tax.to_test(x, "camvid-11")
    assert summed.shape == (11, 3, 4) and np.isfinite(summed).all()
    np.testing.assert_array_equal(tax.to_test_labels(x, "camvid-11"), summed.argmax(0))
