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

It also says when a kernel really compiles (``announce_compiles``): the first call of a kernel
family on a fresh install stalls for seconds while numba compiles it, so one line,
``axonal: compiling <family> kernels (one time, cached afterwards)...``, goes to stderr before
that stall, once per process and family, and never when the kernel comes from the disk cache
(numba's ``numba:compile`` event fires only after a cache miss).
"""
from __future__ import annotations

import hashlib
import sys
import threading
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


#: the kernel families the compile notice names, by the module that defines the kernel
FAMILIES = {"axonal.kernels.lif._numba": "LIF-family",
            "axonal.kernels.event._numba": "event-driven Linear",
            "axonal.kernels.izhikevich": "Izhikevich"}
_ANNOUNCED: set[str] = set()


def _family(dispatcher) -> str | None:
    """The family name of one of this package's kernels (``compile_step`` modules included),
    or None for any other function."""
    module = getattr(getattr(dispatcher, "py_func", None), "__module__", None) or ""
    if module.startswith("axonal_compile_step_"):
        return "compile_step"
    return FAMILIES.get(module)


def announce_compiles(stream=None) -> bool:
    """Print ``axonal: compiling <family> kernels (one time, cached afterwards)...`` to
    ``stream`` (stderr by default) when a kernel of this package starts a real compile (not a
    load from the disk cache), once per family and process; only the outermost compile of a
    thread counts (the helpers a kernel inlines compile inside it). True if installed."""
    try:
        from numba.core import event
    except ImportError:  # no numba: nothing compiles
        return False
    local = threading.local()

    class Notice(event.Listener):
        def on_start(self, ev):
            depth = getattr(local, "depth", 0)
            local.depth = depth + 1
            family = _family(ev.data.get("dispatcher")) if depth == 0 else None
            if family is not None and family not in _ANNOUNCED:
                _ANNOUNCED.add(family)
                out = stream if stream is not None else sys.stderr
                print(f"axonal: compiling {family} kernels (one time, cached afterwards)...",
                      file=out, flush=True)

        def on_end(self, ev):
            local.depth = getattr(local, "depth", 1) - 1

    event.register("numba:compile", Notice())
    return True


INSTALLED = install()
NOTICE = announce_compiles()
