"""Data-parallel training on several processes with ``torch.distributed`` (launched by ``torchrun``).

What the Trainer gets from here (its hooks are small; everything distributed lives in this file):

* :func:`setup` - joins the process group that ``torchrun`` describes in the environment
  (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``): gloo on CPU, NCCL
  on CUDA (one GPU per local rank). Without ``WORLD_SIZE > 1`` it returns a one-process context
  whose methods do nothing, so single-process training is untouched.
* :meth:`Distributed.shard` - deterministic sharding of *any* dataset: the global batches are
  exactly those of one process (same ``make_loader`` order from ``(seed, epoch)``), and rank
  ``r`` of ``W`` takes samples ``r, r+W, r+2W, ...`` of each global batch.
* :meth:`Distributed.all_reduce_gradients` - one ``all_reduce`` per step of the flattened
  gradients weighted by each rank's count of loss terms, divided by the global count: the
  gradient of the mean loss over the *global* batch, as one process computes it (also for the
  last, short batch and for per-step targets with ignored entries). So ``data.batch_size`` is the
  global batch and the learning rate means what it means in one process: N processes with the
  same recipe follow the same trajectory up to float rounding.
* :attr:`Distributed.writer` - only rank 0 writes (metrics, plots, checkpoints; the writes were
  already atomic), the other ranks wait at :meth:`barrier`.
* :func:`restarted` - true in a process that ``torchrun --max-restarts`` started again after a
  failure; the Trainer then resumes from the run folder's ``last`` checkpoint.

Why not ``torch.nn.parallel.DistributedDataParallel``: it overlaps communication with the
backward pass in buckets, which pays off for large models on GPUs; for the small spiking models of
this library one fused all-reduce per step costs the same, and keeping the model unwrapped keeps
its hooks (``optimizer_groups``, ``start_epoch``, ``after_step``), its state-dict names and the
fused numba/Triton kernels exactly as in one process (the kernels never see the process group).

What is *not* identical to one process: anything random inside the forward pass draws from each
rank's own generator (dropout, Poisson encoders) and batch-norm statistics are per shard; all
ranks start from the same seed, so these runs are reproducible but not bitwise those of one process.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

__all__ = ["Distributed", "setup", "restarted", "launch_command", "env_rank"]


def env_rank() -> int:
    """This process's rank as torchrun set it (0 outside torchrun), before the group is joined."""
    return int(os.environ.get("RANK", "0") or 0)


