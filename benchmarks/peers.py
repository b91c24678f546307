"""Speed and memory of axonal against snnTorch, SpikingJelly, Norse and a plain PyTorch loop.

    python -m benchmarks.peers                 # full run (about 10 min on 2 cores)
    python -m benchmarks.peers --quick         # smoke run: one workload, two rounds (< 1 min)
    python -m benchmarks.peers --write-md      # full run, then rewrite the table in BENCHMARKS.md
    python -m benchmarks.peers --from-json benchmarks/results/peers.json --markdown

Workload and neuron semantics: see ``peer_workloads.py``. Method:

1. One worker process per library (``python -m benchmarks.peer_workloads --library X``), all on the same Python
   (by default the peers venv made by ``setup_peers.sh``), the same ``torch.set_num_threads``
   and the same OMP/MKL/numba thread counts.
2. Per workload (config x input density x mode): every worker builds the same weights and input
   from the same seed (checked by checksum) and runs one step whose time is reported apart as
   the first call (it includes any kernel compilation or cache load); then the spikes of every
   library are compared with axonal's on identical weights and input.
3. Timing in interleaved rounds: each round asks every library in turn (the order rotates
   each round) for ``reps`` timed steps, so that load from other jobs on a shared machine hits
   every library alike. Median and minimum over all rounds; ratio = library / axonal median.
4. Memory: peak growth of the resident set during one step (see
   ``peer_workloads.peak_rss_growth``), median over a few steps.

Raw results go to a JSON file with the machine, versions, date and git commit.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from axonal.train import environment
from benchmarks.peer_workloads import (
    CONFIGS, MARKER, REFERENCE_VARIANT, SEMANTICS, Config, make_problem, reference_lif,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_PYTHON = ROOT / ".bench-venvs" / "peers" / "bin" / "python"
FLOOR = "linear-floor"  # no neurons: what every library pays for the Linear layer and the loss
LIBRARIES = ("axonal", "axonal-dense", "torch-loop", "snntorch", "spikingjelly", "norse", FLOOR)
#: checked for correctness only (its spikes), not timed: it costs a little more than snnTorch's default
CHECK_ONLY = ("snntorch-nodelay",)
#: the peer libraries proper (the goals compare axonal with the fastest of these)
PEERS = ("snntorch", "spikingjelly", "norse")
DENSITIES = (0.10, 0.02)
MODES = ("train", "infer")
MD_START = "<!-- peers-table:start -->"
MD_END = "<!-- peers-table:end -->"


# ----------------------------------------------------------------------------- workers
class Worker:
    """A library's worker process, spoken to in JSON lines."""

    def __init__(self, library: str, python: str, threads: int, axonal_backend: str = "auto"):
        self.library = library
        env = dict(os.environ)
        env["AXONAL_BENCH_BACKEND"] = axonal_backend
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
            env[var] = str(threads)
        env["PYTHONWARNINGS"] = "ignore"
        # ``-m`` from the repository root: the worker imports this checkout's ``benchmarks`` and
        # ``axonal`` (the root is first on its sys.path), whichever venv ``python`` belongs to
        self.proc = subprocess.Popen(
            [python, "-m", "benchmarks.peer_workloads", "--library", library, "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            cwd=str(ROOT),
        )
        self.stderr_tail: list[str] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.hello: dict = {}

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.stderr_tail = (self.stderr_tail + [line.rstrip()])[-20:]

    def _read(self) -> dict:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                return {"ok": False, "error": "worker exited: " + " | ".join(self.stderr_tail[-5:])}
            if line.startswith(MARKER):
                return json.loads(line[len(MARKER):])

    def ask(self, **msg) -> dict:
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return {"ok": False, "error": "worker is gone: " + " | ".join(self.stderr_tail[-5:])}
        return self._read()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.ask(cmd="quit")
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                self.proc.kill()


def start_workers(libraries, python, threads, log, axonal_backend="auto") -> tuple[dict, dict]:
    """Start the workers in parallel; return ``(workers, unavailable)`` (library -> reason)."""
    pending = {lib: Worker(lib, python, threads, axonal_backend) for lib in libraries}
    workers, unavailable = {}, {}
    for lib, w in pending.items():
        w.hello = w._read()
        if w.hello.get("ok"):
            workers[lib] = w
            log(f"  {lib:<17} {w.hello['version']:<12} import {w.hello['import_s']:.1f} s")
        else:
            unavailable[lib] = w.hello.get("error", "unknown error")
            log(f"  {lib:<17} UNAVAILABLE: {unavailable[lib]}")
            w.close()
    return workers, unavailable


# ----------------------------------------------------------------------------- statistics
def summarize(samples_ms: list[float]) -> dict:
    return {"median_ms": statistics.median(samples_ms), "min_ms": min(samples_ms), "n": len(samples_ms)}


def workload_key(cfg: Config, density: float, mode: str) -> str:
    return f"{cfg.name} p={density:g} {mode}"


def compare_spikes(ref, other) -> dict:
    """Mismatched spikes between two spike tensors, and total spike counts of each."""
    import torch

    if ref.shape != other.shape:
        return {"shape_mismatch": [list(ref.shape), list(other.shape)]}
    diff = ref.to(torch.int16) - other.to(torch.int16)
    return {
        "mismatched": int(diff.ne(0).sum()),
        "max_abs_diff": int(diff.abs().max()),
        "spikes_ref": int(ref.sum()),
        "spikes": int(other.sum()),
        "elements": ref.numel(),
    }


def add_ratios(results: list[dict]) -> None:
    """Add ratios to axonal on the same workload to every result.

    ``ratio``: library median / axonal median. ``neuron_ratio``: the same after subtracting the
    ``linear-floor`` median from both (an estimate of the neuron layer's own cost, since the
    shared Linear layer dominates wide layers on CPU); ``None`` where the floor is missing or
    axonal is not above it.
    """
    base = {r["workload"]: r["median_ms"] for r in results if r["library"] == "axonal"}
    floor = {r["workload"]: r["median_ms"] for r in results if r["library"] == FLOOR}
    for r in results:
        b, f = base.get(r["workload"]), floor.get(r["workload"])
        r["ratio"] = r["median_ms"] / b if b else None
        r["neuron_ratio"] = None
        if b and f is not None and b > f and r["library"] != FLOOR:
            r["neuron_ratio"] = (r["median_ms"] - f) / (b - f)


# ----------------------------------------------------------------------------- machine
def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version()}
    try:
        info["load_avg"] = os.getloadavg()
        with open("/proc/meminfo") as f:
            info["mem_total_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    return info


#: environment variables that change how the libraries run; recorded with the results
ENV_RECORDED = ("AXONAL_", "MALLOC_", "OMP_", "MKL_", "NUMBA_", "OPENBLAS_", "LD_PRELOAD")


# ----------------------------------------------------------------------------- the run
def run(args, log=print) -> dict:
    import torch

    configs = CONFIGS[:1] if args.quick else [CONFIGS[i] for i in args.configs]
    densities = DENSITIES[:1] if args.quick else DENSITIES
    libraries = [l for l in args.libraries if l != "axonal"]
    libraries = ["axonal"] + libraries  # axonal first: everything is compared to it
    check_only = [l for l in CHECK_ONLY if not args.no_check_only]
    log(f"python for workers: {args.python}; threads per library: {args.threads}")
    log("starting workers ...")
    log(f"axonal LIF backend: {args.axonal_backend}")
    workers, unavailable = start_workers(libraries + check_only, args.python, args.threads, log,
                                         args.axonal_backend)
    if "axonal" not in workers:
        raise SystemExit(f"axonal itself cannot run in {args.python}: {unavailable.get('axonal')}")
    software = environment()  # versions and commit of the axonal the workers import
    meta = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "git_commit": software["git_commit"],
        "software": software,
        "machine": machine_info(),
        "threads": args.threads,
        "axonal_backend": args.axonal_backend,
        "clock": args.clock,
        "command": " ".join(["python", "-m", "benchmarks.peers", *(args.argv or [])]),
        "rounds": args.rounds, "reps": args.reps, "mem_reps": args.mem_reps, "quick": args.quick,
        "python_for_workers": str(args.python),
        "versions": {lib: w.hello["version"] for lib, w in workers.items()},
        "unavailable": unavailable,
        "semantics": {lib: SEMANTICS[lib] for lib in workers},
        "torch_config": {"num_threads": args.threads},
        "environment": {k: v for k, v in sorted(os.environ.items())
                        if k.startswith(ENV_RECORDED)},
    }
    results, correctness = [], []
    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="axonal-peers-"))
    try:
        for cfg in configs:
            for density in densities:
                # correctness once per config and density (inference, identical weights and input)
                spikes = {}
                for lib, w in workers.items():
                    if lib == FLOOR:
                        continue
                    r = w.ask(cmd="setup", cfg=cfg.__dict__, density=density, mode="infer", seed=args.seed)
                    if not r.get("ok"):
                        log(f"  {lib}: setup failed: {r.get('error')}")
                        continue
                    path = tmp / f"{lib}.pt"
                    if w.ask(cmd="spikes", path=str(path)).get("ok"):
                        spikes[lib] = (torch.load(path), r["checksum"])
                ref, ref_sum = spikes["axonal"]
                x, w, _ = make_problem(cfg, density, args.seed)
                current = x @ w.T
                references = {v: reference_lif(current, v).to(torch.uint8)
                              for v in sorted(set(REFERENCE_VARIANT.values()))}
                for lib, (s, checksum) in spikes.items():
                    row = {"library": lib, "config": cfg.name, "density": density,
                           "same_input": abs(checksum - ref_sum) < 1e-6 * max(1.0, abs(ref_sum))}
                    row.update(compare_spikes(ref, s))
                    variant = REFERENCE_VARIANT[lib]
                    row["reference_variant"] = variant
                    row["mismatched_vs_own_reference"] = compare_spikes(references[variant], s).get("mismatched")
                    correctness.append(row)
                    log(f"  check {cfg.name} p={density:g} {lib:<17} vs axonal: {row.get('mismatched')} of "
                        f"{row.get('elements')} differ (count {row.get('spikes')} vs {row.get('spikes_ref')}); "
                        f"vs its {variant} reference: {row['mismatched_vs_own_reference']}")
                timed = [l for l in workers if l not in check_only]
                for mode in args.modes:
                    key = workload_key(cfg, density, mode)
                    first, mem = {}, {l: [] for l in timed}
                    clocks = {c: {l: [] for l in timed} for c in ("wall", "cpu")}
                    for lib in timed:
                        r = workers[lib].ask(cmd="setup", cfg=cfg.__dict__, density=density, mode=mode,
                                             seed=args.seed)
                        if r.get("ok"):
                            first[lib] = r["first_ms"]
                        else:
                            log(f"  {lib}: {key}: {r.get('error')}")
                    active = [l for l in timed if l in first]
                    for rnd in range(args.rounds):
                        k = rnd % len(active)
                        for lib in active[k:] + active[:k]:
                            r = workers[lib].ask(cmd="time", reps=args.reps)
                            if r.get("ok"):
                                clocks["wall"][lib].extend(r["ms"])
                                clocks["cpu"][lib].extend(r.get("cpu_ms", []))
                    samples = clocks[args.clock]
                    for lib in active:
                        if args.mem_reps:
                            r = workers[lib].ask(cmd="mem", reps=args.mem_reps)
                            if r.get("ok"):
                                mem[lib] = [b for b in r["bytes"] if b is not None]
                    for lib in active:
                        if not samples[lib]:
                            continue
                        row = {"library": lib, "workload": key, "config": cfg.name, "density": density,
                               "mode": mode, "first_ms": first[lib], "samples_ms": samples[lib],
                               "mem_bytes": mem[lib],
                               "peak_mem_mb": statistics.median(mem[lib]) / 2**20 if mem[lib] else None}
                        row.update(summarize(samples[lib]))
                        for c, by_lib in clocks.items():
                            if by_lib[lib]:
                                row[f"{c}_samples_ms"] = by_lib[lib]
                                row[f"{c}_median_ms"] = statistics.median(by_lib[lib])
                                row[f"{c}_min_ms"] = min(by_lib[lib])
                        results.append(row)
                    add_ratios(results)
                    if args.out:  # keep what is done: a long run that is stopped still reports it
                        meta["wall_s"] = time.perf_counter() - t_start
                        meta["partial"] = True
                        args.out.parent.mkdir(parents=True, exist_ok=True)
                        args.out.write_text(json.dumps(
                            {"meta": meta, "correctness": correctness, "results": results}, indent=1))
                    log(f"  {key}: " + ", ".join(
                        f"{r['library']} {r['median_ms']:.1f} ms" for r in results if r["workload"] == key)
                        + f"   [{time.perf_counter() - t_start:.0f} s]")
    finally:
        for w in workers.values():
            w.close()
    meta["machine"]["load_avg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    meta["wall_s"] = time.perf_counter() - t_start
    meta["partial"] = False
    return {"meta": meta, "correctness": correctness, "results": results}


# ----------------------------------------------------------------------------- reports
def _fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}x"


