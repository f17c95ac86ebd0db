import pytest

from tests.fakes.deepgram_api import FakeDeepgram


@pytest.fixture
def deepgram(settings):
    """The Deepgram fake, with the settings that point the SDK at it."""
    with FakeDeepgram() as api:
        settings.DEEPGRAM_API_KEY = "dg-test-key"
        settings.DEEPGRAM_URL = api.url
        settings.DEEPGRAM_FINAL_SECONDS = 0.5
        yield api