def restarted() -> bool:
    """True in a worker that ``torchrun`` restarted after a failure (``--max-restarts``)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) > 0


@dataclass
class Distributed:
    """Where this process stands in the group: ``rank`` of ``world_size``; ``owns_group`` when
    :func:`setup` created the process group (and :meth:`close` destroys it)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False
    comm_seconds: float = field(default=0.0, repr=False)   # time spent in gradient all-reduce

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def writer(self) -> bool:
        """Rank 0 writes the run folder; the others only compute."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False

    # ------------------------------------------------------------------ data
    def shard(self, loader):
        """Rank ``r``'s part of each global batch of ``loader`` (a ``make_loader`` DataLoader):
        yields ``(x, y)``, or ``None`` where this rank's part is empty (a short last batch)."""
        if not self.active:
            yield from loader
            return
        from torch.utils.data import DataLoader

        # The very batches one process would see: the same batch sampler and generator driven by
        # the same DataLoader machinery (which also draws a base seed from the generator first).
        order = DataLoader(range(len(loader.dataset)), batch_sampler=loader.batch_sampler,
                           generator=loader.generator, collate_fn=list)
        for indices in order:
            mine = [int(i) for i in indices][self.rank::self.world_size]
            if not mine:
                yield None
                continue
            part = DataLoader(loader.dataset, batch_sampler=[mine], collate_fn=loader.collate_fn)
            yield next(iter(part))

    # ------------------------------------------------------------------ gradients and sums
    def all_reduce_gradients(self, params: list[torch.nn.Parameter], count: int) -> None:
        """Turn each rank's gradient of its *mean* loss over ``count`` terms into the gradient of
        the mean over all ranks' terms. A parameter without a gradient on every rank keeps none
        (as in one process, where the optimiser then skips it)."""
        if not self.active:
            return
        import time

        t0 = time.perf_counter()
        device = params[0].device if params else torch.device("cpu")
        pieces, flags = [], []
        for p in params:
            if p.grad is None or count == 0:   # nothing counted here (a NaN mean must not spread)
                pieces.append(torch.zeros(p.numel(), device=device, dtype=torch.float64))
                flags.append(0.0)
            else:
                pieces.append(p.grad.detach().reshape(-1).to(torch.float64) * count)
                flags.append(1.0)
        flat = torch.cat(pieces + [torch.tensor(flags + [float(count)], device=device, dtype=torch.float64)])
        dist.all_reduce(flat)
        total = flat[-1].item()
        present = flat[-1 - len(params):-1].tolist()
        offset = 0
        for i, p in enumerate(params):
            n = p.numel()
            if present[i] > 0:
                g = (flat[offset:offset + n] / total).to(p.dtype).view_as(p)
                if p.grad is None:
                    p.grad = g
                else:
                    p.grad.copy_(g)
            else:
                p.grad = None
            offset += n
        self.comm_seconds += time.perf_counter() - t0

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over the ranks (float64)."""
        if not self.active:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self._device())
        dist.all_reduce(t)
        return t.tolist()

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Give every rank rank 0's parameters and buffers (all start from the same seed anyway;
        this guards against any rank-dependent initialisation)."""
        if not self.active:
            return
        with torch.no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, src=0)

    def summary(self) -> dict:
        """What results.json records about the process group."""
        return {"world_size": self.world_size, "backend": dist.get_backend() if dist.is_initialized() else None,
                "gradient_all_reduce_s_rank0": self.comm_seconds}

    def _device(self) -> torch.device:
        return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def setup(device: str = "auto") -> tuple[Distributed, str]:
    """Join the process group described by torchrun's environment variables, if any.

    Returns the context and the device name this rank trains on (``cuda:LOCAL_RANK`` under NCCL).
    ``device`` is the recipe's ``training.device``. A process group someone else initialised is
    used as it is (and left open).
    """
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1 and not dist.is_initialized():
        return Distributed(), device
    if dist.is_available() is False:
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed; "
                           "train in one process (unset WORLD_SIZE)")
    local = int(os.environ.get("LOCAL_RANK", "0") or 0)
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        if torch.cuda.device_count() <= local:
            raise RuntimeError(f"local rank {local} needs GPU {local} but this machine has "
                               f"{torch.cuda.device_count()}; start at most that many processes per node "
                               "(--nproc-per-node) or train on CPU (training.device=cpu)")
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    owns = False
    if not dist.is_initialized():
        for var in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
            if var not in os.environ:
                raise RuntimeError(f"WORLD_SIZE={world} but {var} is not set: start the processes with "
                                   "torchrun (or axonal train --nproc N), which sets RANK, LOCAL_RANK, "
                                   "MASTER_ADDR and MASTER_PORT")
        timeout = datetime.timedelta(seconds=float(os.environ.get("AXONAL_DIST_TIMEOUT", "300")))
        backend = "nccl" if use_cuda else "gloo"
        attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)
        if attempt:
            # A restarted round: the store still holds the killed round's addresses under the
            # default keys, and the new processes would try to connect to them. Their own prefix
            # keeps each round apart.
            rank = int(os.environ["RANK"])
            agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true"
            store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world,
                                  is_master=not agent and rank == 0, timeout=timeout)
            dist.init_process_group(backend, store=dist.PrefixStore(f"axonal/attempt{attempt}", store),
                                    rank=rank, world_size=world, timeout=timeout)
        else:
            dist.init_process_group(backend, timeout=timeout)
        owns = True
    return Distributed(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local,
                       owns_group=owns), device


def launch_command(nproc: int, args: list[str], *, max_restarts: int = 0, port: int | None = None) -> list[str]:
    """The ``torchrun`` command line that runs ``python -m axonal ARGS`` in ``nproc`` local
    processes talking over the loopback interface (what ``axonal train --nproc N`` executes)."""
    import socket
    import sys

    if nproc < 1:
        raise ValueError(f"--nproc must be at least 1, got {nproc}")
    if port is None:
        with socket.socket() as s:   # a free port on the loopback interface
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    # c10d rendezvous (not the static --master-addr one): each restart round gets a fresh store, so
    # restarted workers never read the addresses of the killed round's processes
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}", "--nnodes=1",
            "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}", f"--max-restarts={max_restarts}",
            "-m", "axonal", *args]
