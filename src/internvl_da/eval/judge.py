"""DriveLM's ChatGPT judge (`challenge/gpt_eval.py`) with a replay cache (evaluation.md §6.3-6.4).

The judge rates an answer against the ground truth on 0-100. Reference settings: model
gpt-3.5-turbo, temperature 0.6, max_tokens 3000, the system and user messages below (the user
message is the instruction, then the GT and the answer, concatenated with no separators), and
the score is `float(reply)`. Any OpenAI-compatible endpoint works (`base_url`); the API key is
read from an environment variable, never from a file or an argument.

Replay: every judged pair is appended (and flushed) to a JSONL cache as
`{"answer", "gt", "score"}` the moment its reply arrives, and the cache is read first. The
judge samples at temperature 0.6, so a pair asked twice may score differently; the cache
therefore keeps one line per call, and the n-th request for a pair in a run gets the pair's
n-th cached line. Scoring a file again with the same cache replays the judged run exactly,
without network. A reply that is not a number is an error naming the item (the reference
crashes deep inside a process pool, DriveLM#53).

GMAI-MMBench: `ChoiceJudge` is VLMEvalKit's LLM choice extraction, asked only when rule
matching finds no option (`eval/gmai.py`); its cache keeps `{"prompt", "reply"}` lines.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SYSTEM_MESSAGE = "an evaluator who rates my answer based on the correct answer"
INSTRUCTION = (
    "Rate my answer based on the correct answer out of 100, with higher scores indicating that "
    "the answer is closer to the correct answer, and you should be accurate to single digits "
    "like 62, 78, 41,etc. Output the number only"
)


class JudgeError(ValueError):
    """A judge reply or cache line that cannot be used; the message names the item or line."""


@dataclass(frozen=True)
class JudgeSettings:
    """The reference's request settings; `base_url` None means the OpenAI endpoint."""

    model: str = "gpt-3.5-turbo"
    temperature: float = 0.6
    max_tokens: int = 3000
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"


def user_message(answer: str, gt: str) -> str:
    """gpt_eval.py `forward`: instruction + GT + answer, no separators."""
    return INSTRUCTION + "This is the correct answer: " + gt + "This is my answer: " + answer


def messages(answer: str, gt: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_MESSAGE},
            {"role": "user", "content": user_message(answer, gt)}]


def parse_score(reply: Any, where: str) -> float:
    """`float(reply)` as the reference, but a non-number is a JudgeError naming `where`."""
    try:
        value = float(reply)
    except (TypeError, ValueError):
        raise JudgeError(f"{where}: judge reply {reply!r} is not a number") from None
    if not math.isfinite(value):
        raise JudgeError(f"{where}: judge reply {reply!r} is not a finite number")
    return value


