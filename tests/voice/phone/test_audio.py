"""The telephone codec and cutting audio into frames."""

import struct
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from voice.phone.audio import FRAME_BYTES, MULAW_SILENCE, frames, pcm_to_ulaw, ulaw_to_pcm


def test_mulaw_decode_is_bit_exact_for_all_256_inputs():
    every = bytes(range(256))
    assert ulaw_to_pcm(every) == audioop.ulaw2lin(every, 2)


def test_mulaw_encode_is_bit_exact_for_all_65536_inputs():
    every = struct.pack("<65536h", *range(-32768, 32768))
    assert pcm_to_ulaw(every) == audioop.lin2ulaw(every, 2)


def test_frames_are_20_ms_and_padded_with_silence():
    cut = frames(b"\x00" * 350)
    assert [len(f) for f in cut] == [FRAME_BYTES] * 3
    assert cut[-1].endswith(bytes([MULAW_SILENCE]) * (3 * FRAME_BYTES - 350))
