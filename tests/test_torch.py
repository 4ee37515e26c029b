"""PyTorch integration on CPU torch: tensors in, tensors out, same results as numpy; module; picklable transform."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'unitax[torch]')")

from support.bundled import N_UNIVERSAL  # noqa: E402

import unitax  # noqa: E402


def test_tensors_in_tensors_out(tax):
    rng = np.random.default_rng(1)
    label = rng.integers(0, 150, size=(2, 16, 20), dtype=np.uint8)
    t = torch.from_numpy(label)
    u = tax.to_universal(t, "ade20k-150")
    assert isinstance(u, torch.Tensor) and u.device == t.device
    assert (u.numpy() == tax.to_universal(label, "ade20k-150")).all()
    probs = rng.random((2, N_UNIVERSAL, 6, 7), dtype=np.float32)
    p = tax.to_test(torch.from_numpy(probs), "camvid-11", axis=1)
    assert isinstance(p, torch.Tensor) and p.shape == (2, 11, 6, 7)
    np.testing.assert_allclose(p.numpy(), tax.to_test(probs, "camvid-11", axis=1), rtol=1e-6)
    lab = tax.to_test_labels(torch.from_numpy(probs), "camvid-11", axis=1, from_logits=True)
    assert (lab.numpy() == tax.to_test_labels(probs, "camvid-11", axis=1, from_logits=True)).all()


def test_device_paths_agree_with_numpy(tax):
    """The off-CPU code (torch ops on the tensor's device) computed on CPU tensors gives the numpy result."""
    from unitax import torch_support as ts

    rng = np.random.default_rng(2)
    label = torch.from_numpy(rng.integers(0, 19, size=(5, 9), dtype=np.uint8))
    checked = ts.check_labels(label, 19, 255, "cityscapes-19", "raise")
    got = ts.apply_lut(checked, tax.lut("cityscapes-19"), {}, "to_universal/cityscapes-19").numpy()
    assert (got == tax.lut("cityscapes-19")[label.numpy()]).all()
    with pytest.raises(unitax.LabelError, match="19"):
        ts.check_labels(torch.tensor([0, 19]), 19, 255, "cityscapes-19", "raise")
    x = rng.standard_normal((N_UNIVERSAL, 4, 5)).astype(np.float32)
    m = tax.matrix("pascal-context-60")
    np.testing.assert_allclose(ts.scores_to_test(torch.from_numpy(x), m, 0, True, {}, "m").numpy(),
                               tax.to_test(x, "pascal-context-60", from_logits=True), rtol=1e-4, atol=1e-6)
    assert (ts.labels_from_scores(torch.from_numpy(x), m, 0, True, {}, "m").numpy()
            == tax.to_test_labels(x, "pascal-context-60", from_logits=True)).all()


def test_torch_module(tax):
    mod = tax.torch_module("camvid-11")
    assert not list(mod.parameters())
    x = torch.randn(2, N_UNIVERSAL, 3, 4)
    y = mod(x)
    np.testing.assert_allclose(y.numpy(), tax.to_test(x.numpy(), "camvid-11", axis=1, from_logits=True),
                               rtol=1e-5, atol=1e-7)
    assert "weight" in mod.state_dict()
    with pytest.raises(unitax.LabelError):
        mod(torch.randn(1, 19, 2, 2))


def test_transform_is_picklable_and_works_in_dataloader_workers(tax):
    tr = unitax.RemapLabels("cityscapes-34", "cityscapes-19")
    tr2 = pickle.loads(pickle.dumps(tr))
    label = np.arange(34, dtype=np.uint8).reshape(2, 17)
    assert (tr2(label) == tax.remap(label, "cityscapes-34", "cityscapes-19")).all()
    assert len(pickle.dumps(tr)) < 300  # names and a path, never the tables
    to_cam = unitax.RemapLabels("cityscapes-19", "camvid-11")
    via_universal = tax.to_test_labels(tax.to_universal(np.array([0], np.uint8), "cityscapes-19"), "camvid-11")
    assert (to_cam(np.array([0], np.uint8)) == via_universal).all()

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return tr(torch.full((3, 3), i + 7, dtype=torch.uint8))

    out = torch.cat(list(torch.utils.data.DataLoader(DS(), batch_size=2, num_workers=2)))
    want = tax.remap(np.arange(7, 11, dtype=np.uint8), "cityscapes-34", "cityscapes-19")
    assert out[:, 0, 0].tolist() == want.tolist()


def test_importing_unitax_does_not_import_torch():
    r = subprocess.run([sys.executable, "-c", "import sys, unitax; unitax.load(); print('torch' in sys.modules)"],
                       capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


def test_device_tables_alternating_datasets_match_numpy(tax, monkeypatch):
    """The device path (forced on CPU) caches tables by what they are: alternating test datasets never
    gets another dataset's table back (keys by id() of temporaries did, in 33 of 40 calls)."""
    import unitax.arrays as T

    monkeypatch.setattr(T, "_force_device_path", True)
    rng = np.random.default_rng(3)
    for i in range(40):
        ds = tax.test_datasets[i % len(tax.test_datasets)]
        x = rng.random((2, N_UNIVERSAL, 3, 2), dtype=np.float32)
        got = tax.to_test(torch.from_numpy(x), ds, axis=1)
        np.testing.assert_allclose(got.numpy(), tax.to_test(x, ds, axis=1), rtol=1e-5, atol=1e-6)
        lab = tax.to_test_labels(torch.from_numpy(x), ds, axis=1, from_logits=True)
        assert (lab.numpy() == tax.to_test_labels(x, ds, axis=1, from_logits=True)).all()
        u = rng.integers(0, N_UNIVERSAL, size=(3, 4), dtype=np.uint8)
        assert (tax.to_test_labels(torch.from_numpy(u), ds).numpy() == tax.test_lut(ds)[u]).all()
