"""Training: the loop, checkpoints, early stopping, run folders (see ``trainer`` and ``checkpoint``).

    from axonal.train import Trainer
    results = Trainer("basic_motions", overrides=["training.seed=1"]).fit()
    print(results["test"]["accuracy"])
    model = load_model("runs/basic_motions", which="best")   # the trained model back, with its weights

``environment()`` (versions and git commit of a result) is :func:`axonal.provenance.environment`,
re-exported here; scripts that only need it may import ``axonal.provenance`` (a leaf module).
"""
from ..provenance import environment
from .checkpoint import CheckpointError, atomic_write, load_checkpoint, save_checkpoint
from .trainer import Trainer, epoch_seed, evaluate_checkpoint, load_model, resolve_checkpoint

__all__ = ["Trainer", "evaluate_checkpoint", "load_model", "resolve_checkpoint", "epoch_seed", "environment",
           "CheckpointError", "atomic_write", "save_checkpoint", "load_checkpoint"]