def _fmt_mb(v):
    return "—" if v is None else f"{v:.1f}"


def text_table(data: dict) -> str:
    """Long table: one row per library and workload."""
    head = f"{'library':<17} {'config':<22} {'p':>5} {'mode':<6} {'median ms':>10} {'min ms':>9} " \
           f"{'vs axonal':>9} {'neuron vs':>9} {'peak MB':>8} {'first ms':>9}"
    lines = [head, "-" * len(head)]
    for r in data["results"]:
        lines.append(f"{r['library']:<17} {r['config']:<22} {r['density']:>5.2f} {r['mode']:<6} "
                     f"{r['median_ms']:>10.2f} {r['min_ms']:>9.2f} {_fmt_ratio(r['ratio']):>9} "
                     f"{_fmt_ratio(r.get('neuron_ratio')):>9} "
                     f"{_fmt_mb(r['peak_mem_mb']):>8} {r['first_ms']:>9.1f}")
    return "\n".join(lines)


def markdown(data: dict) -> str:
    """The BENCHMARKS.md section: meta, time ratios, absolute times, memory, correctness."""
    meta, results = data["meta"], data["results"]
    libs = list(dict.fromkeys(r["library"] for r in results))
    others = [l for l in libs if l != "axonal"]
    order = {c.name: i for i, c in enumerate(CONFIGS)}
    firsts = {}
    for r in results:
        firsts.setdefault(r["workload"], r)
    workloads = sorted(firsts, key=lambda w: (order.get(firsts[w]["config"], 99), -firsts[w]["density"],
                                              MODES.index(firsts[w]["mode"]) if firsts[w]["mode"] in MODES else 9))
    by = {(r["library"], r["workload"]): r for r in results}
    m = meta["machine"]
    out = [
        f"Measured {meta['date']} at commit `{meta['git_commit']}` on {m['cpu']} "
        f"({m['cores']} cores, load average {', '.join(f'{x:.2f}' for x in m.get('load_avg', []))} "
        f"at start), axonal LIF backend `{meta.get('axonal_backend', 'auto')}`, "
        f"{meta['threads']} thread(s) per library, {meta['rounds']} interleaved rounds x "
        f"{meta['reps']} steps per workload{' (quick run)' if meta['quick'] else ''}; "
        f"took {meta.get('wall_s', 0) / 60:.1f} min (load average "
        f"{', '.join(f'{x:.2f}' for x in (m.get('load_avg_end') or []))} at the end). Times are "
        f"**{'process CPU time' if meta.get('clock', 'wall') == 'cpu' else 'wall-clock time'}** per "
        "step unless marked wall-clock.",
        "",
        f"Command: `{meta.get('command', 'python -m benchmarks.peers')}`"
        + "".join(f"; merged with `{x.get('command')}` ({x.get('date')}, load average "
                  f"{', '.join(f'{v:.2f}' for v in (x.get('machine') or {}).get('load_avg', []))} at start, "
                  f"{(x.get('wall_s') or 0) / 60:.1f} min"
                  + "".join(f", `{k}={v}`" for k, v in (x.get("environment") or {}).items())
                  + ")" for x in meta.get("merged", []))
        + (" (stopped early: partial)" if meta.get("partial") else "")
        + ("; environment: " + ", ".join(f"`{k}={v}`" for k, v in meta["environment"].items())
           if meta.get("environment") else ""),
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
        + (". Unavailable: " + "; ".join(f"{k} ({v})" for k, v in meta["unavailable"].items())
           if meta["unavailable"] else "") + ".",
        "",
        "**Time per step, as a ratio to axonal** (library median / axonal median; above 1 means axonal "
        "is faster). `p` is the input spike density.",
        "",
        "| workload | axonal median (min) ms | " + " | ".join(others) + " |",
        "|---|---:|" + "---:|" * len(others),
    ]
    for wl in workloads:
        a = by.get(("axonal", wl))
        cells = [f"{a['median_ms']:.1f} ({a['min_ms']:.1f})" if a else "—"]
        cells += [_fmt_ratio(by[(l, wl)]["ratio"]) if (l, wl) in by else "—" for l in others]
        out.append(f"| {wl} | " + " | ".join(cells) + " |")
    peers = [l for l in PEERS if l in libs]
    if peers:
        out += ["", "**Against the goals** (issue 3). *vs fastest peer*: the fastest of "
                + ", ".join(peers) + " (median) / axonal median (goal: training >= 3x at T=250 and "
                ">= 2x at T=100, inference >= 5x). *event vs dense*: axonal with its Linear forced "
                "dense (`axonal-dense`) / axonal (goal >= 2x at p = 0.02). *memory*: axonal's peak "
                "growth / the smallest peer's (goal <= 0.5).", "",
                "| workload | fastest peer | vs fastest peer | event vs dense | memory vs smallest peer |",
                "|---|---|---:|---:|---:|"]
        for wl in workloads:
            a = by.get(("axonal", wl))
            rows = [by[(l, wl)] for l in peers if (l, wl) in by]
            if not a or not rows:
                continue
            fastest = min(rows, key=lambda r: r["median_ms"])
            dense = by.get(("axonal-dense", wl))
            mems = [r["peak_mem_mb"] for r in rows if r.get("peak_mem_mb")]
            mem = (f"{a['peak_mem_mb'] / min(mems):.2f}"
                   if mems and a.get("peak_mem_mb") is not None else "—")
            out.append(f"| {wl} | {fastest['library']} | {fastest['median_ms'] / a['median_ms']:.2f}x | "
                       + (f"{dense['median_ms'] / a['median_ms']:.2f}x" if dense else "—")
                       + f" | {mem} |")
    # (the former "neuron layer alone" table, step minus linear-floor, no longer applies: axonal's
    # Linear is event-driven, so its step can be cheaper than the dense floor itself)
    out += ["", f"**Median (min) ms per step** ({'CPU' if meta.get('clock') == 'cpu' else 'wall-clock'})", "",
            "| workload | " + " | ".join(libs) + " |", "|---|" + "---:|" * len(libs)]
    for wl in workloads:
        cells = [f"{by[(l, wl)]['median_ms']:.1f} ({by[(l, wl)]['min_ms']:.1f})" if (l, wl) in by else "—"
                 for l in libs]
        out.append(f"| {wl} | " + " | ".join(cells) + " |")
    if any("wall_median_ms" in r for r in results) and meta.get("clock") == "cpu":
        out += ["", "**Wall-clock median (min) ms per step** (the same steps; inflated by the "
                "machine's load, and a ratio of these is noisier)", "",
                "| workload | " + " | ".join(libs) + " |", "|---|" + "---:|" * len(libs)]
        for wl in workloads:
            cells = [f"{by[(l, wl)]['wall_median_ms']:.1f} ({by[(l, wl)]['wall_min_ms']:.1f})"
                     if (l, wl) in by and "wall_median_ms" in by[(l, wl)] else "—" for l in libs]
            out.append(f"| {wl} | " + " | ".join(cells) + " |")
        a_w = {wl: by[("axonal", wl)].get("wall_median_ms") for wl in workloads if ("axonal", wl) in by}
        peers = [l for l in PEERS if l in libs]
        if peers and all(a_w.values()):
            out += ["", "Wall-clock *vs fastest peer*: " + "; ".join(
                f"{wl} {min(by[(l, wl)]['wall_median_ms'] for l in peers if (l, wl) in by) / a_w[wl]:.2f}x"
                for wl in a_w) + "."]
    out += ["", "**Peak resident-memory growth during one step, MB** (median of "
            f"{meta['mem_reps']}; method in `benchmarks/peer_workloads.py: peak_rss_growth`)", "",
            "| workload | " + " | ".join(libs) + " |", "|---|" + "---:|" * len(libs)]
    for wl in workloads:
        out.append(f"| {wl} | " + " | ".join(
            _fmt_mb(by[(l, wl)]["peak_mem_mb"]) if (l, wl) in by else "—" for l in libs) + " |")
    out += ["", "**First call, ms** (first step in a fresh worker on this workload: includes kernel "
            "compilation or cache loading on the first workload)", "",
            "| workload | " + " | ".join(libs) + " |", "|---|" + "---:|" * len(libs)]
    for wl in workloads:
        out.append(f"| {wl} | " + " | ".join(
            f"{by[(l, wl)]['first_ms']:.0f}" if (l, wl) in by else "—" for l in libs) + " |")
    out += ["", "**Same spikes?** Spikes of one inference pass compared with axonal's on identical "
            "weights and input (mismatched = elements that differ).", "",
            "The last column checks each library against a float64 re-implementation of the "
            "dynamics it documents (`reference_lif` in `benchmarks/peer_workloads.py`).", "",
            "| library | config | p | same input | mismatched vs axonal / elements | spike count (axonal's) "
            "| reference | mismatched vs reference |",
            "|---|---|---:|---|---:|---:|---|---:|"]
    for c in data["correctness"]:
        out.append(f"| {c['library']} | {c['config']} | {c['density']:g} | {c['same_input']} | "
                   f"{c.get('mismatched')} / {c.get('elements')} | {c.get('spikes')} ({c.get('spikes_ref')}) | "
                   f"{c.get('reference_variant', '—')} | {c.get('mismatched_vs_own_reference', '—')} |")
    return "\n".join(out)


