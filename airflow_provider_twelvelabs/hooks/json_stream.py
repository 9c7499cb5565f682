"""Read one large array out of a JSON answer item by item, without loading the whole answer.

A finished embedding task of a four-hour video answers with ~35 MB of JSON, which ``json.loads``
turns into several times that in Python objects. :class:`JsonItemStream` reads the answer as it
arrives, hands out the items of one array (``data``, or ``video_embedding.segments``) one at a
time, and keeps every other field, so memory stays near one item plus one network chunk.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

__all__ = ["JsonItemStream", "JsonStreamError"]

_WHITESPACE = " \t\n\r"
_DECODER = json.JSONDecoder()
# Text kept before the read position is dropped once it grows past this many characters.
_COMPACT_AT = 1 << 16


class JsonStreamError(ValueError):
    """The answer is not the JSON document the stream expected (the only error a stream raises)."""


class JsonItemStream:
    """Iterate over the items of the array at ``path`` in a JSON object read chunk by chunk.

    Iterating yields the array's items in order. The object's other fields are collected in
    :attr:`fields` (nested objects along ``path`` keep their other fields too); fields after the
    array are there once iteration ended. An absent or ``null`` array yields nothing.

    :param chunks: the answer's bytes, in chunks of any size.
    :param path: the keys leading to the array, e.g. ``("data",)`` or ``("video_embedding", "segments")``.
    """

    def __init__(self, chunks: Iterable[bytes | memoryview], path: Sequence[str]) -> None:
        if not path:
            raise ValueError("path must name at least one key")
        self._chunks = iter(chunks)
        self._path = tuple(path)
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._started = False
        #: The fields outside the array, nested as in the answer.
        self.fields: dict[str, Any] = {}
        #: Whether the array was present and not ``null``.
        self.found = False
        #: How many items were handed out.
        self.count = 0

    # ------------------------------------------------------------------ buffer

    def _more(self) -> bool:
        """Read one more chunk into the buffer; ``False`` at the end of the answer."""
        if self._eof:
            return False
        if self._pos > _COMPACT_AT:
            self._buf = self._buf[self._pos :]
            self._pos = 0
        try:
            for chunk in self._chunks:
                text = self._decoder.decode(chunk)
                if text:
                    self._buf += text
                    return True
            self._buf += self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise JsonStreamError(f"the JSON answer is not UTF-8 ({exc.reason})") from None
        self._eof = True
        return False

    def _peek(self) -> str:
        """Skip whitespace and return the next character, or ``""`` at the end."""
        while True:
            buf, pos = self._buf, self._pos
            while pos < len(buf) and buf[pos] in _WHITESPACE:
                pos += 1
            self._pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self._more():
                return ""

    def _expect(self, char: str) -> None:
        found = self._peek()
        if found != char:
            raise _unexpected(repr(char), found)
        self._pos += 1

    def _value(self) -> Any:
        """Decode one complete JSON value at the read position."""
        self._peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._more():
                    continue
                if exc.pos >= len(self._buf):
                    raise JsonStreamError("the JSON answer ended in the middle of a value") from None
                raise JsonStreamError(f"the JSON answer is invalid: {exc.msg}") from None
            except RecursionError:
                raise JsonStreamError("the JSON answer is nested too deeply") from None
            # A number at the very end of the buffer may continue in the next chunk.
            if end == len(self._buf) and not self._eof and self._more():
                continue
            self._pos = end
            return value

    # ------------------------------------------------------------------ structure

    def __iter__(self) -> Iterator[Any]:
        if self._started:
            raise RuntimeError("a JsonItemStream can be iterated only once")
        self._started = True
        yield from self._object(self.fields, 0)
        if self._peek():
            raise JsonStreamError("unexpected content after the JSON answer")

    def _object(self, into: dict[str, Any], depth: int) -> Iterator[Any]:
        self._expect("{")
        if self._peek() == "}":
            self._pos += 1
            return
        while True:
            key = self._value()
            if not isinstance(key, str):
                raise JsonStreamError("expected a field name in the JSON answer")
            self._expect(":")
            if key == self._path[depth]:
                yield from self._on_path(into, key, depth)
            else:
                into[key] = self._value()
            following = self._peek()
            self._pos += 1
            if following == "}":
                return
            if following != ",":
                raise _unexpected("',' or '}'", following)

    def _on_path(self, into: dict[str, Any], key: str, depth: int) -> Iterator[Any]:
        first = self._peek()
        if first == "n":
            into[key] = self._value()
            return
        if depth + 1 < len(self._path):
            if first != "{":
                into[key] = self._value()
                return
            nested: dict[str, Any] = {}
            into[key] = nested
            yield from self._object(nested, depth + 1)
            return
        if first != "[":
            raise JsonStreamError(f"expected an array at {'.'.join(self._path)} in the JSON answer")
        self.found = True
        self._pos += 1
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            item = self._value()
            self.count += 1
            yield item
            following = self._peek()
            self._pos += 1
            if following == "]":
                return
            if following != ",":
                raise _unexpected("',' or ']'", following)


def _unexpected(wanted: str, found: str) -> JsonStreamError:
    return JsonStreamError(f"expected {wanted} in the JSON answer, found {found or 'its end'!r}")
