import pytest

from voice.phone.tts.espeak import synthesize_ulaw


@pytest.fixture(scope="session")
def spoken_request() -> bytes:
    """A caller's sentence as telephone audio: one recording for every test (espeak-ng's output varies a little)."""
    return synthesize_ulaw("I'd like to book a teeth cleaning, on Monday.")
