"""Keys pressed one at a time, or a number keyed in as one answer."""

import asyncio

import pytest

from voice.frames import DtmfDigits
from voice.phone.keypad import KeypadEntry

pytestmark = pytest.mark.asyncio


async def test_a_key_is_delivered_at_once_when_no_number_is_awaited():
    got = []
    keypad = KeypadEntry(got.append)
    keypad.press("0", collecting=False)
    assert got == [DtmfDigits("0")]


async def test_a_number_is_one_entry_ended_by_hash_or_a_pause():
    got = []
    keypad = KeypadEntry(got.append, pause_seconds=0.05)
    for digit in "04121980#":
        keypad.press(digit, collecting=True)
    assert got == [DtmfDigits("04121980")]
    for digit in "0412":
        keypad.press(digit, collecting=True)
    keypad.press("1", collecting=False)  # the agent stopped waiting mid-number: still one entry
    assert got == [DtmfDigits("04121980")]
    await asyncio.sleep(0.1)
    assert got == [DtmfDigits("04121980"), DtmfDigits("04121")]
    keypad.close()
