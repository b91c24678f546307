"""NeuroCoreX-style emulator: protocol round trip and rejection, engine vs reference, float twin."""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from axonal import Sequential
from axonal.emulator import (
    CoreConfig, NeuroCoreLIF, NeuroCoreXEmulator, ProtocolError, decode, encode, run_engine,
    run_on_emulator, run_reference, to_core_config,
)
from axonal.emulator.protocol import OP_END, SYNC, _frame


@st.composite
def configs(draw, max_in=12, max_n=8):
    n_in = draw(st.integers(1, max_in))
    n = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**31 - 1))
    r = np.random.default_rng(seed)
    w_min = draw(st.integers(-128, 126))
    w_max = draw(st.integers(w_min + 1, 127))
    return CoreConfig(
        n_inputs=n_in, n_neurons=n,
        w_ff=r.integers(-128, 128, (n_in, n)) * (r.random((n_in, n)) < 0.7),
        w_aa=r.integers(-128, 128, (n, n)) * (r.random((n, n)) < 0.5),
        threshold=r.integers(1, 400, n), leak=r.integers(0, 20, n), refractory=r.integers(0, 5, n),
        bias=r.integers(-30, 60, n), stdp_mask=r.random((n_in + n, n)) < 0.5,
        syn_amp=draw(st.integers(0, 4)), syn_amp_ff=draw(st.integers(0, 4)),
        syn_decay_shift=draw(st.integers(0, 5)), dw_plus=draw(st.integers(0, 9)),
        dw_minus=draw(st.integers(0, 9)), window_pre=draw(st.integers(0, 10)),
        window_post=draw(st.integers(0, 10)), w_min=w_min, w_max=w_max,
        v_floor=draw(st.sampled_from([-(1 << 17), -500, 0])),
    )


@settings(max_examples=60, deadline=None)
@given(configs(max_in=128, max_n=100))
def test_round_trip(cfg):
    data = encode(cfg)
    assert decode(data) == cfg
    assert encode(decode(data)) == data


def test_small_stream_layout():
    cfg = CoreConfig(n_inputs=2, n_neurons=1, w_ff=[[3], [-2]], threshold=[100], leak=[1])
    data = encode(cfg)
    assert data[:4] == bytes([SYNC, 0x01, 16, 0])                       # CONFIG, L = 16
    neuron = data[21:21 + 15]
    assert neuron[:4] == bytes([SYNC, 0x20, 10, 0]) and neuron[4] == 0  # NEURON frame for id 0
    assert int.from_bytes(neuron[5:9], "little", signed=True) == 100
    w = data[36:36 + 8]
    assert w[:5] == bytes([SYNC, 0x00, 3, 0, 0]) and w[5:7] == bytes([3, 0xFE])
    assert (sum(w[1:7]) & 0xFF) == w[7]
    assert data[-5:] == bytes([SYNC, OP_END, 0, 0, 0xFF])


def _good():
    return encode(CoreConfig(n_inputs=3, n_neurons=2, w_ff=np.ones((3, 2)), threshold=[5, 6],
                             stdp_mask=np.ones((5, 2), bool)))


@pytest.mark.parametrize("mutate, offset, reason", [
    (lambda d: d[:-3], None, "truncated"),
    (lambda d: b"", 0, "empty"),
    (lambda d: d[:-5], None, "without an END"),
    (lambda d: bytes([0x5A]) + d[1:], 0, "sync"),
    (lambda d: d[:1] + bytes([0x33]) + d[2:], 1, "unknown opcode 0x33"),
    (lambda d: d[:20] + bytes([d[20] ^ 1]) + d[21:], 20, "checksum"),
    (lambda d: d + d[-5:], None, "after END"),
    (lambda d: d[21:], 0, "before CONFIG"),
    (lambda d: d[:21] + d, 21, "second CONFIG"),
])
def test_malformed_streams_rejected_with_offset_and_reason(mutate, offset, reason):
    with pytest.raises(ProtocolError, match=reason) as e:
        decode(mutate(_good()))
    assert isinstance(e.value.offset, int) and 0 <= e.value.offset <= len(_good()) + 21
    if offset is not None:
        assert e.value.offset == offset
    assert str(e.value).startswith(f"byte {e.value.offset}:")


