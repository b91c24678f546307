"""The configuration byte protocol of the NeuroCoreX-style emulator, its encoder and its validating parser.

NeuroCoreX (Gautam et al., ORNL 2025, arXiv 2506.14138) is programmed over a UART with command
bytes 0x00 (feed-forward weights), 0x10 (recurrent weights), 0x20 (thresholds and refractory
periods) and 0x60 (STDP enable). This module defines a framed version of that protocol, which
the emulator parses exactly as hardware would receive it. The opcodes follow the board's; the
framing, checksum, CONFIG and END frames are ours.

Stream = frames, back to back. Every frame::

    offset  size  field
    0       1     sync byte 0xA5
    1       1     opcode
    2       2     payload length L, unsigned little-endian
    4       L     payload
    4+L     1     checksum: (opcode + both length bytes + all payload bytes) mod 256

Frames (all multi-byte integers little-endian; i8 = two's-complement byte):

    0x01 CONFIG   must be the first frame, exactly once. L = 16:
                  version u8 (=1), n_inputs u8 (1..128), n_neurons u8 (1..100),
                  syn_amp u8, syn_amp_ff u8, syn_decay_shift u8 (0..17; 0 = no decay),
                  dw_plus u8, dw_minus u8, window_pre u8 (0..127), window_post u8 (0..127),
                  w_min i8, w_max i8 (w_min < w_max), v_floor i32 (18-bit range)
    0x00 W_FF     L = 1 + n_inputs: neuron id u8, then the int8 weights from every input to it
    0x10 W_AA     L = 1 + n_neurons: neuron id u8, then the int8 weights from every neuron to it
    0x20 NEURON   L = 10: neuron id u8, threshold i32 (1 .. 2^17-1), leak u16 (0 .. 65535),
                  refractory u8 (steps), bias i16
    0x60 STDP     L = 1 + ceil((n_inputs + n_neurons) / 8): neuron id u8, then a bit mask over
                  its presynaptic sources, LSB first: bit k < n_inputs enables input k's synapse,
                  bit n_inputs + j the synapse from neuron j. Unused high bits must be 0.
    0xFF END      L = 0: must be the last frame; every neuron must have had a NEURON frame.

Weights and masks not sent are 0. A later frame for the same neuron replaces the earlier one, as
re-sending a command to the board does. :func:`decode` raises :class:`ProtocolError` with the byte
offset and the reason for every malformed input (truncation, bad sync, unknown opcode, bad
length, bad checksum, out-of-range id or value, missing or repeated CONFIG, bytes after END),
never another exception.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields

import numpy as np

__all__ = [
    "ProtocolError", "CoreConfig", "encode", "decode",
    "SYNC", "OP_CONFIG", "OP_W_FF", "OP_W_AA", "OP_NEURON", "OP_STDP", "OP_END",
    "MAX_INPUTS", "MAX_NEURONS", "V_MIN", "V_MAX",
]

SYNC = 0xA5
OP_W_FF, OP_CONFIG, OP_W_AA, OP_NEURON, OP_STDP, OP_END = 0x00, 0x01, 0x10, 0x20, 0x60, 0xFF
OP_NAMES = {OP_W_FF: "W_FF", OP_CONFIG: "CONFIG", OP_W_AA: "W_AA", OP_NEURON: "NEURON",
            OP_STDP: "STDP", OP_END: "END"}
VERSION = 1
MAX_INPUTS = 128
MAX_NEURONS = 100
V_MIN, V_MAX = -(1 << 17), (1 << 17) - 1   # 18-bit signed membrane / current range
_CONFIG_FMT = "<BBBBBBBBBBbbi"             # 16 bytes
_NEURON_FMT = "<BiHBh"                     # 10 bytes


class ProtocolError(ValueError):
    """A malformed configuration stream: ``offset`` (byte index) and ``reason``."""

    def __init__(self, offset: int, reason: str):
        self.offset, self.reason = offset, reason
        super().__init__(f"byte {offset}: {reason}")


def _arr(a, dtype, shape, name):
    a = np.asarray(a)
    if a.shape != shape:
        raise ValueError(f"CoreConfig.{name} must have shape {shape}, got {a.shape}")
    return np.ascontiguousarray(a.astype(dtype))


@dataclass
class CoreConfig:
    """Everything the core holds: sizes, synapse and STDP constants, weights, per-neuron values.

    Arrays: ``w_ff`` int8 [n_inputs, n_neurons] (from input k to neuron i), ``w_aa`` int8
    [n_neurons, n_neurons] (from neuron j to neuron i), ``threshold``, ``leak``,
    ``refractory``, ``bias`` int64 [n_neurons], ``stdp_mask`` bool [n_inputs + n_neurons,
    n_neurons] (rows: presynaptic sources, inputs first). Validated on construction.
    """

    n_inputs: int
    n_neurons: int
    w_ff: np.ndarray = None
    w_aa: np.ndarray = None
    threshold: np.ndarray = None
    leak: np.ndarray = None
    refractory: np.ndarray = None
    bias: np.ndarray = None
    stdp_mask: np.ndarray = None
    syn_amp: int = 1
    syn_amp_ff: int = 1
    syn_decay_shift: int = 0
    dw_plus: int = 1
    dw_minus: int = 1
    window_pre: int = 4
    window_post: int = 4
    w_min: int = -1
    w_max: int = 127
    v_floor: int = V_MIN
    used: set = field(default_factory=set, repr=False, compare=False)

    def __post_init__(self):
        if not (isinstance(self.n_inputs, (int, np.integer)) and 1 <= self.n_inputs <= MAX_INPUTS):
            raise ValueError(f"n_inputs must be an int in 1..{MAX_INPUTS}, got {self.n_inputs}")
        if not (isinstance(self.n_neurons, (int, np.integer)) and 1 <= self.n_neurons <= MAX_NEURONS):
            raise ValueError(f"n_neurons must be an int in 1..{MAX_NEURONS}, got {self.n_neurons}")
        n_in, n = int(self.n_inputs), int(self.n_neurons)
        self.n_inputs, self.n_neurons = n_in, n
        defaults = dict(w_ff=np.zeros((n_in, n)), w_aa=np.zeros((n, n)), threshold=np.full(n, 64),
                        leak=np.zeros(n), refractory=np.zeros(n), bias=np.zeros(n),
                        stdp_mask=np.zeros((n_in + n, n), bool))
        for name, d in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, d)
        for name in ("w_ff", "w_aa"):
            a = np.asarray(getattr(self, name))
            if a.size and (a.min() < -128 or a.max() > 127 or not np.all(a == np.round(a))):
                raise ValueError(f"CoreConfig.{name} must hold integers in -128..127 (int8)")
        self.w_ff = _arr(self.w_ff, np.int8, (n_in, n), "w_ff")
        self.w_aa = _arr(self.w_aa, np.int8, (n, n), "w_aa")
        self.stdp_mask = _arr(self.stdp_mask, bool, (n_in + n, n), "stdp_mask")
        limits = dict(threshold=(1, V_MAX), leak=(0, 65535), refractory=(0, 255), bias=(-32768, 32767))
        for name, (lo, hi) in limits.items():
            a = _arr(getattr(self, name), np.int64, (n,), name)
            if a.min() < lo or a.max() > hi:
                raise ValueError(f"CoreConfig.{name} must lie in {lo}..{hi}; got {a.min()}..{a.max()}")
            setattr(self, name, a)
        scalars = dict(syn_amp=(0, 255), syn_amp_ff=(0, 255), syn_decay_shift=(0, 17), dw_plus=(0, 255),
                       dw_minus=(0, 255), window_pre=(0, 127), window_post=(0, 127), w_min=(-128, 127),
                       w_max=(-128, 127), v_floor=(V_MIN, V_MAX))
        for name, (lo, hi) in scalars.items():
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not lo <= v <= hi:
                raise ValueError(f"CoreConfig.{name} must be an int in {lo}..{hi}, got {v!r}")
            setattr(self, name, int(v))
        if not self.w_min < self.w_max:
            raise ValueError(f"CoreConfig: need w_min < w_max, got {self.w_min}, {self.w_max}")

    def __eq__(self, other):
        if not isinstance(other, CoreConfig):
            return NotImplemented
        for f in fields(self):
            if not f.compare:
                continue
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray):
                if a.shape != b.shape or not np.array_equal(a, b):
                    return False
            elif a != b:
                return False
        return True

    def copy(self) -> "CoreConfig":
        kw = {f.name: (getattr(self, f.name).copy() if isinstance(getattr(self, f.name), np.ndarray)
                       else getattr(self, f.name)) for f in fields(self) if f.compare}
        return CoreConfig(**kw)

    def to_bytes(self) -> bytes:
        return encode(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> "CoreConfig":
        return decode(data)


# ----------------------------------------------------------------------------- encoding
def _frame(op: int, payload: bytes) -> bytes:
    n = len(payload)
    head = bytes([op, n & 0xFF, n >> 8])
    return bytes([SYNC]) + head + payload + bytes([(sum(head) + sum(payload)) & 0xFF])


def encode(cfg: CoreConfig) -> bytes:
    """The byte stream that programs ``cfg`` (CONFIG, then per neuron NEURON, W_FF, W_AA, STDP; END)."""
    out = [_frame(OP_CONFIG, struct.pack(
        _CONFIG_FMT, VERSION, cfg.n_inputs, cfg.n_neurons, cfg.syn_amp, cfg.syn_amp_ff,
        cfg.syn_decay_shift, cfg.dw_plus, cfg.dw_minus, cfg.window_pre, cfg.window_post,
        cfg.w_min, cfg.w_max, cfg.v_floor))]
    nbits = cfg.n_inputs + cfg.n_neurons
    for i in range(cfg.n_neurons):
        out.append(_frame(OP_NEURON, struct.pack(_NEURON_FMT, i, int(cfg.threshold[i]), int(cfg.leak[i]),
                                                 int(cfg.refractory[i]), int(cfg.bias[i]))))
        if cfg.w_ff[:, i].any():
            out.append(_frame(OP_W_FF, bytes([i]) + cfg.w_ff[:, i].astype(np.int8).tobytes()))
        if cfg.w_aa[:, i].any():
            out.append(_frame(OP_W_AA, bytes([i]) + cfg.w_aa[:, i].astype(np.int8).tobytes()))
        if cfg.stdp_mask[:, i].any():
            bits = np.packbits(cfg.stdp_mask[:, i], bitorder="little")
            assert len(bits) == (nbits + 7) // 8
            out.append(_frame(OP_STDP, bytes([i]) + bits.tobytes()))
    out.append(_frame(OP_END, b""))
    return b"".join(out)


# ----------------------------------------------------------------------------- decoding
def decode(data: bytes | bytearray | memoryview) -> CoreConfig:
    """Parse and validate a configuration stream; :class:`ProtocolError` on anything malformed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode expects bytes, got {type(data).__name__}")
    data = bytes(data)
    pos = 0
    cfg_fields = None
    arrays = None
    seen_neuron = None
    while True:
        start = pos
        if pos >= len(data):
            raise ProtocolError(pos, "stream ends without an END (0xFF) frame" if data else "empty stream")
        if data[pos] != SYNC:
            raise ProtocolError(pos, f"expected sync byte 0xA5, got 0x{data[pos]:02X}")
        if pos + 4 > len(data):
            raise ProtocolError(pos, f"truncated frame header: {len(data) - pos} of 4 bytes")
        op = data[pos + 1]
        length = data[pos + 2] | (data[pos + 3] << 8)
        if op not in OP_NAMES:
            raise ProtocolError(pos + 1, f"unknown opcode 0x{op:02X}; known: "
                                + ", ".join(f"0x{k:02X} {v}" for k, v in sorted(OP_NAMES.items())))
        end = pos + 4 + length
        if end + 1 > len(data):
            raise ProtocolError(pos, f"truncated {OP_NAMES[op]} frame: needs {length + 5} bytes, "
                                f"{len(data) - pos} left")
        payload = data[pos + 4:end]
        checksum = (op + data[pos + 2] + data[pos + 3] + sum(payload)) & 0xFF
        if data[end] != checksum:
            raise ProtocolError(end, f"bad checksum for {OP_NAMES[op]} frame: got 0x{data[end]:02X}, "
                                f"expected 0x{checksum:02X}")
        pos = end + 1
        name = OP_NAMES[op]
        if op == OP_CONFIG:
            if cfg_fields is not None:
                raise ProtocolError(start, "second CONFIG frame; CONFIG must appear exactly once")
            if length != 16:
                raise ProtocolError(start + 2, f"CONFIG payload must be 16 bytes, got {length}")
            (version, n_in, n, syn_amp, syn_amp_ff, shift, dwp, dwm, wpre, wpost, w_min, w_max,
             v_floor) = struct.unpack(_CONFIG_FMT, payload)
            if version != VERSION:
                raise ProtocolError(start + 4, f"unsupported protocol version {version}; this parser reads {VERSION}")
            if not 1 <= n_in <= MAX_INPUTS:
                raise ProtocolError(start + 5, f"n_inputs {n_in} out of range 1..{MAX_INPUTS}")
            if not 1 <= n <= MAX_NEURONS:
                raise ProtocolError(start + 6, f"n_neurons {n} out of range 1..{MAX_NEURONS}")
            if shift > 17:
                raise ProtocolError(start + 9, f"syn_decay_shift {shift} out of range 0..17")
            if wpre > 127:
                raise ProtocolError(start + 12, f"window_pre {wpre} out of range 0..127")
            if wpost > 127:
                raise ProtocolError(start + 13, f"window_post {wpost} out of range 0..127")
            if not w_min < w_max:
                raise ProtocolError(start + 14, f"w_min {w_min} must be below w_max {w_max}")
            if not V_MIN <= v_floor <= V_MAX:
                raise ProtocolError(start + 16, f"v_floor {v_floor} outside the 18-bit range {V_MIN}..{V_MAX}")
            cfg_fields = dict(n_inputs=n_in, n_neurons=n, syn_amp=syn_amp, syn_amp_ff=syn_amp_ff,
                              syn_decay_shift=shift, dw_plus=dwp, dw_minus=dwm, window_pre=wpre,
                              window_post=wpost, w_min=w_min, w_max=w_max, v_floor=v_floor)
            arrays = dict(w_ff=np.zeros((n_in, n), np.int8), w_aa=np.zeros((n, n), np.int8),
                          threshold=np.zeros(n, np.int64), leak=np.zeros(n, np.int64),
                          refractory=np.zeros(n, np.int64), bias=np.zeros(n, np.int64),
                          stdp_mask=np.zeros((n_in + n, n), bool))
            seen_neuron = np.zeros(n, bool)
            continue
        if cfg_fields is None:
            raise ProtocolError(start, f"{name} frame before CONFIG; the stream must start with CONFIG (0x01)")
        n_in, n = cfg_fields["n_inputs"], cfg_fields["n_neurons"]
        if op == OP_END:
            if length != 0:
                raise ProtocolError(start + 2, f"END payload must be empty, got {length} bytes")
            if pos != len(data):
                raise ProtocolError(pos, f"{len(data) - pos} bytes after END")
            missing = np.flatnonzero(~seen_neuron)
            if missing.size:
                raise ProtocolError(start, f"neurons {missing.tolist()[:10]} have no NEURON (0x20) frame")
            return CoreConfig(**cfg_fields, **arrays)
        expected = {OP_W_FF: 1 + n_in, OP_W_AA: 1 + n, OP_NEURON: 10, OP_STDP: 1 + (n_in + n + 7) // 8}[op]
        if length != expected:
            raise ProtocolError(start + 2, f"{name} payload must be {expected} bytes for "
                                f"n_inputs={n_in}, n_neurons={n}; got {length}")
        nid = payload[0]
        if nid >= n:
            raise ProtocolError(start + 4, f"{name}: neuron id {nid} out of range 0..{n - 1}")
        body = payload[1:]
        if op == OP_W_FF:
            arrays["w_ff"][:, nid] = np.frombuffer(body, np.int8)
        elif op == OP_W_AA:
            arrays["w_aa"][:, nid] = np.frombuffer(body, np.int8)
        elif op == OP_STDP:
            bits = np.unpackbits(np.frombuffer(body, np.uint8), bitorder="little")
            if bits[n_in + n:].any():
                raise ProtocolError(start + 5, f"STDP mask sets bits beyond the {n_in + n} sources")
            arrays["stdp_mask"][:, nid] = bits[:n_in + n].astype(bool)
        else:
            _, thr, leak, ref, bias = struct.unpack(_NEURON_FMT, payload)
            if not 1 <= thr <= V_MAX:
                raise ProtocolError(start + 5, f"NEURON {nid}: threshold {thr} out of range 1..{V_MAX}")
            arrays["threshold"][nid], arrays["leak"][nid] = thr, leak
            arrays["refractory"][nid], arrays["bias"][nid] = ref, bias
            seen_neuron[nid] = True
