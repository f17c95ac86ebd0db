"""Offline speech-to-text: pocketsphinx 5 with its bundled en-us acoustic model, and language models
built at start-up from the practice's vocabulary.

A "free" model covers everything callers say; narrower ones (yes/no, a date
or time, a date of birth, a name) are switched in when the conversation
expects such an answer. Audio is recognised in small pieces while the caller
speaks, so little is left to do when the turn ends. pocketsphinx holds the GIL
while it decodes; the pieces are kept small (about 100 ms of audio, a few
milliseconds of work) so no other call waits long.
"""

import os
import re
import tempfile
import threading
from pathlib import Path

import pocketsphinx
from pocketsphinx.lm import ArpaBoLM

from voice.phone.stt.base import SpeechToText, Vocabulary

DECODER_RATE = 16000  # what the en-us acoustic model was trained on
PIECE_BYTES = DECODER_RATE * 2 // 10  # 100 ms of 16-bit audio
SEARCHES = ("free", "yes_no", "date_time", "dob", "name")


def _cmudict() -> dict[str, list[str]]:
    """The en-us pronunciations: some 40 MB as Python objects, so read only to build a vocabulary's files, not kept."""
    entries: dict[str, list[str]] = {}
    path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
    for line in path.read_text().splitlines():
        word = line.split(" ", 1)[0]
        entries.setdefault(re.sub(r"\(\d+\)$", "", word), []).append(line)
    return entries


_FILES: dict[str, dict[str, str]] = {}
# Calls that start together with a new vocabulary build its files once, not one dictionary each.
_FILES_LOCK = threading.Lock()


def model_files(vocabulary: Vocabulary) -> dict[str, str]:
    """Language model files for each search and one pronunciation dictionary, built once per vocabulary."""
    with _FILES_LOCK:
        if vocabulary.cache_key not in _FILES:
            _FILES[vocabulary.cache_key] = _build_model_files(vocabulary)
        return _FILES[vocabulary.cache_key]


def _build_model_files(vocabulary: Vocabulary) -> dict[str, str]:
    folder = Path(tempfile.gettempdir()) / f"receptionist-stt-{vocabulary.cache_key or 'default'}"
    folder.mkdir(exist_ok=True)
    dictionary = _cmudict()
    files = {}
    words: set[str] = set()
    for name in SEARCHES:
        sentences = [s for s in vocabulary.corpora.get(name, ()) if s]
        known = [" ".join(w for w in s.lower().split() if w in dictionary) for s in sentences]
        known = [s for s in known if s]
        words.update(w for s in known for w in s.split())
        path = folder / f"{name}.lm"
        if not path.exists():
            model = ArpaBoLM(text="\n".join(known) + "\n", case="lower", add_start=True)
            model.compute()
            temporary = path.with_suffix(".tmp")
            model.write_file(str(temporary))
            os.replace(temporary, path)  # another process may be building the same file
        files[name] = str(path)
    dict_path = folder / "words.dict"
    if not dict_path.exists():
        temporary = dict_path.with_suffix(".tmp")
        temporary.write_text("\n".join(line for w in sorted(words) for line in dictionary[w]) + "\n")
        os.replace(temporary, dict_path)
    files["dict"] = str(dict_path)
    return files


class Recogniser:
    """One call's decoder, synchronous: the part that can run in this process or in a worker process."""

    def __init__(self, files: dict[str, str]):
        self.decoder = pocketsphinx.Decoder(samprate=DECODER_RATE, lm=files["free"], dict=files["dict"], logfn=os.devnull)
        for name in SEARCHES[1:]:
            self.decoder.add_lm_file(name, files[name])
        self.decoder.add_lm_file("free", files["free"])
        self.in_utterance = False
        self.partial = ""

    def begin(self, search: str) -> None:
        if self.in_utterance:
            self.decoder.end_utt()
        if self.decoder.current_search() != search:
            self.decoder.activate_search(search)
        self.decoder.start_utt()
        self.in_utterance = True
        self.partial = ""

    def feed(self, pcm: bytes) -> str | None:
        """Decode a piece; the partial transcript when it changed."""
        self.decoder.process_raw(pcm, False, False)
        hypothesis = self.decoder.hyp()
        text = hypothesis.hypstr if hypothesis else ""
        if text != self.partial:
            self.partial = text
            return text
        return None

    def finish(self, pcm: bytes) -> str:
        if not self.in_utterance:
            return ""
        if pcm:
            self.decoder.process_raw(pcm, False, False)
        self.decoder.end_utt()
        self.in_utterance = False
        hypothesis = self.decoder.hyp()
        return hypothesis.hypstr if hypothesis else ""


class PocketsphinxSTT(SpeechToText):
    """Recognition on the event loop itself, in 100 ms pieces (a few ms of work each)."""

    sample_rate = DECODER_RATE

    def __init__(self, *, vocabulary: Vocabulary):
        super().__init__(vocabulary=vocabulary)
        self._files = model_files(vocabulary)
        self._search = "free"
        self._pending = bytearray()
        self._started = False
        self._open()

    def _open(self) -> None:
        self.recogniser = Recogniser(self._files)

    async def _call(self, method: str, *args):
        return getattr(self.recogniser, method)(*args)

    def listen_for(self, expectation: str) -> None:
        self._search = expectation if expectation in SEARCHES else "free"

    async def begin(self) -> None:
        self._pending.clear()
        self._started = True
        await self._call("begin", self._search)

    async def feed(self, pcm: bytes) -> str | None:
        if not self._started:
            await self.begin()
        self._pending += pcm
        if len(self._pending) < PIECE_BYTES:
            return None
        piece = bytes(self._pending)
        self._pending.clear()
        return await self._call("feed", piece)

    async def finish(self) -> str:
        if not self._started:
            return ""
        piece = bytes(self._pending)
        self._pending.clear()
        self._started = False
        return await self._call("finish", piece)
