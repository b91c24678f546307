"""numba's disk cache of the kernels is keyed on the contents of every kernel file, in every
subfolder of axonal/kernels, and of the surrogate table they inline (axonal.kernels._numba_cache):
a change to an inlined helper in another file recompiles the kernels that inline it, where
numba's own rule (the defining file's timestamp) keeps the old machine code."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("numba")

from axonal.kernels import _numba_cache  # noqa: E402


def test_kernels_use_the_digest_locator():
    from axonal.kernels import izhikevich
    from axonal.kernels.event import _numba as event_numba
    from axonal.kernels.lif import _numba as lif_numba

    for fn in (event_numba.event_lif_forward(0), event_numba.active_fill, lif_numba.lif_backward(0),
               izhikevich._forward):
        locator = fn._cache._impl._locator
        assert getattr(locator, "_sources_dir", None) == _numba_cache.KERNEL_DIR
        assert locator.get_source_stamp() == ("sources-digest", _numba_cache.sources_digest())


def test_other_packages_keep_numbas_default():
    from axonal.metrics import complexity

    cached = [v for v in vars(complexity).values() if hasattr(v, "_cache")]
    assert cached
    assert all(not hasattr(f._cache._impl._locator, "_sources_dir") for f in cached)


def test_digest_follows_contents_not_timestamps(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    d0 = _numba_cache.sources_digest(tmp_path)
    os.utime(tmp_path / "a.py", (1, 1))
    assert _numba_cache.sources_digest(tmp_path) == d0
    (tmp_path / "b.py").write_text("y = 3\n")
    assert _numba_cache.sources_digest(tmp_path) != d0
    (tmp_path / "c.txt").write_text("not python")
    assert _numba_cache.sources_digest(tmp_path) == _numba_cache.sources_digest(tmp_path)


def test_digest_covers_subfolders_and_extra_sources(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "lif").mkdir()
    (tmp_path / "lif" / "k.py").write_text("y = 2\n")
    extra = tmp_path.parent / f"{tmp_path.name}_table.py"
    extra.write_text("z = 3\n")
    d0 = _numba_cache.sources_digest(tmp_path, extra=(extra,))
    (tmp_path / "lif" / "k.py").write_text("y = 4\n")
    d1 = _numba_cache.sources_digest(tmp_path, extra=(extra,))
    assert d1 != d0
    extra.write_text("z = 5\n")
    assert _numba_cache.sources_digest(tmp_path, extra=(extra,)) != d1


def test_the_kernels_digest_includes_the_surrogate_table_they_inline():
    """The kernels compile the formulas of axonal/surrogate.py (``_numba_surrogate``), so that
    file is one of the digest's sources, and a kernel file in a subfolder is too."""
    import axonal.surrogate
    from axonal.kernels import _numba_surrogate  # noqa: F401  (compiles the table's formulas)

    surrogate_file = Path(axonal.surrogate.__file__).resolve()
    assert surrogate_file in [Path(p).resolve() for p in _numba_cache.EXTRA_SOURCES]
    assert _numba_cache._in_dir(_numba_cache.KERNEL_DIR / "lif" / "_numba.py", _numba_cache.KERNEL_DIR)
    assert not _numba_cache._in_dir(surrogate_file, _numba_cache.KERNEL_DIR)


def _run(pkg_root: Path, use_digest: bool) -> str:
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(pkg_root)!r})
        from pathlib import Path
        if {use_digest!r}:
            from axonal.kernels import _numba_cache
            assert _numba_cache.install(Path({str(pkg_root / 'kpkg')!r}))
        from kpkg import kern
        print(kern.outer(1.0))
    """)
    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _write_package(root: Path, helper_value: int) -> None:
    pkg = root / "kpkg"
    (pkg / "sub").mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "helper.py").write_text(textwrap.dedent(f"""
        from numba import njit

        @njit(inline="always", cache=True)
        def inner(x):
            return x + {helper_value}
    """))
    if not (pkg / "kern.py").exists():
        (pkg / "kern.py").write_text(textwrap.dedent("""
            from numba import njit
            from .sub.helper import inner

            @njit(cache=True)
            def outer(x):
                return inner(x) * 10
        """))


def test_changed_helper_recompiles_the_kernel_that_inlines_it(tmp_path):
    _write_package(tmp_path, 1)
    assert _run(tmp_path, use_digest=True) == "20.0"  # compiled and cached
    _write_package(tmp_path, 2)  # only the helper's file changes
    assert _run(tmp_path, use_digest=True) == "30.0"  # the cached kernel was not reused
    assert _run(tmp_path, use_digest=True) == "30.0"


def _first_call(cache_dir: Path) -> subprocess.CompletedProcess:
    code = textwrap.dedent("""
        import torch
        from axonal.neurons.lif import LIF
        x = torch.ones(3, 1, 2)
        with torch.no_grad():
            for _ in range(2):
                LIF()(x)
        print("ran")
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=600, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    return out


def test_a_real_compile_is_announced_once_and_a_cache_load_not_at_all(tmp_path):
    """Issue 22: the first call stalled silently while numba compiled. A compile says so on
    stderr, once per family and process; loading the compiled kernel from the cache is silent."""
    notice = "axonal: compiling LIF-family kernels (one time, cached afterwards)..."
    first = _first_call(tmp_path)
    assert first.stderr.count(notice) == 1, first.stderr
    second = _first_call(tmp_path)
    assert "compiling" not in second.stderr, second.stderr
