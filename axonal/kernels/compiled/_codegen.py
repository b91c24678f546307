"""Source of the two numba kernels of a ``compile_step`` neuron, and their on-disk cache.

The kernels are generated per neuron (the number of state variables and parameters, the
symbolic partials and the surrogate are written into the source), so numba's ``cache=True``
cannot apply to them directly: it caches functions by their source file. The generated
source is therefore written to a module file named by a hash of everything the compiled
code depends on (``cache_key``) in ``cache_dir()`` and imported from there with
``cache=True``, so a later process loads the machine code numba stored next to it instead of
compiling again. The file is written once, atomically (a complete temporary file, then
linked into place; the first writer wins), and never rewritten while its content is right:
numba keys its cache on the file's timestamp. The key hashes the user's code objects field by
field, not with ``marshal`` (whose output changes with reference counts).
Where no cache directory is writable the source is compiled in memory (correct, but the
compile is paid by every process).

Layout, as the built-in LIF kernels (``axonal.kernels.lif._numba``): ``x [T, M]`` with ``M = B * n``, state
``[K, M]``, parameters ``[P, n]``; tasks of up to ``BLOCK`` neurons of one batch row run in
parallel, each looping over time in compiled code and over its neurons in a contiguous inner
loop over one-dimensional rows, one row per state variable, so that LLVM can vectorise it.
``error_model="numpy"`` drops the zero-division check that numba's default Python error
model adds to every division (its exception branch blocks vectorisation).

The forward calls the user's functions themselves (inlined), so its arithmetic is the
user's, in the input dtype where the user's literals allow (a Python float literal is a
float64 in numba). It also checks on the fly that the input is finite (``finite[task]`` is
NaN otherwise), which costs far less than a separate ``torch.isfinite`` pass. It stores the
state before every step (``hist``, in the input dtype) when a gradient is needed; the spikes
are the output. The backward walks time backwards, recomputes the step from ``hist`` in
float64, and applies the chain rule with the symbolic partials (``_symbolic``) and the
surrogate derivative in place of dH/dh, accumulating per-element parameter gradients in
float64. The spike gradient ``gs`` may be one row
``[1, M]`` when it is the same at every step (a spike-count loss): it is then not
materialised over time. Both kernels are bound by memory traffic on the machine of
BENCHMARKS.md (the backward reads x, the stored state, the spikes and the spike gradient).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import types
from importlib.metadata import version
from pathlib import Path

import numpy as np

from ... import surrogate
from ._math import global_names

__all__ = ["BLOCK", "kernel_source", "cache_dir", "cache_key", "cached_source", "load_kernels"]

BLOCK = 256
_GENERATOR_FILES = ("_codegen.py", "_symbolic.py", "_math.py")



#: the generated kernels' task loop, as in ``axonal.kernels.lif._numba``: a task is a block of ``BLOCK``
#: neurons of one batch row, parallel over tasks
_TASK_LOOP = (
    "    for task in prange(B * nb):",
    "        b = task // nb",
    "        n0 = (task - b * nb) * BLOCK",
    "        L = min(n0 + BLOCK, n) - n0",
    "        lo = b * n + n0",
    "        hi = lo + L",
)


def _chain(pairs) -> str:
    """Code for sum(grad * partial) over (grad, partial) pairs, the grads that share a
    partial added first (``h = v - theta`` and ``v`` have the same partials), a partial of
    1 written as no product."""
    groups: dict[str, list[str]] = {}
    for grad, partial in pairs:
        groups.setdefault(partial, []).append(grad)
    terms = []
    for partial, grads in groups.items():
        g = grads[0] if len(grads) == 1 else f"({' + '.join(grads)})"
        terms.append(g if partial == "1" else f"{g} * ({partial})")
    return " + ".join(terms) if terms else "0.0"


def _forward_source(k: int, p: int) -> str:
    """``forward``: the scan of K state rows per task, calling ``_dyn`` and ``_rst``."""
    st = [f"S{i}" for i in range(k)]
    args = ", ".join(["xr[j]"] + [f"{s}[j]" for s in st] + [f"Q{r}[j]" for r in range(p)])
    pre = ", ".join(f"N{i}" for i in range(k))
    rargs = ", ".join(["s"] + [f"N{i}" for i in range(k)] + [f"Q{r}[j]" for r in range(p)])
    new = ", ".join(f"W{i}" for i in range(k))
    body = [
        "@njit(parallel=True, cache=_CACHE, error_model='numpy')",
        "def forward(x, state0, params, n, store, spk, hist, state_out, finite):",
        "    T = x.shape[0]",
        "    B = x.shape[1] // n",
        "    nb = (n + BLOCK - 1) // BLOCK",
        *_TASK_LOOP,
        *[f"        {s} = state0[{i}, lo:hi].copy()" for i, s in enumerate(st)],
        *[f"        Q{r} = params[{r}, n0:n0 + L]" for r in range(p)],
        "        chk = np.zeros(L)",
        "        for t in range(T):",
        "            xr = x[t, lo:hi]",
        "            sr = spk[t, lo:hi]",
        "            if store:",
        *[f"                hist[{i}, t, lo:hi] = {s}" for i, s in enumerate(st)],
        "            for j in range(L):",
        f"                h, {pre}, = _dyn({args})",
        "                chk[j] += xr[j] * 0.0",
        "                s = 1.0 if h >= 0 else 0.0",
        "                sr[j] = s",
        f"                {new}, = _rst({rargs})",
        *[f"                {s}[j] = W{i}" for i, s in enumerate(st)],
        *[f"        state_out[{i}, lo:hi] = {s}" for i, s in enumerate(st)],
        "        finite[task] = chk.sum()",
    ]
    return "\n".join(body)


def _backward_source(k: int, p: int, d, code: int) -> str:
    """``backward``: BPTT of ``forward``. Per neuron-step, with G the gradient of the state
    after the step: through the reset to the pre-reset state (GN) and the spike, through the
    surrogate to h (GH), through the dynamics to x and the previous state; parameter
    gradients gather from both halves. Structurally zero partials generate no code."""
    dv, rv = d.dynamics.values, d.reset.values

    def through_reset(j: int) -> str:  # d loss / d (argument j of reset), via the new state
        return _chain((f"G{q}", rv[(q, j)]) for q in range(k) if (q, j) in rv)

    g_pre = [through_reset(1 + i) for i in range(k)]
    g_spk = through_reset(0)

    def through_dynamics(j: int) -> str:  # d loss / d (argument j of dynamics)
        grads = ["GH"] + [f"GN{i}" for i in range(k)]
        return _chain((grads[i], dv[(i, j)]) for i in range(1 + k) if (i, j) in dv)

    loads = (["X = np.float64(xr[j])"] + [f"S{i} = np.float64(R{i}[j])" for i in range(k)]
             + [f"Q{r} = np.float64(P{r}[j])" for r in range(p)])
    dargs = ", ".join(["X"] + [f"S{i}" for i in range(k)] + [f"Q{r}" for r in range(p)])
    inner = [
        *loads,
        f"H, {', '.join(f'N{i}' for i in range(k))}, = _dyn({dargs})",
        "SP = np.float64(sr[j])",
        *[f"G{q} = g{q}[j]" for q in range(k)],
        *d.reset.lines,
        *[f"GN{i} = {g}" for i, g in enumerate(g_pre)],
        *[f"a{r}[j] += {through_reset(1 + k + r)}" for r in range(p)
          if any((q, 1 + k + r) in rv for q in range(k))],
        f"GH = (gsr[j] + nd * ({g_spk})) * surrogate_derivative({code}, width, H)",
        *d.dynamics.lines,
        f"gxr[j] = {through_dynamics(0)}",
        *[f"g{i}[j] = {through_dynamics(1 + i)}" for i in range(k)],
        *[f"a{r}[j] += {through_dynamics(1 + k + r)}" for r in range(p)
          if any((i, 1 + k + r) in dv for i in range(1 + k))],
    ]
    body = [
        "@njit(parallel=True, cache=_CACHE, error_model='numpy')",
        "def backward(x, hist, spk, params, gs, gstate, n, nd, width, gx, gstate0, gparams):",
        "    T = x.shape[0]",
        "    B = x.shape[1] // n",
        "    nb = (n + BLOCK - 1) // BLOCK",
        "    tg = 1 if gs.shape[0] > 1 else 0",
        *_TASK_LOOP,
        *[f"        g{i} = gstate[{i}, lo:hi].copy()" for i in range(k)],
        *[f"        a{r} = np.zeros(L)" for r in range(p)],
        *[f"        P{r} = params[{r}, n0:n0 + L]" for r in range(p)],
        "        for t in range(T - 1, -1, -1):",
        "            xr = x[t, lo:hi]",
        "            sr = spk[t, lo:hi]",
        "            gsr = gs[t * tg, lo:hi]",
        "            gxr = gx[t, lo:hi]",
        *[f"            R{i} = hist[{i}, t, lo:hi]" for i in range(k)],
        "            for j in range(L):",
        *[f"                {line}" for line in inner],
        *[f"        gstate0[{i}, lo:hi] = g{i}" for i in range(k)],
        *[f"        gparams[{r}, lo:hi] = a{r}" for r in range(p)],
    ]
    return "\n".join(body)


def kernel_source(key: str, k: int, p: int, derivs, code: int) -> str:
    """The module that defines ``forward`` and ``backward`` for one neuron. It expects the
    globals ``_dyn``, ``_rst`` (the user's functions, jitted) and ``_CACHE`` to be set.
    ``derivs`` is the ``_symbolic.StepDerivatives`` of the step."""
    head = ("import math\n\nimport numpy as np\nfrom numba import njit, prange\n\n"
            "from axonal.kernels._numba_surrogate import surrogate_derivative\n\n"
            f"BLOCK = {BLOCK}\n")
    parts = [head, _forward_source(k, p), _backward_source(k, p, derivs, code)]
    body = "\n\n".join(parts) + "\n"
    return _header(key, body) + body


def cache_dir() -> Path:
    """``$AXONAL_CACHE_DIR/compile_step``, else ``$XDG_CACHE_HOME/axonal/compile_step``, else
    ``~/.cache/axonal/compile_step``."""
    root = os.environ.get("AXONAL_CACHE_DIR")
    if root:
        return Path(root) / "compile_step"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg or Path.home() / ".cache") / "axonal" / "compile_step"


def _fingerprint(obj, depth: int = 0) -> bytes:
    """What numba compiles of a user function: its bytecode and constants, and the values of
    the globals and closure cells it reads (numba freezes those at compile time)."""
    fn = getattr(obj, "py_func", obj)  # a numba dispatcher: its Python function
    if not isinstance(fn, types.FunctionType) or depth > 3:
        return repr(getattr(obj, "__name__", type(obj).__name__)).encode()
    parts = [_code_bytes(fn.__code__), repr(fn.__defaults__).encode()]
    for name in sorted(global_names(fn.__code__)):
        if name in fn.__globals__:
            val = fn.__globals__[name]
            if isinstance(val, (int, float, complex, bool, str, bytes, tuple)):
                parts.append(f"{name}={val!r}".encode())
            elif isinstance(val, types.ModuleType):
                parts.append(f"{name}=module {val.__name__}".encode())
            elif isinstance(val, np.ndarray):  # numba freezes global arrays too
                parts.append(name.encode() + b"=" + val.dtype.str.encode() + val.tobytes())
            elif isinstance(getattr(val, "py_func", val), types.FunctionType):
                parts.append(name.encode() + b"=" + _fingerprint(val, depth + 1))
            else:  # nothing numba could freeze into the kernel (or an attribute's name)
                parts.append(f"{name}:{type(val).__qualname__}".encode())
    for cell in fn.__closure__ or ():
        val = cell.cell_contents
        parts.append(repr(val).encode() if isinstance(val, (int, float, bool, str, tuple))
                     else _fingerprint(val, depth + 1))
    return b"\0".join(parts)


def _code_bytes(code: types.CodeType) -> bytes:
    """A deterministic serialisation of a code object (``marshal.dumps`` is not one: its
    back-reference flags depend on the reference counts of the constants, which change once
    numba holds them)."""
    consts = b"|".join(_code_bytes(c) if isinstance(c, types.CodeType) else
                       f"{type(c).__name__}:{c!r}".encode() for c in code.co_consts)
    fields = (code.co_qualname, code.co_argcount, code.co_kwonlyargcount, code.co_flags,
              code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)
    return code.co_code + b"\0" + consts + b"\0" + repr(fields).encode()


def cache_key(dynamics, reset, k: int, p: int, code: int) -> str:
    """Hash of everything the generated kernels depend on: the user functions, the shape of
    the step (K, P, surrogate code), this generator and the tracer (their source files), the
    surrogate table and its numba form (the generated code's only import from axonal), and the
    versions of numba, sympy and Python (not axonal's: reading it would import the package
    from inside its own import, and every source the kernels depend on is hashed anyway). Computed without tracing, so a cached
    neuron needs neither sympy nor a compile."""
    import numba  # lazy: this module is imported with scan.py, before numba is needed

    from .. import _numba_surrogate  # lazy: imports numba

    h = hashlib.sha256()
    for part in (_fingerprint(dynamics), _fingerprint(reset), f"{k},{p},{code}".encode(),
                 *[(Path(__file__).parent / f).read_bytes() for f in _GENERATOR_FILES],
                 Path(surrogate.__file__).read_bytes(), Path(_numba_surrogate.__file__).read_bytes(),
                 numba.__version__.encode(), version("sympy").encode(),
                 sys.version.encode()):
        h.update(part)
        h.update(b"\1")
    return h.hexdigest()[:24]


def _path(key: str) -> Path:
    return cache_dir() / f"step_{key}.py"


def cached_source(key: str) -> str | None:
    """The generated source stored under ``key``, if a complete, unmodified one is on disk in a
    place only this user can change. The file is executed when loaded, so it is trusted only
    when its first line's SHA-256 matches the rest of it, byte for byte (a truncated file or a
    line injected anywhere is regenerated) and neither it nor its folder is writable by others."""
    path = _path(key)
    if not (_private(path.parent) and _private(path)):
        return None
    try:
        src = path.read_text()
    except (OSError, UnicodeDecodeError):
        return None
    first, _, body = src.partition("\n")
    return src if first + "\n" == _header(key, body) else None


def _header(key: str, body: str) -> str:
    digest = hashlib.sha256(body.encode()).hexdigest()
    return f"# generated by axonal.kernels.compiled, cache key {key}, sha256 {digest}; do not edit\n"


def _private(path: Path) -> bool:
    """True when only this user can change ``path``: it exists, belongs to us and is not
    writable by group or others (POSIX; elsewhere existence suffices)."""
    try:
        st = path.stat()
    except OSError:
        return False
    if not hasattr(os, "getuid"):
        return True
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _write_once(path: Path, source: str) -> None:
    """Create ``path`` with ``source`` atomically, unless it already holds exactly that.

    The complete file is written under a temporary name, then hard-linked to ``path``, which
    fails if another process got there first (its file is then kept, so its timestamp and
    numba's index of it stay valid); a file with other content (damaged) is replaced."""
    try:
        if path.read_text() == source:
            return
        stale = True
    except OSError:
        stale = False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".py")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(source)
        if stale:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_LOADED: dict[str, types.ModuleType] = {}


def load_kernels(key: str, source: str, dynamics, reset) -> tuple[types.ModuleType, str]:
    """The module of ``kernel_source`` with the user's functions bound, from the disk cache
    where possible. Returns (module, where: the file path or "memory")."""
    from numba import njit  # lazy: only when kernels are loaded

    if key in _LOADED:
        mod = _LOADED[key]
        return mod, getattr(mod, "__file__", None) or "memory"
    glb = {"_dyn": njit(inline="always", error_model="numpy")(dynamics),
           "_rst": njit(inline="always", error_model="numpy")(reset)}
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _private(path.parent):
            raise PermissionError(f"{path.parent} is writable by other users")
        _write_once(path, source)
        if not _private(path) or path.read_text() != source:
            raise PermissionError(f"{path} changed or is writable by other users")
    except (OSError, UnicodeDecodeError):  # not a safe place: compile in memory instead
        path = None
    if path is not None:
        name = f"axonal_compile_step_{key}"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        mod.__dict__.update(glb, _CACHE=True)
        # numba's cached code names its module and imports it on loading: register it
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    else:
        mod = types.ModuleType(f"axonal_compile_step_{key}")
        mod.__dict__.update(glb, _CACHE=False)
        exec(compile(source, f"<compile_step {key}>", "exec"), mod.__dict__)
    _LOADED[key] = mod
    return mod, str(path) if path is not None else "memory"
