"""A NeuroCoreX-style neuromorphic core in software (Gautam et al., ORNL 2025, arXiv 2506.14138).

``protocol`` is the documented configuration byte format (and its validating parser),
``core`` the bit-exact integer engine (pure-Python reference + numba), ``build`` the bridge from
an axonal model (quantisation to int8) and the ``NeuroCoreXEmulator`` that runs it.
"""
from .build import (
    NeuroCoreLIF,
    NeuroCoreLIFParams,
    NeuroCoreLIFState,
    NeuroCoreXEmulator,
    neurocore_lif_step,
    run_on_emulator,
    to_core_config,
)
from .core import run_engine, run_reference
from .protocol import CoreConfig, ProtocolError, decode, encode

__all__ = [
    "CoreConfig", "ProtocolError", "decode", "encode", "run_engine", "run_reference",
    "NeuroCoreLIF", "NeuroCoreLIFParams", "NeuroCoreLIFState", "neurocore_lif_step",
    "NeuroCoreXEmulator", "run_on_emulator", "to_core_config",
]