def write_markdown(md: str, path: Path) -> None:
    """Replace the text between the table markers of ``path`` (append them if missing)."""
    text = path.read_text() if path.exists() else ""
    block = f"{MD_START}\n{md}\n{MD_END}"
    if MD_START in text and MD_END in text:
        text = re.sub(re.escape(MD_START) + r".*?" + re.escape(MD_END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one workload, two rounds: a smoke run (< 1 min)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 7, quick 2)")
    ap.add_argument("--reps", type=int, help="timed steps per library per round (default 5, quick 3)")
    ap.add_argument("--mem-reps", type=int, help="steps measured for memory (default 3, quick 1)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch/OMP/numba threads, the same for every library (default 1)")
    ap.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=list(LIBRARIES))
    ap.add_argument("--no-check-only", action="store_true",
                    help=f"skip the correctness-only variants {CHECK_ONLY}")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="what the ratios use: each worker's CPU time per step (default: steady on a "
                         "machine shared by more jobs than cores) or wall-clock time; both are recorded")
    ap.add_argument("--axonal-backend", default="auto",
                    help="axonal LIF backend: 'auto' (fused kernel when registered, the default) or 'scan' "
                         "(the reference Python scan)")
    ap.add_argument("--python", default=str(PEERS_PYTHON) if PEERS_PYTHON.exists() else sys.executable,
                    help="interpreter for the workers (default: the peers venv if present)")
    ap.add_argument("--out", type=Path,
                    help="JSON of raw results (default benchmarks/results/peers.json; runs/peers-quick.json with --quick)")
    ap.add_argument("--markdown", action="store_true", help="print the Markdown report")
    ap.add_argument("--write-md", nargs="?", const=ROOT / "BENCHMARKS.md", type=Path, metavar="PATH",
                    help="rewrite the results section of BENCHMARKS.md (or PATH)")
    ap.add_argument("--from-json", type=Path, nargs="+",
                    help="report earlier runs' JSON instead of running (several: their workloads "
                         "are merged, a later file's replacing an earlier one's; the first one's "
                         "header is used)")
    ap.add_argument("--configs", type=int, nargs="+", default=list(range(len(CONFIGS))),
                    help="indices of the configurations to run (default all: "
                         + "; ".join(f"{i}: {c.name}" for i, c in enumerate(CONFIGS)) + ")")
    a = ap.parse_args(argv)
    a.argv = list(sys.argv[1:] if argv is None else argv)
    a.rounds = a.rounds or (2 if a.quick else 7)
    a.reps = a.reps or (3 if a.quick else 5)
    a.mem_reps = a.mem_reps if a.mem_reps is not None else (1 if a.quick else 3)
    if a.out is None:
        # a quick run is a smoke test: its JSON goes to the git-ignored runs/ folder
        a.out = ROOT / "runs" / "peers-quick.json" if a.quick else HERE / "results" / "peers.json"
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.from_json:
        parts = [json.loads(p.read_text()) for p in args.from_json]
        data = parts[0]
        for extra in parts[1:]:  # a later file's workloads replace an earlier one's
            keys = {(r["library"], r["workload"]) for r in extra["results"]}
            data["results"] = [r for r in data["results"]
                               if (r["library"], r["workload"]) not in keys] + extra["results"]
            ckeys = {(c["library"], c["config"], c["density"]) for c in extra["correctness"]}
            data["correctness"] = [c for c in data["correctness"]
                                   if (c["library"], c["config"], c["density"]) not in ckeys]
            data["correctness"] += extra["correctness"]
            data["meta"].setdefault("merged", []).append(
                {k: extra["meta"].get(k) for k in ("date", "command", "rounds", "reps", "wall_s", "machine")})
    else:
        data = run(args)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data, indent=1))
        print(f"raw results: {args.out}")
    print()
    print(text_table(data))
    md = markdown(data)
    if args.markdown:
        print()
        print(md)
    if args.write_md:
        write_markdown(md, args.write_md)
        print(f"updated {args.write_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