def test_semantic_errors():
    head = _good()[:21]
    bad_id = _frame(0x20, bytes([7]) + (5).to_bytes(4, "little") + bytes(5))
    with pytest.raises(ProtocolError, match="neuron id 7 out of range 0..1") as e:
        decode(head + bad_id + _frame(OP_END, b""))
    assert e.value.offset == 21 + 4
    with pytest.raises(ProtocolError, match=r"neurons \[0, 1\] have no NEURON"):
        decode(head + _frame(OP_END, b""))
    zero_thr = _frame(0x20, bytes([0]) + (0).to_bytes(4, "little") + bytes(5))
    with pytest.raises(ProtocolError, match="threshold 0 out of range"):
        decode(head + zero_thr)
    with pytest.raises(ProtocolError, match="payload must be 4 bytes"):
        decode(head + _frame(0x00, bytes([0, 1, 2])))
    with pytest.raises(ProtocolError, match="beyond the 5 sources"):
        decode(head + _frame(0x60, bytes([0, 0xFF])))
    cfg_bytes = bytearray(head)
    cfg_bytes[6] = 101                                   # n_neurons = 101
    cfg_bytes[20] = (sum(cfg_bytes[1:20])) & 0xFF
    with pytest.raises(ProtocolError, match="n_neurons 101 out of range") as e:
        decode(bytes(cfg_bytes))
    assert e.value.offset == 6


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_fuzz_random_bytes_never_crash(data):
    try:
        decode(data)
    except ProtocolError as e:
        assert 0 <= e.offset <= len(data)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(_good()) - 1), st.integers(0, 255))
def test_fuzz_single_byte_corruption(pos, value):
    data = bytearray(_good())
    data[pos] = value
    try:
        cfg = decode(bytes(data))
        assert isinstance(cfg, CoreConfig)
    except ProtocolError as e:
        assert 0 <= e.offset <= len(data)


def test_config_validation():
    with pytest.raises(ValueError, match="n_neurons"):
        CoreConfig(n_inputs=1, n_neurons=101)
    with pytest.raises(ValueError, match="int8"):
        CoreConfig(n_inputs=1, n_neurons=1, w_ff=[[200]])
    with pytest.raises(ValueError, match="w_min < w_max"):
        CoreConfig(n_inputs=1, n_neurons=1, w_min=5, w_max=5)


# ----------------------------------------------------------------------------- engine semantics
@settings(max_examples=25, deadline=None)
@given(configs(), st.integers(1, 3), st.integers(1, 25), st.booleans(), st.integers(0, 2**31 - 1))
def test_engine_equals_reference(cfg, b, t, learn, seed):
    r = np.random.default_rng(seed)
    x = (r.random((t, b, cfg.n_inputs)) < 0.4).astype(np.uint8)
    cur = r.integers(-50, 200, (t, b, cfg.n_neurons))
    ref = run_reference(cfg, x, cur, learn)
    eng = run_engine(cfg, x, cur, learn)
    for a, e in zip(ref, eng):
        np.testing.assert_array_equal(a, e)
    if not learn:
        np.testing.assert_array_equal(ref[1], cfg.w_ff)


def test_known_trace_leak_threshold_refractory_saturation():
    cfg = CoreConfig(n_inputs=1, n_neurons=1, w_ff=[[10]], threshold=[25], leak=[2], refractory=[2])
    x = np.ones((8, 1, 1), np.uint8)
    out, _, _ = run_reference(cfg, x)
    # V: 8, 16, 24, 32 -> spike at t=3, refractory t=4,5, then 8, 16, 24 at t=6,7,8...
    assert out[:, 0, 0].tolist() == [0, 0, 0, 1, 0, 0, 0, 0]
    big = CoreConfig(n_inputs=1, n_neurons=1, w_ff=[[127]], syn_amp_ff=255, threshold=[(1 << 17) - 1])
    out, _, _ = run_reference(big, np.ones((5, 1, 1), np.uint8))
    # 127 * 255 = 32385 per step: 129540 after 4 steps; step 5 saturates at 2^17 - 1 = threshold
    assert out[:, 0, 0].tolist() == [0, 0, 0, 0, 1]
    floor = CoreConfig(n_inputs=1, n_neurons=1, leak=[7], threshold=[3], v_floor=-10, bias=[0],
                       w_ff=[[12]])
    x = np.array([0, 0, 0, 1], np.uint8)[:, None, None]
    out, _, _ = run_reference(floor, x)           # V: -7, -10 (floor), -10, -10 - 7 + 12 = -5
    assert out.sum() == 0
    floor2 = CoreConfig(n_inputs=1, n_neurons=1, leak=[7], threshold=[3], v_floor=-10, w_ff=[[21]])
    out, _, _ = run_reference(floor2, x)          # -10 - 7 + 21 = 4 >= 3 -> spike
    assert out[:, 0, 0].tolist() == [0, 0, 0, 1]


