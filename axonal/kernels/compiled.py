"""Former location of ``compile_step`` (before ``kernels/`` was arranged by concept), kept so
that code importing ``axonal.kernels.compiled`` keeps working: the code lives in
``axonal.kernels.compile_step.compiled``; import from ``axonal.kernels.compile_step`` (or
``axonal.kernels``) in new code."""
from .compile_step.compiled import CompiledNeuron, CompiledStep, compile_step  # noqa: F401

__all__ = ["compile_step", "CompiledStep", "CompiledNeuron"]
