"""Offline speech-to-text: pocketsphinx 5 with its bundled en-us acoustic model, and language models
built at start-up from the practice's vocabulary.

A "free" model covers what callers open with; narrower ones (yes/no, a date or
time, a name) and a grammar of dates of birth are switched in when the
conversation expects such an answer. A narrow search hears every sound as one
of its answers ("sorry, could you say that again?" as "three a m"), so at the
end of such an utterance its audio is heard again with the free model: when
the expected answer fits far worse than that free hearing, the transcript is
the free hearing, marked not confident, and the conversation asks again
rather than act on it.

Audio is recognised in small pieces while the caller speaks, so little is left
to do when the turn ends. pocketsphinx holds the GIL while it decodes; the
pieces are kept small (about 100 ms of audio, a few milliseconds of work) so
no other call waits long. The second hearing is one piece of the utterance's
length (about 30 ms of work a second of audio): in worker processes (the
default) it holds up only that worker's other calls.
"""

import asyncio
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pocketsphinx
from pocketsphinx.lm import ArpaBoLM

from voice.phone.stt.base import SpeechToText, Transcript, Vocabulary
from voice.phone.stt.grammar import dob_jsgf, jsgf_words

DECODER_RATE = 16000  # what the en-us acoustic model was trained on
PIECE_BYTES = DECODER_RATE * 2 // 10  # 100 ms of 16-bit audio
MODELS = ("free", "yes_no", "date_time", "name")  # n-gram models, from the vocabulary's example sentences
GRAMMARS = {"dob": dob_jsgf}
SEARCHES = (*MODELS, *GRAMMARS)


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
    grammars = {name: grammar() for name, grammar in GRAMMARS.items()}
    # The files are named by what they are built from, so a changed grammar is never read from an older build.
    digest = hashlib.sha256(repr((vocabulary.cache_key, grammars)).encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"receptionist-stt-{digest}"
    folder.mkdir(exist_ok=True)
    dictionary = _cmudict()
    files = {}
    words: set[str] = set()
    for name in MODELS:
        sentences = [s for s in vocabulary.corpora.get(name, ()) if s]
        known = [" ".join(w for w in s.lower().split() if w in dictionary) for s in sentences]
        known = [s for s in known if s]
        words.update(w for s in known for w in s.split())
        files[name] = _write_once(folder / f"{name}.lm", lambda path: _write_model(known, path))
    for name, text in grammars.items():
        words.update(w for w in jsgf_words(text) if w in dictionary)
        files[name] = _write_once(folder / f"{name}.gram", lambda path: path.write_text(text))
    lines = "\n".join(line for w in sorted(words) for line in dictionary[w]) + "\n"
    files["dict"] = _write_once(folder / "words.dict", lambda path: path.write_text(lines))
    return files


def _write_once(path: Path, write: Callable[[Path], object]) -> str:
    """Writes the file unless it is there (its folder is named by what it is built from)."""
    if not path.exists():
        temporary = path.with_suffix(".tmp")
        write(temporary)
        os.replace(temporary, path)  # another process may be building the same file
    return str(path)


def _write_model(sentences: list[str], path: Path) -> None:
    model = ArpaBoLM(text="\n".join(sentences) + "\n", case="lower", add_start=True)
    model.compute()
    model.write_file(str(path))


# One pass, the flat-lexicon (fwdflat) search, frame by frame as the audio comes, with tighter beams than its
# defaults (1e-64, 7e-29); the phone-loop lookahead (pl_window) only serves the tree search, so it is off. The
# default two passes ran the fwdflat pass over the whole utterance at end_utt: 36-50 ms (up to 130 ms) after every
# turn, queued behind other calls' turns on the same worker; now about 1 ms. Measured on 83 sentences of the free
# model and 20 callers' sentences outside it, in Piper's and espeak-ng's voices: as many words right or more (in
# the model: Piper 15 wrong of 492 against 15, espeak-ng 176 against 182; outside it: 50 of 123 against 50, 62
# against 66) with 26-32 ms of CPU a second of audio instead of 37-43. A beam of 1e-40 saved a little more CPU and
# lost words outside the model (Piper 55 of 123). Figures in benchmarks/README.md, "Phone calls".
DECODER_OPTIONS = {"fwdtree": False, "fwdflat": True, "pl_window": 0, "fwdflatbeam": 1e-48, "fwdflatwbeam": 1e-20}


@dataclass(frozen=True)
class _Hearing:
    text: str
    score: int | None  # the path score, in the decoder's log units (base 1.0001); None when no path was found
    word_frames: int  # frames the words take, not silence or noise


# Calibrated on Piper's and espeak-ng's voices: answers and other sentences ("sorry, could you say that again?",
# "I don't know", "the filling") heard in each narrow search and again with the free model (the figures are in
# benchmarks/README.md). A narrow search's answer outscores the free hearing (its model gives its few words
# higher odds): by a median 7 units a frame for dates of birth; words forced into it score below the free hearing.
LEAD_PER_FRAME = 1
# Forced onto other words, a narrow search often hears a short answer in a long sentence and calls the rest silence.
WORDS_SHARE = 0.5


def _fits(expected: _Hearing, free: _Hearing, *, frames: int) -> bool:
    """Whether what a narrow search heard is an answer of its kind, not merely the nearest one to other words."""
    if expected.score is None or not expected.text:
        return False
    if expected.text == free.text or free.score is None:
        return True
    leads = expected.score - free.score >= LEAD_PER_FRAME * frames
    return leads and expected.word_frames >= WORDS_SHARE * free.word_frames


class Recogniser:
    """One call's decoder, synchronous: the part that can run in this process or in a worker process."""

    def __init__(self, files: dict[str, str]):
        self.files = files
        self.decoder = pocketsphinx.Decoder(samprate=DECODER_RATE, lm=files["free"], dict=files["dict"], logfn=os.devnull,
                                            **DECODER_OPTIONS)
        self.free = self.decoder.current_search()  # the free model is the decoder's own search, not a second copy
        self.logmath = self.decoder.get_logmath()
        self.in_utterance = False
        self.partial = ""
        self.audio = bytearray()  # a narrow search's utterance, to hear again with the free model

    def _activate(self, search: str) -> None:
        """Narrow searches are added when a turn needs them and removed after it (the dates-of-birth
        grammar alone is some 7 MB a decoder; adding it takes about 10 ms)."""
        name = self.free if search == "free" else search
        current = self.decoder.current_search()
        if current == name:
            return
        if name != self.free:
            if name in GRAMMARS:
                self.decoder.add_jsgf_file(name, self.files[name])
            else:
                self.decoder.add_lm_file(name, self.files[name])
        self.decoder.activate_search(name)
        if current != self.free:  # a narrow turn that never finished
            self.decoder.remove_search(current)

    def _narrow(self) -> bool:
        return self.decoder.current_search() != self.free

    def begin(self, search: str) -> None:
        if self.in_utterance:
            self.decoder.end_utt()
        self._activate(search)
        self.decoder.start_utt()
        self.in_utterance = True
        self.partial = ""
        self.audio.clear()

    def feed(self, pcm: bytes) -> str | None:
        """Decode a piece; the partial transcript when it changed."""
        self._process(pcm)
        hypothesis = self.decoder.hyp()
        text = hypothesis.hypstr if hypothesis else ""
        if text != self.partial:
            self.partial = text
            return text
        return None

    def finish(self, pcm: bytes) -> Transcript:
        if not self.in_utterance:
            return Transcript("")
        self._process(pcm)
        self.decoder.end_utt()
        self.in_utterance = False
        heard = self._hearing()
        if not self._narrow():
            return Transcript(heard.text)
        frames, narrow = self.decoder.n_frames(), self.decoder.current_search()
        free = self._hear_freely()
        self.decoder.remove_search(narrow)
        if _fits(heard, free, frames=frames):
            return Transcript(heard.text)
        return Transcript(free.text, confident=False)

    def _process(self, pcm: bytes) -> None:
        if not pcm:
            return
        self.decoder.process_raw(pcm, False, False)
        if self._narrow():
            self.audio += pcm

    def _hearing(self) -> _Hearing:
        hypothesis = self.decoder.hyp()
        if hypothesis is None:
            return _Hearing("", None, 0)
        # pocketsphinx 5 gives the score as a probability: its log is the score, comparable across searches.
        score = self.logmath.log(hypothesis.score) if hypothesis.score > 0 else None
        words = sum(s.end_frame - s.start_frame + 1 for s in self.decoder.seg() or () if s.word[0] not in "<[+")
        return _Hearing(hypothesis.hypstr, score, words)

    def _hear_freely(self) -> _Hearing:
        self.decoder.activate_search(self.free)
        self.decoder.start_utt()
        self.decoder.process_raw(bytes(self.audio), False, False)
        self.decoder.end_utt()
        self.audio.clear()
        return self._hearing()


class PocketsphinxSTT(SpeechToText):
    """Recognition on the event loop itself, in 100 ms pieces (a few ms of work each)."""

    name = "pocketsphinx"
    sample_rate = DECODER_RATE

    def __init__(self, *, vocabulary: Vocabulary):
        super().__init__(vocabulary=vocabulary)
        self._files = model_files(vocabulary)
        self._search = "free"
        self._pending = bytearray()
        self._started = False
        self._opening: asyncio.Future | None = None

    async def _open(self) -> None:
        self.recogniser = Recogniser(self._files)

    async def connect(self) -> None:
        """The decoder (some 13 MB) is made as the call starts, or at its first turn; a fallback
        recogniser whose call never needs it makes none."""
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._open())
        await asyncio.shield(self._opening)  # a turn that starts meanwhile waits for the same decoder

    async def _call(self, method: str, *args):
        return getattr(self.recogniser, method)(*args)

    def listen_for(self, expectation: str) -> None:
        self._search = expectation if expectation in SEARCHES else "free"

    async def begin(self) -> None:
        await self.connect()
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

    async def finish(self) -> Transcript:
        if not self._started:
            return Transcript("")
        piece = bytes(self._pending)
        self._pending.clear()
        self._started = False
        return await self._call("finish", piece)