def test_stdp_window_and_bounds():
    # input 0 fires at t=0, the neuron is forced to fire at t=2 (pre 2 steps before post): LTP;
    # input 1 fires at t=4 (post 2 steps before): LTD. window 3 both ways.
    cfg = CoreConfig(n_inputs=3, n_neurons=1, w_ff=[[5], [5], [126]], threshold=[1000],
                     stdp_mask=np.array([[1], [1], [1], [0]], bool), dw_plus=2, dw_minus=3,
                     window_pre=3, window_post=3, w_min=0, w_max=127)
    x = np.zeros((6, 1, 3), np.uint8)
    x[0, 0, 0] = x[4, 0, 1] = 1
    x[1, 0, 2] = 1
    cur = np.zeros((6, 1, 1), np.int64)
    cur[2, 0, 0] = 2000
    out, w_ff, _ = run_reference(cfg, x, cur, learn=True)
    assert out[:, 0, 0].tolist() == [0, 0, 1, 0, 0, 0]
    assert w_ff[:, 0].tolist() == [7, 2, 127]           # +2, -3, +2 clipped at w_max
    out2, w2, _ = run_engine(cfg, x, cur, learn=True)
    np.testing.assert_array_equal(w2, w_ff)
    # outside the window: no change
    far = CoreConfig(**{**cfg.__dict__, "window_pre": 1, "window_post": 1})
    _, w3, _ = run_reference(far, x, cur, learn=True)
    assert w3[:, 0].tolist() == [5, 5, 127]
    # masked synapses never change
    off = CoreConfig(**{**cfg.__dict__, "stdp_mask": np.zeros((4, 1), bool)})
    _, w4, _ = run_reference(off, x, cur, learn=True)
    assert w4[:, 0].tolist() == [5, 5, 126]


def test_float_twin_matches_core_exactly_with_integer_parameters():
    g = torch.Generator().manual_seed(0)
    lin = torch.nn.Linear(16, 6, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.randint(-40, 60, (6, 16), generator=g).float())
    neuron = NeuroCoreLIF(6, threshold=150.0, leak=3.0, bias=2.0, refractory=2, v_floor=-100.0)
    model = Sequential(lin, neuron)
    x = (torch.rand(40, 5, 16, generator=g) < 0.3).float()
    float_out, _ = model(x)
    cfg = to_core_config(model, scale=1.0)
    assert cfg.v_floor == -100 and cfg.threshold.tolist() == [150] * 6
    core_out = run_on_emulator(model, x, scale=1.0)
    assert float_out.sum() > 10
    torch.testing.assert_close(core_out, float_out)


def test_emulator_api_learning_updates_config_and_rejects_bad_input():
    cfg = CoreConfig(n_inputs=4, n_neurons=2, w_ff=np.full((4, 2), 10), threshold=[30, 30],
                     stdp_mask=np.ones((6, 2), bool))
    emu = NeuroCoreXEmulator(encode(cfg))
    x = torch.ones(10, 3, 4)
    out = emu.run(x, learn=True)
    assert out.shape == (10, 3, 2) and isinstance(out, torch.Tensor)
    assert (emu.config.w_ff > 10).all()
    assert decode(emu.to_bytes()) == emu.config
    with pytest.raises(ValueError, match=r"\[T, B, n_inputs=4\]"):
        emu.run(torch.ones(10, 3, 5))
    with pytest.raises(ValueError, match="0/1"):
        emu.run(torch.full((2, 1, 4), 2.0))
    with pytest.raises(TypeError, match="NeuroCoreLIF"):
        to_core_config(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU()))


@st.composite
def framed_streams(draw):
    """Well-framed streams (right sync and checksums) with random opcodes, ids, lengths and
    payloads: they get past framing, so the parser's semantic checks are what is exercised."""
    n_in, n = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    cfg = CoreConfig(n_inputs=n_in, n_neurons=n, threshold=np.full(n, 10))
    head = encode(cfg)[:21]
    if draw(st.booleans()):                                    # a random CONFIG payload instead
        head = _frame(0x01, draw(st.binary(min_size=16, max_size=16)))
    frames = [head]
    ops = st.sampled_from([0x00, 0x01, 0x10, 0x20, 0x60, 0xFF, draw(st.integers(0, 255))])
    for _ in range(draw(st.integers(0, 6))):
        op = draw(ops)
        size = {0x00: 1 + n_in, 0x10: 1 + n, 0x20: 10, 0x60: 1 + (n_in + n + 7) // 8, 0x01: 16, 0xFF: 0}.get(op, 3)
        size = draw(st.sampled_from([size, size, max(0, size - 1), size + 1]))
        frames.append(_frame(op, draw(st.binary(min_size=size, max_size=size))))
    if draw(st.booleans()):
        frames.append(_frame(OP_END, b""))
    return b"".join(frames)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(framed_streams())
def test_fuzz_framed_streams_only_raise_protocol_errors(data):
    try:
        cfg = decode(data)
    except ProtocolError as e:                                  # anything else fails the test
        assert 0 <= e.offset < len(data) + 1 and e.reason
        return
    assert encode(cfg) is not None and decode(encode(cfg)) == cfg
    NeuroCoreXEmulator(data).run(np.zeros((2, 1, cfg.n_inputs), np.uint8))   # runs what it accepted


def test_core_neuron_follows_the_neuron_contract():
    from axonal.emulator import NeuroCoreLIF, NeuroCoreLIFParams
    from axonal.neurons import neuron_class
    from axonal.neurons.base import NeuronModule

    assert neuron_class("neurocore_lif") is NeuroCoreLIF and issubclass(NeuroCoreLIF, NeuronModule)
    assert "params" not in vars(NeuroCoreLIF)            # no override: learn rules come from Params
    assert NeuroCoreLIFParams.learn_rules() == {"threshold": "positive", "leak": "positive", "bias": "free"}
