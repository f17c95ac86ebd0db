"""Telephone audio: G.711 mu-law to and from 16-bit PCM, and resampling.

The mu-law codec is our own (tables built from the G.711 definition), so the
phone path does not depend on `audioop`, which Python 3.13 removed; it is
checked bit for bit against `audioop` in the tests. Resampling uses `audioop`
(`audioop-lts` on Python 3.13+).
"""

import sys
from array import array

if sys.version_info >= (3, 13):  # pragma: no cover - audioop-lts provides it
    import audioop
else:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

FRAME_MS = 20
SAMPLE_RATE = 8000
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000  # 160 mu-law bytes = one Twilio media message
MULAW_SILENCE = 0xFF

_BIAS = 0x84
_CLIP_14 = 8159
_SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def _decode_byte(byte: int) -> int:
    byte = ~byte & 0xFF
    magnitude = (((byte & 0x0F) << 3) + _BIAS) << ((byte & 0x70) >> 4)
    return _BIAS - magnitude if byte & 0x80 else magnitude - _BIAS


def _encode_sample(sample: int) -> int:
    """G.711 as the reference implementation does it: on the top 14 bits, biased, by segment."""
    value = sample >> 2
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, _CLIP_14) + (_BIAS >> 2)
    segment = next((i for i, end in enumerate(_SEGMENT_ENDS) if value <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


_DECODE = [_decode_byte(b) for b in range(256)]
# Each sample's two bytes, in the machine's order (as audioop gives them), for bytes.translate: no Python per sample.
_DECODE_BYTES = [array("h", [value]).tobytes() for value in _DECODE]
_DECODE_FIRST = bytes(pair[0] for pair in _DECODE_BYTES)
_DECODE_SECOND = bytes(pair[1] for pair in _DECODE_BYTES)
_ENCODE = bytes(_encode_sample(s - 65536 if s >= 32768 else s) for s in range(65536))


def ulaw_to_pcm(data: bytes) -> bytes:
    """mu-law bytes to 16-bit PCM in the machine's byte order (little-endian on x86 and ARM), one sample each.

    Two table look-ups in C for the whole piece, interleaved: a fifth of the time of a Python look-up per byte,
    for every 20 ms frame of every call (the turn detector and the recogniser each decode it).
    """
    if not isinstance(data, (bytes, bytearray)):
        data = bytes(data)  # a memoryview has no translate()
    pcm = bytearray(2 * len(data))
    pcm[0::2] = data.translate(_DECODE_FIRST)
    pcm[1::2] = data.translate(_DECODE_SECOND)
    return bytes(pcm)


def pcm_to_ulaw(pcm: bytes) -> bytes:
    """16-bit little-endian PCM to mu-law bytes."""
    samples = array("H")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":  # pragma: no cover
        samples.byteswap()
    return bytes(map(_ENCODE.__getitem__, samples))


def resample(pcm: bytes, from_rate: int, to_rate: int, state=None):
    """Resample 16-bit mono PCM; pass the returned state back in for the next piece of a stream."""
    if from_rate == to_rate:
        return pcm, state
    return audioop.ratecv(pcm, 2, 1, from_rate, to_rate, state)


def rms(pcm: bytes) -> int:
    return audioop.rms(pcm, 2)


def silence_ulaw(ms: int) -> bytes:
    return bytes([MULAW_SILENCE]) * (SAMPLE_RATE * ms // 1000)


def frames(ulaw: bytes, size: int = FRAME_BYTES) -> list[bytes]:
    """Cut mu-law audio into 20 ms frames, padding the last with silence."""
    if len(ulaw) % size:
        ulaw += bytes([MULAW_SILENCE]) * (size - len(ulaw) % size)
    return [ulaw[i : i + size] for i in range(0, len(ulaw), size)]
