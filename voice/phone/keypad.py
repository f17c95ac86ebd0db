"""Keys the caller presses: one at a time, or a number entered as one answer."""

import asyncio
from collections.abc import Callable

from voice.frames import DtmfDigits

# How long a pause ends a number being keyed in (without '#').
PAUSE_SECONDS = 3.0


class KeypadEntry:
    """Delivers each key at once, except while the agent waits for a number (a date of birth):
    then the keys pressed until '#' or a pause are one entry."""

    def __init__(self, deliver: Callable[[DtmfDigits], None], *, pause_seconds: float = PAUSE_SECONDS):
        self.deliver = deliver
        self.pause_seconds = pause_seconds
        self.digits = ""
        self._pause: asyncio.TimerHandle | None = None

    def press(self, digit: str, *, collecting: bool) -> None:
        if not collecting and not self.digits:
            self.deliver(DtmfDigits(digit))
            return
        if digit == "#":
            self.flush()
            return
        self.digits += digit
        self.close()
        self._pause = asyncio.get_running_loop().call_later(self.pause_seconds, self.flush)

    def flush(self) -> None:
        self.close()
        digits, self.digits = self.digits, ""
        if digits:
            self.deliver(DtmfDigits(digits))

    def close(self) -> None:
        if self._pause is not None:
            self._pause.cancel()
            self._pause = None
