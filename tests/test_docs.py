"""The pages in ``docs/`` run: every ```python block, in page order, in one namespace per page,
then every ``test_*`` function the page defines.

A page whose code no longer runs against the library fails here, so the docs cannot rot.
``docs/adding-a-neuron.md`` makes promises beyond running, checked independently of the page's
own test (which a later edit could weaken): its neuron is under 30 lines, is found by name, and
its fused kernel equals its reference step in values and gradients.
"""
from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
import torch

from axonal.kernels.registry import KernelUnavailable, registered, run_kernel
from axonal.neurons import catalog

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.glob("*.md"))
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str) -> list[str]:
    """The bodies of the page's ```python fenced blocks, in order."""
    return _BLOCK.findall(text)


def run_page(path: Path) -> types.ModuleType:
    """Execute the page's blocks in order as one module (named after the page), then call the
    ``test_*`` functions it defines; return the module.

    A block that fails is reported with its number and the page, so the fix is easy to find.
    """
    name = "docs_" + path.stem.replace("-", "_")
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        for i, block in enumerate(python_blocks(path.read_text()), 1):
            code = compile(block, f"{path.name} (python block {i})", "exec")
            exec(code, module.__dict__)
        for name, fn in list(vars(module).items()):
            if name.startswith("test_") and isinstance(fn, types.FunctionType):
                fn()
    finally:
        sys.modules.pop(name, None)
    return module


def test_blocks_are_extracted_in_order():
    text = "intro\n```python\na = 1\n```\ntext\n```\nnot python\n```\n```python\nb = a + 1\n```\n"
    assert python_blocks(text) == ["a = 1\n", "b = a + 1\n"]


def test_the_pages_test_functions_are_run(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```python\ndef test_claim():\n    assert 1 + 1 == 3, 'claim broken'\n```\n")
    with pytest.raises(AssertionError, match="claim broken"):
        run_page(page)


def test_a_failing_block_names_the_page_and_block(tmp_path):
    page = tmp_path / "broken-page.md"
    page.write_text("```python\nx = 1\n```\n\n```python\nraise ValueError('stale doc')\n```\n")
    with pytest.raises(ValueError, match="stale doc") as info:
        run_page(page)
    assert any(entry.path == "broken-page.md (python block 2)" for entry in info.traceback)


def test_there_are_pages_with_code():
    assert DOCS / "adding-a-neuron.md" in PAGES
    assert all(python_blocks(p.read_text()) for p in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_runs(page, request):
    if page.name == "adding-a-neuron.md":
        request.getfixturevalue("neuron_page")  # runs once: it registers a neuron name
    else:
        run_page(page)


# --------------------------------------------------------------------------- adding-a-neuron.md
@pytest.fixture(scope="module")
def neuron_page():
    """The page, executed once (it registers the name "qif"); the name is freed afterwards so
    that the rest of the session sees the library's own catalog."""
    assert "qif" not in catalog.NEURONS, "another neuron already uses the example's name 'qif'"
    try:
        yield run_page(DOCS / "adding-a-neuron.md")
    finally:
        catalog.NEURONS.pop("qif", None)


def test_the_neuron_is_under_30_lines(neuron_page):
    first = python_blocks((DOCS / "adding-a-neuron.md").read_text())[0]
    lines = [l for l in first.splitlines() if l.strip() and not l.strip().startswith("#")]
    assert "class QIF(NeuronModule)" in first and len(lines) < 30, len(lines)


def test_the_neuron_has_a_name_a_kernel_and_learnable_constants(neuron_page):
    m = neuron_page
    assert catalog.neuron_class("qif") is m.QIF and m.QIF.neuron_name == "qif"
    assert registered(m.QIFParams) == ("compiled",)
    assert m.QIF.learnable_names == ("a", "v_c", "threshold")
    assert m.QIFParams.learn_rules() == {"a": "positive", "v_c": "free", "threshold": "positive"}
    with pytest.raises(ValueError, match="threshold"):
        m.QIFParams(threshold=-1.0)                     # validated like every neuron's Params
    x = torch.rand(5, 2, 3)
    state = m.QIF(3).initial_state(x[0])
    assert run_kernel(m.QIFParams(), x, state) is not None   # auto finds the fused kernel on CPU
    with pytest.raises(KernelUnavailable, match="compiled"):
        m.QIF(3, backend="compiled")(x.to(torch.float16))     # forced: a miss is an error


def _loss_and_grads(layer, x, state=None):
    spikes, new = layer(x, state)
    weight = torch.arange(1, x.shape[0] + 1, dtype=x.dtype).reshape(-1, *[1] * (x.ndim - 1))
    loss = (spikes * weight).sum() + new.v.square().sum()
    grads = torch.autograd.grad(loss, [x, *layer.parameters()])
    return spikes, new.v, grads


@pytest.mark.parametrize("dtype, size, per_neuron", [
    (torch.float64, (6,), True), (torch.float64, (2, 3), False), (torch.float32, (7,), True)])
def test_the_fused_kernel_equals_the_reference_step(neuron_page, dtype, size, per_neuron):
    m = neuron_page
    gen = torch.Generator().manual_seed(1)
    x = (0.7 * torch.rand(30, 4, *size, generator=gen, dtype=dtype)).requires_grad_()
    v0 = 0.3 * torch.rand(4, *size, generator=gen, dtype=dtype)   # a running state, not zeros
    values = dict(a=0.25, v_c=-0.1, threshold=0.9)
    runs = {}
    for backend in ("compiled", "reference"):
        layer = m.QIF(size, learn=("a", "v_c", "threshold"), per_neuron=per_neuron,
                      backend=backend, **values).to(dtype)
        runs[backend] = _loss_and_grads(layer, x, m.QIFState(v0))
    (s_k, v_k, g_k), (s_r, v_r, g_r) = runs["compiled"], runs["reference"]
    assert 0 < s_k.sum() < s_k.numel()
    torch.testing.assert_close(s_k, s_r, rtol=0, atol=0)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else {}
    torch.testing.assert_close(v_k, v_r, **tol)
    assert len(g_k) == 4                                  # the input and the three constants
    for a, b in zip(g_k, g_r):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, **tol)


def test_the_reference_step_has_known_values(neuron_page):
    # v = 0 + 0.3 * 0 * (0 - 0.2) + 0.8 = 0.8 (no spike); v = 0.8 + 0.3 * 0.8 * 0.6 + 0.8 = 1.744
    # (spike, reset to 0); then 0.8 again
    m = neuron_page
    x = torch.full((3, 1, 1), 0.8, dtype=torch.float64)
    for backend in ("compiled", "reference"):
        spikes, state = m.QIF(1, backend=backend)(x)
        assert spikes.flatten().tolist() == [0.0, 1.0, 0.0], backend
        assert state.v.item() == pytest.approx(0.8)
