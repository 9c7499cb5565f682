"""What the operators tell a user in the task log: text results, transfer progress, amounts.

One place for it, so every operator shows a long text the same way (the start of it, then how
much more there is and where), and both upload paths report progress at the same cadence and in
the same words. Nothing here calls the API or needs Airflow.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

__all__ = [
    "DEFAULT_PROGRESS_INTERVAL",
    "LOG_TEXT_CHARS",
    "ProgressReader",
    "TransferProgress",
    "asset_done_line",
    "duration_text",
    "log_text_result",
    "media_length",
    "mib_text",
    "result_location",
]

#: How much of a text result is shown in the task log; the rest is in XCom or the output file.
LOG_TEXT_CHARS = 2000
#: Seconds between two progress lines of an upload (a line is also logged at 100%).
DEFAULT_PROGRESS_INTERVAL = 10.0

_MIB = 1024 * 1024


def mib_text(n: float) -> str:
    """Return a byte count in MiB with one decimal (``12.5 MiB``).

    :param n: the number of bytes.
    """
    return f"{n / _MIB:,.1f} MiB"


def duration_text(seconds: float) -> str:
    """Return a duration rounded to the second (``42 s``, ``3 min 05 s``, ``2 h 07 min``).

    :param seconds: the duration.
    """
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def media_length(duration: Any) -> str:
    """Return ``, 12.3 s of video`` for a known duration in seconds, else an empty string.

    :param duration: the duration the API reported (a number, or ``None``).
    """
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        return ""
    return f", {duration:,.1f} s of video"


def asset_done_line(asset: Mapping[str, Any]) -> str:
    """Return the line that says an asset is there: id, status, file, size and length.

    ``Asset 6650... is ready (clip.mp4, video, 12.4 MiB, 30.0 s)``; what the API did not report
    is left out.

    :param asset: the asset as JSON.
    """
    facts = [str(asset.get(k)) for k in ("filename", "file_type") if asset.get(k)]
    size = asset.get("size")
    if isinstance(size, int) and not isinstance(size, bool):
        facts.append(mib_text(size))
    duration = asset.get("duration")
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        facts.append(f"{duration:,.1f} s")
    details = f" ({', '.join(facts)})" if facts else ""
    return f"Asset {asset.get('id')} is {asset.get('status') or 'created'}{details}"


def result_location(output_path: Any = None, *, xcom_key: str = "return_value") -> str:
    """Say where the full result is: the output file when there is one, else the XCom key.

    :param output_path: the file the result was written to, if any.
    :param xcom_key: the XCom key the result is pushed under otherwise.
    """
    if output_path:
        return f"the output file {output_path}"
    return f"XCom ({xcom_key})"


def log_text_result(log: Any, heading: str, value: Any, *, where: str, limit: int = LOG_TEXT_CHARS) -> None:
    """Log a text result (or a JSON-native one, indented) up to ``limit`` characters.

    A longer result is cut at ``limit`` and followed by ``(N more characters in <where>)``, so
    the log shows what the result starts with and says where the whole of it is.

    :param log: the operator's logger.
    :param heading: what the text is (``Summary of video 123``); a colon and a new line follow.
    :param value: the text, or a JSON-native value shown as indented JSON.
    :param where: where the whole result is, e.g. :func:`result_location`'s answer.
    :param limit: the most characters shown; 0 logs only the heading and the size.
    """
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) <= limit:
        log.info("%s (%s characters):\n%s", heading, f"{len(text):,}", text)
        return
    log.info(
        "%s (%s characters):\n%s\n(%s more characters in %s)",
        heading,
        f"{len(text):,}",
        text[:limit],
        f"{len(text) - limit:,}",
        where,
    )


class TransferProgress:
    """Count the bytes of a transfer and log its progress at most once per ``interval``, and at 100%.

    A line reads ``Upload of clip.mp4: 42.0% (12.0 MiB of 28.6 MiB) at 3.1 MB/s, ETA 5 s``, with
    ``extra`` (chunk counts...) after the sizes. The clock is read once per :meth:`advance`; a line
    is formatted only when one is due, so counting costs nothing next to the transfer itself.

    :param log: the logger the lines go to.
    :param label: what is transferred (``Upload of clip.mp4``).
    :param total_bytes: the size of the transfer.
    :param interval: seconds between two lines.
    :param done_bytes: bytes already there before this run (resumed), shown but not in the rate.
    :param clock: the monotonic clock (a test may pass its own).
    """

    def __init__(
        self,
        log: Any,
        label: str,
        total_bytes: int,
        *,
        interval: float = DEFAULT_PROGRESS_INTERVAL,
        done_bytes: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.label = label
        self.total_bytes = total_bytes
        self.interval = interval
        self.resumed_bytes = done_bytes
        self.sent_bytes = 0
        self.clock = clock
        self.started = clock()
        self._last_log = self.started
        self._logged_complete = False

    @property
    def done_bytes(self) -> int:
        """Bytes there so far, resumed ones included."""
        return self.resumed_bytes + self.sent_bytes

    @property
    def elapsed(self) -> float:
        """Seconds since the transfer started."""
        return max(1e-9, self.clock() - self.started)

    @property
    def rate(self) -> float:
        """Bytes per second sent by this run (resumed bytes do not count)."""
        return self.sent_bytes / self.elapsed

    def advance(self, n: int, extra: Callable[[], str] | None = None) -> None:
        """Count ``n`` more bytes sent and log a line if one is due.

        :param n: the bytes just sent.
        :param extra: what to add after the sizes, asked only when a line is logged.
        """
        self.sent_bytes += n
        self.maybe_log(extra)

    def maybe_log(self, extra: Callable[[], str] | None = None) -> None:
        """Log a line if ``interval`` has passed since the last one, or if the transfer is complete.

        :param extra: what to add after the sizes, asked only when a line is logged.
        """
        complete = self.total_bytes > 0 and self.done_bytes >= self.total_bytes
        if complete:
            if self._logged_complete:
                return
            self._logged_complete = True
        elif self.clock() - self._last_log < self.interval:
            return
        self._last_log = self.clock()
        self.log_line(extra)

    def reopen(self) -> None:
        """Forget that 100% was logged (bytes were taken back: they are sent again)."""
        self._logged_complete = False

    def log_line(self, extra: Callable[[], str] | None = None) -> None:
        """Log the progress now.

        :param extra: what to add after the sizes.
        """
        rate = self.rate
        remaining = max(0, self.total_bytes - self.done_bytes)
        eta = "unknown" if remaining and rate <= 0 else duration_text(remaining / rate if remaining else 0)
        percent = min(100.0, 100.0 * self.done_bytes / self.total_bytes) if self.total_bytes else 100.0
        more = f", {extra()}" if extra is not None else ""
        self.log.info(
            "%s: %.1f%% (%s of %s%s) at %.1f MB/s, ETA %s",
            self.label,
            percent,
            mib_text(self.done_bytes),
            mib_text(self.total_bytes),
            more,
            rate / 1e6,
            eta,
        )


class ProgressReader:
    """A binary file that counts what is read from it into a :class:`TransferProgress`.

    Handed to httpx as a form's file, it is read 64 KiB at a time as the body goes out, so the
    count follows what was sent. Everything but ``read`` (``seek``, ``tell``, ``fileno``,
    ``close``) is the wrapped file's.

    :param handle: the opened file.
    :param progress: what counts the bytes.
    """

    def __init__(self, handle: IO[bytes], progress: TransferProgress) -> None:
        self._handle = handle
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        """Read from the file and count the bytes read.

        :param size: the most bytes to read (-1: all).
        """
        data = self._handle.read(size)
        if data:
            self._progress.advance(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> ProgressReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()