class JudgeCache:
    """JSONL cache of judged requests, one line per call, appended and flushed on every new call.

    DriveLM's lines are `{"answer", "gt", "score"}` (KEYS -> VALUE); subclasses change the fields.
    """

    KEYS: tuple[str, ...] = ("answer", "gt")
    VALUE = "score"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._values: dict[tuple[str, ...], list] = {}
        if self.path.is_file():
            for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    key, value = self._parse(line, f"{self.path}:{number}")
                    self._values.setdefault(key, []).append(value)

    def _parse(self, line: str, where: str) -> tuple[tuple[str, ...], Any]:
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise JudgeError(f"{where}: invalid JSON: {exc.msg}") from None
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in self.KEYS):
            fields = " and ".join(repr(k) for k in self.KEYS)
            raise JudgeError(f"{where}: a cache line needs string fields {fields}")
        return tuple(row[k] for k in self.KEYS), self._value(row.get(self.VALUE), where)

    def _value(self, value: Any, where: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise JudgeError(f"{where}: field {self.VALUE!r} is not a number")
        return float(value)

    def get(self, key: tuple[str, ...], occurrence: int) -> Any:
        """The key's `occurrence`-th cached value (0-based), or None when not cached."""
        values = self._values.get(key, [])
        return values[occurrence] if occurrence < len(values) else None

    def add(self, key: tuple[str, ...], value: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            row = {**dict(zip(self.KEYS, key, strict=True)), self.VALUE: value}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._values.setdefault(key, []).append(value)


class ReplyCache(JudgeCache):
    """A choice judge's cache: `{"prompt", "reply"}` lines, the reply text as the judge gave it."""

    KEYS = ("prompt",)
    VALUE = "reply"

    def _value(self, value: Any, where: str) -> Any:
        if not isinstance(value, str):
            raise JudgeError(f"{where}: field 'reply' is not a string")
        return value


def make_client(settings: JudgeSettings):
    """An `openai.OpenAI` client when the key variable is set, else None (cache-only judge)."""
    key = os.environ.get(settings.api_key_env)
    if not key:
        return None
    from openai import OpenAI  # imported only for a live judge

    return OpenAI(api_key=key, base_url=settings.base_url)


class Judge:
    """Cache first, then the client (any object with `chat.completions.create`), else None.

    One Judge is one scoring run: it counts the requests per pair to replay the cache in order.
    """

    def __init__(self, cache: JudgeCache, client: Any = None,
                 settings: JudgeSettings | None = None) -> None:
        self.cache, self.client = cache, client
        self.settings = settings or JudgeSettings()
        self._asked: Counter = Counter()
        self.calls = 0  # live requests made by this run

    def describe(self) -> str:
        live = "live client" if self.client is not None else "cache only"
        return (f"{self.settings.model}, temperature {self.settings.temperature}, {live}, "
                f"cache {self.cache.path}")

    def ask(self, answer: str, gt: str, where: str) -> str:
        """One live request; returns the reply text."""
        response = self.client.chat.completions.create(
            model=self.settings.model, messages=messages(answer, gt),
            temperature=self.settings.temperature, max_tokens=self.settings.max_tokens)
        self.calls += 1
        return response.choices[0].message.content

    def score(self, answer: str, gt: str, where: str) -> float | None:
        """The 0-100 rating of one item; None when it is not cached and there is no client."""
        occurrence = self._asked[(answer, gt)]
        self._asked[(answer, gt)] += 1
        cached = self.cache.get((answer, gt), occurrence)
        if cached is not None or self.client is None:
            return cached
        value = parse_score(self.ask(answer, gt, where), where)
        self.cache.add((answer, gt), value)
        return value


class ChoiceJudge:
    """VLMEvalKit's choice extraction by an LLM (GMAI-MMBench, when rule matching finds no
    option): one user message, the reply text cached and replayed per prompt in order."""

    def __init__(self, cache: ReplyCache, client: Any = None,
                 settings: JudgeSettings | None = None) -> None:
        self.cache, self.client = cache, client
        self.settings = settings or JudgeSettings(model="gpt-3.5-turbo-0125", temperature=0.0,
                                                  max_tokens=256)
        self._asked: Counter = Counter()

    def describe(self) -> str:
        live = "live client" if self.client is not None else "cache only"
        return (f"LLM choice extraction: {self.settings.model}, temperature "
                f"{self.settings.temperature}, {live}, cache {self.cache.path}")

    def reply(self, prompt: str) -> str | None:
        """The judge's reply to `prompt`; None when it is not cached and there is no client."""
        occurrence = self._asked[prompt]
        self._asked[prompt] += 1
        cached = self.cache.get((prompt,), occurrence)
        if cached is not None or self.client is None:
            return cached
        response = self.client.chat.completions.create(
            model=self.settings.model, messages=[{"role": "user", "content": prompt}],
            temperature=self.settings.temperature, max_tokens=self.settings.max_tokens)
        text = response.choices[0].message.content or ""
        self.cache.add((prompt,), text)
        return text
