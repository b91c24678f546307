"""numba's disk cache for this package's kernels, keyed on the contents of every kernel file.

Why: numba decides whether a cached kernel is still valid by the modification time and size
of the one file that defines it. The kernels here inline helpers from other files (the fused
Linear+LIF kernels of ``event/_numba`` inline ``_fwd_row`` from ``lif/_numba``; every backward
inlines the surrogate formulas of ``axonal/surrogate.py``), so editing a helper, or a ``git
checkout`` that changes only the helper's file, left the old machine code in use: a stale
kernel that still passed for the new one (this happened while the gather was being tuned).
Importing this module puts, in front of numba's own cache locators, versions of them whose
freshness stamp is a hash of the source of every ``.py`` file under ``axonal/kernels``
(recursively) and of the modules outside it whose functions the kernels inline
(``EXTRA_SOURCES``), for functions defined under ``axonal/kernels`` only: any kernel source
change recompiles every kernel once; nothing else changes (same directories,
``NUMBA_CACHE_DIR`` still honoured, other packages' functions untouched).

It relies on numba's locator classes (``numba.core.caching``, stable since numba 0.49);
where they differ, it leaves numba's default in place and warns once.
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent
#: files outside ``kernels/`` whose functions the kernels compile inline: the surrogate table
EXTRA_SOURCES = (KERNEL_DIR.parent / "surrogate.py",)


def sources_digest(directory: Path = KERNEL_DIR, extra=None) -> str:
    """SHA-256 over the relative paths and contents of the ``.py`` files under ``directory``
    (recursively) and of the ``extra`` files (default: ``EXTRA_SOURCES`` for the kernel
    directory, none for another)."""
    directory = Path(directory).resolve()
    if extra is None:
        extra = EXTRA_SOURCES if directory == KERNEL_DIR else ()
    h = hashlib.sha256()
    files = [(p.relative_to(directory).as_posix(), p) for p in sorted(directory.rglob("*.py"))]
    files += [(f"extra:{Path(p).name}", Path(p)) for p in extra]
    for name, path in files:
        h.update(name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _in_dir(py_file, directory: Path) -> bool:
    try:
        return directory in Path(py_file).resolve().parents
    except OSError:
        return False


def install(directory: Path = KERNEL_DIR) -> bool:
    """Key numba's cache of the functions defined in ``directory``'s files on
    ``sources_digest(directory)``; True if installed (or already), False where numba is
    missing, the user set ``NUMBA_CACHE_LOCATOR_CLASSES``, or numba's internals differ."""
    try:
        from numba.core import caching, config  # lazy: installed when a kernel module loads
    except ImportError:  # no numba: nothing is cached
        return False
    bases = [getattr(caching, name, None) for name in
             ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")]
    impl = getattr(caching, "CacheImpl", None)
    if None in bases or not isinstance(getattr(impl, "_locator_classes", None), list):
        warnings.warn("numba's cache locators changed: axonal's kernels are cached by numba's "
                      "default rule (the defining file's timestamp)", RuntimeWarning, stacklevel=2)
        return False
    if getattr(config, "CACHE_LOCATOR_CLASSES", None):
        return False  # the user chose the locators
    directory = Path(directory).resolve()
    if any(getattr(cls, "_sources_dir", None) == directory for cls in impl._locator_classes):
        return True
    digest = sources_digest(directory)

    def make(base):
        class Locator(base):
            _sources_dir = directory

            def get_source_stamp(self):
                return ("sources-digest", digest)

            @classmethod
            def from_function(cls, py_func, py_file):
                if not _in_dir(py_file, directory):
                    return None
                return super().from_function(py_func, py_file)

        Locator.__name__ = Locator.__qualname__ = "SourcesDigest" + base.__name__
        return Locator

    impl._locator_classes[:0] = [make(base) for base in bases]
    return True


INSTALLED = install()
