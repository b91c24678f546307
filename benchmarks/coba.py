"""COBA network (4000 LIF, conductance synapses, 1 s at dt = 0.1 ms): axonal vs Brian2 vs BrainPy.

    bash benchmarks/setup_coba.sh                     # venvs .bench-venvs/brian2 and .bench-venvs/brainpy
    python -m benchmarks.coba                         # 3 rounds (seeds 0, 1, 2) of both presets
    python -m benchmarks.coba --write-md              # ... then rewrite the COBA table in BENCHMARKS.md
    python -m benchmarks.coba --quick                 # 100 ms, one round, one preset (smoke run)

Method. Every run is a fresh worker process (``coba_workers.py``) on its library's own
interpreter: axonal on this one, Brian2 2.9 (cython target, runtime mode) and BrainPy in
their venvs; a library whose venv is missing is skipped and reported as such. All are limited
to one thread. Per preset, each library first does one untimed warm-up run (it fills the
Brian2 cython cache, the numba cache and compiles nothing that a later run reuses for BrainPy,
whose JIT is per process); then ``rounds`` interleaved rounds (the library order rotates every
round; round r uses seed r for the connectivity and initial values). A worker times: *build*
(network construction, including Brian2's connect code), *first run* (the simulated second,
including any code generation, compilation or cache load and JIT), and *steady run* (a second
simulated second continuing the first, which reuses the compiled code: the pure simulation
cost). Rates and the CV of the ISIs are computed here from the first run's spikes with the
same function for every library (``axonal.metrics.spike_statistics``).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from axonal.metrics.spike_statistics import isi_cv
from axonal.reservoir.coba import load_coba_config
from axonal.train import environment

PYTHONS = {
    "axonal": Path(sys.executable),
    "brian2": ROOT / ".bench-venvs" / "brian2" / "bin" / "python",
    "brainpy": ROOT / ".bench-venvs" / "brainpy" / "bin" / "python",
}
MD_START = "<!-- coba-table:start -->"
MD_END = "<!-- coba-table:end -->"
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "NUMBA_NUM_THREADS": "1",
              "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


def run_worker(lib: str, cfg: dict, seed: int, timeout: float = 900.0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "spikes.npz"
        env = {**os.environ, **THREAD_ENV}
        t0 = time.perf_counter()
        # ``-m`` from the repository root: the axonal worker imports this checkout's axonal
        p = subprocess.run([str(PYTHONS[lib]), "-m", "benchmarks.coba_workers", lib, json.dumps(cfg),
                            str(seed), str(out)], capture_output=True, text=True, env=env,
                           timeout=timeout, cwd=ROOT)
        wall = time.perf_counter() - t0
        if p.returncode != 0 or not out.exists():
            raise RuntimeError(f"{lib} worker failed ({p.returncode}):\n{p.stderr[-3000:]}")
        d = np.load(out)
        n = cfg["n_exc"] + cfg["n_inh"]
        dur_s = cfg["duration_ms"] * 1e-3
        counts = np.bincount(d["neurons"], minlength=n)
        cv = isi_cv(d["times"], d["neurons"], n)
        return dict(library=lib, seed=seed, version=str(d["version"]), import_s=float(d["import_s"]),
                    build_s=float(d["build_s"]),
                    first_s=float(d["first_s"]), steady_s=float(d["second_s"]), process_s=wall,
                    rate_hz=float(counts.mean() / dur_s),
                    rate_exc_hz=float(counts[:cfg["n_exc"]].mean() / dur_s),
                    rate_inh_hz=float(counts[cfg["n_exc"]:].mean() / dur_s),
                    cv_isi=float(np.nanmean(cv)), synapses=int(d["nnz"]))


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    software = environment()
    return dict(cpu=cpu, cores=os.cpu_count(), load=os.getloadavg(), python=software["python"],
                commit=software["git_commit"], software=software,
                date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))


def run_all(presets, libraries, rounds, duration_ms, log=print) -> dict:
    avail = [lib for lib in libraries if PYTHONS[lib].exists()]
    missing = [lib for lib in libraries if lib not in avail]
    result = dict(machine=machine(), presets={}, missing=missing, rounds=rounds,
                  command=" ".join(["python", "-m", "benchmarks.coba", *sys.argv[1:]]))
    t_start = time.perf_counter()
    for preset in presets:
        cfg = load_coba_config(preset, {"duration_ms": float(duration_ms)}).to_dict()
        runs, warm = [], {}
        for lib in avail:
            try:
                warm[lib] = run_worker(lib, cfg, seed=100)
                log(f"[{preset}] warm-up {lib}: first {warm[lib]['first_s']:.2f} s, "
                    f"steady {warm[lib]['steady_s']:.2f} s, {warm[lib]['rate_hz']:.1f} Hz")
            except Exception as exc:  # noqa: BLE001 - report and go on with the others
                log(f"[{preset}] {lib} failed: {exc}")
                warm[lib] = {"error": str(exc)}
        ok = [lib for lib in avail if "error" not in warm[lib]]
        for r in range(rounds):
            order = ok[r % len(ok):] + ok[:r % len(ok)] if ok else []
            for lib in order:
                res = run_worker(lib, cfg, seed=r)
                runs.append(res)
                log(f"[{preset}] round {r} {lib}: build {res['build_s']:.2f} s, first {res['first_s']:.2f} s, "
                    f"steady {res['steady_s']:.2f} s, {res['rate_hz']:.1f} Hz, CV {res['cv_isi']:.2f}")
        result["presets"][preset] = dict(config=cfg, warmup=warm, runs=runs)
    result["minutes"] = (time.perf_counter() - t_start) / 60
    result["machine"]["load_end"] = os.getloadavg()
    return result


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        f"Measured {m['date']} at commit `{m['commit']}` on {m['cpu']} ({m['cores']} cores, load average "
        f"{', '.join(f'{x:.1f}' for x in m['load'])} at start, "
        f"{', '.join(f'{x:.1f}' for x in m.get('load_end', m['load']))} at end), Python {m['python']}, "
        f"one thread per library, {res['rounds']} rounds (seeds 0..{res['rounds'] - 1}); took "
        f"{res['minutes']:.1f} min.", "", f"Command: `{res['command']}`", ""]
    if res["missing"]:
        lines += [f"Not installed (skipped): {', '.join(res['missing'])}.", ""]
    for preset, p in res["presets"].items():
        runs = p["runs"]
        libs = list(dict.fromkeys(r["library"] for r in runs))
        versions = {r["library"]: r["version"] for r in runs}
        cfg = p["config"]
        lines += [f"**Preset `{preset}`** ({cfg['n_exc']}+{cfg['n_inh']} neurons, p = {cfg['p']}, "
                  f"{cfg['duration_ms']:.0f} ms at dt = {cfg['dt']} ms, bias {cfg['i_bias']} mV). "
                  "Times are medians over the rounds (min in parentheses); ratio = library / axonal "
                  "(above 1: axonal is faster).", "",
                  "| library | version | import s | build s | first run s (incl. codegen/JIT) | steady run s | "
                  "steady ratio | first-run ratio | rate Hz (mean ± sd over seeds) | E / I Hz | CV ISI |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        med = {lib: {k: statistics.median(r[k] for r in runs if r["library"] == lib)
                     for k in ("import_s", "build_s", "first_s", "steady_s")} for lib in libs}
        for lib in libs:
            rr = [r for r in runs if r["library"] == lib]
            rates = [r["rate_hz"] for r in rr]
            sd = statistics.stdev(rates) if len(rates) > 1 else 0.0
            mn = {k: min(r[k] for r in rr) for k in ("first_s", "steady_s")}
            base = med.get("axonal")
            ratio = (f"{med[lib]['steady_s'] / base['steady_s']:.2f}x" if base else "-")
            ratio1 = (f"{med[lib]['first_s'] / base['first_s']:.2f}x" if base else "-")
            lines.append(
                f"| {lib} | {versions[lib]} | {med[lib]['import_s']:.2f} | {med[lib]['build_s']:.2f} | "
                f"{med[lib]['first_s']:.2f} "
                f"({mn['first_s']:.2f}) | {med[lib]['steady_s']:.2f} ({mn['steady_s']:.2f}) | {ratio} | "
                f"{ratio1} | {statistics.mean(rates):.1f} ± {sd:.1f} | "
                f"{statistics.mean(r['rate_exc_hz'] for r in rr):.1f} / "
                f"{statistics.mean(r['rate_inh_hz'] for r in rr):.1f} | "
                f"{statistics.mean(r['cv_isi'] for r in rr):.2f} |")
        cold = ", ".join(f"{lib} {w['build_s'] + w['first_s']:.1f} s" for lib, w in p["warmup"].items()
                         if "error" not in w)
        proc = ", ".join(f"{lib} {statistics.median(r['process_s'] for r in runs if r['library'] == lib):.1f} s"
                         for lib in libs)
        lines += ["", f"Warm-up run (build + first run; for Brian2 this includes compiling its cython "
                  f"code unless already cached from an earlier session): {cold}. Whole worker process "
                  f"(interpreter start, imports, build, both runs, saving the spikes), median: {proc}.", ""]
    return "\n".join(lines)


def write_md(path: Path, text: str) -> None:
    md = path.read_text()
    block = f"{MD_START}\n{text}\n{MD_END}"
    if MD_START in md:
        pre, rest = md.split(MD_START, 1)
        md = pre + block + rest.split(MD_END, 1)[1]
    else:
        md = md.rstrip() + "\n\n" + block + "\n"
    path.write_text(md)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=["coba", "brian2_benchmark"])
    ap.add_argument("--libraries", nargs="+", default=["axonal", "brian2", "brainpy"],
                    choices=sorted(PYTHONS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--quick", action="store_true", help="100 ms, 1 round, preset coba")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "coba.json")
    ap.add_argument("--from-json", type=Path, help="re-render a saved result without running")
    ap.add_argument("--write-md", nargs="?", const=ROOT / "BENCHMARKS.md", type=Path, metavar="PATH")
    a = ap.parse_args(argv)
    if a.from_json:
        res = json.loads(a.from_json.read_text())
    else:
        if a.quick:
            a.presets, a.rounds, a.duration_ms = ["coba"], 1, 100.0
        res = run_all(a.presets, a.libraries, a.rounds, a.duration_ms)
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(res, indent=1))
    text = markdown(res)
    print(text)
    if a.write_md:
        write_md(a.write_md, text)


if __name__ == "__main__":
    main()
