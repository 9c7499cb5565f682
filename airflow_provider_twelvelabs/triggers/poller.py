"""The shared poller behind the TwelveLabs resource trigger.

A triggerer runs up to 1,000 triggers in one event loop against one account's rate limit. Polling
each resource on its own does not fit (1,000 tasks polled every 5 s is 12,000 requests a minute),
so the triggers of one connection share the work:

* one :class:`ResourcePoller` per ``(connection, kind, index)`` and event loop. Where a list
  endpoint can report on many resources per call, it asks the list about every waiting resource at
  once (assets by id, up to 50 per call; indexed assets and legacy tasks by final status, newest
  update first, reading only what changed since the last pass) and wakes each trigger whose
  resource is final. Other kinds are polled one by one, each on its own :class:`PollPolicy`;
* one :class:`RateBudget` per connection and event loop, shared by all its pollers: it spaces
  calls so that the ``X-Ratelimit-Remaining`` budget lasts until ``X-Ratelimit-Reset`` (keeping a
  reserve for the account's other clients), and pauses every poller of the connection on a 429 for
  as long as the API asks;
* the hook's one ``httpx.AsyncClient`` per connection and event loop.

A trigger registers a :class:`Waiter`, awaits its future and unregisters when it ends or is
cancelled; a poller stops when no trigger waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsAPIError,
    TwelveLabsAuthenticationError,
    TwelveLabsBadRequestError,
    TwelveLabsNotFoundError,
    TwelveLabsRateLimitError,
    TwelveLabsServerError,
    TwelveLabsTransportError,
)
from airflow_provider_twelvelabs.waiting import ListMode, PollPolicy, ResourceKind, failure_reason, get_kind

if TYPE_CHECKING:
    from airflow_provider_twelvelabs.hooks.twelvelabs import RateLimitInfo, TwelveLabsHook

__all__ = ["RateBudget", "ResourcePoller", "Waiter", "get_poller"]

T = TypeVar("T")
log = logging.getLogger(__name__)

#: In list mode each resource is still fetched on its own now and then, in case it does not exist
#: or vanished (such resources never show up in a list of finished ones) or the list missed it:
#: every 2 s times the number of waiting resources (so these checks stay under 30 calls a minute),
#: at least the poll policy's longest interval and at most this.
SAFETY_CHECK_SECONDS = 600.0
SAFETY_CHECK_SECONDS_PER_RESOURCE = 2.0
#: Items updated up to this long before the previous pass's newest item are read again, against
#: clock skew and replication lag between the API's nodes.
WATERMARK_OVERLAP_SECONDS = 10.0
#: Pages read in one incremental pass at most; the rest waits for the next pass.
MAX_PAGES_PER_PASS = 20
#: Concurrent requests per connection and event loop.
MAX_CONCURRENT_REQUESTS = 8


@dataclass
class Waiter:
    """One trigger waiting for one resource.

    :param resource_id: the resource id.
    :param policy: the trigger's poll policy.
    :param max_errors: consecutive transient errors tolerated before giving up.
    """

    resource_id: str
    policy: PollPolicy
    max_errors: int
    future: asyncio.Future[dict[str, Any]] = field(repr=False)


@dataclass
class _Entry:
    """What the poller knows about one waited resource (shared by its waiters)."""

    resource_id: str
    waiters: list[Waiter]
    next_check: float
    attempts: int = 0
    errors: int = 0
    last_status: str | None = None
    covered: bool = False
    checking: bool = False
    #: The first waiter's poll policy, kept for when every waiter left while a check was in flight.
    first_policy: PollPolicy = field(default_factory=PollPolicy)

    @property
    def policy(self) -> PollPolicy:
        return self.waiters[0].policy if self.waiters else self.first_policy

    @property
    def max_errors(self) -> int:
        return max((w.max_errors for w in self.waiters), default=1)


class RateBudget:
    """Paces the calls of one connection in one event loop under the account's rate limit.

    :param reserve: the share of each window's budget left to the account's other clients.
    """

    def __init__(self, reserve: float = 0.1) -> None:
        self.reserve = reserve
        self._spacing = 0.0
        self._next_at = 0.0
        self._blocked_until = 0.0
        self._throttle_streak = 0
        self.calls = 0
        self.throttled = 0

    def observe(self, info: RateLimitInfo) -> None:
        """Adjust the pace to an answer's ``X-Ratelimit-*`` headers.

        :param info: the rate-limit state the answer reported.
        """
        if info.throttled or info.remaining is None or info.reset is None:
            return
        self._throttle_streak = 0
        window_left = max(info.reset - time.time(), 0.5)
        keep = math.ceil((info.limit or 0) * self.reserve)
        usable = info.remaining - keep
        if usable <= 0:
            self._spacing = 0.0
            self._blocked_until = max(self._blocked_until, time.monotonic() + window_left)
        else:
            self._spacing = window_left / usable

    def throttle(self, retry_after: float | None) -> float:
        """Pause every call of the connection after a 429; return the pause in seconds.

        :param retry_after: what the API asked for, if anything.
        """
        self.throttled += 1
        self._throttle_streak += 1
        pause = retry_after if retry_after else min(60.0, 2.0 ** (self._throttle_streak - 1))
        self._blocked_until = max(self._blocked_until, time.monotonic() + pause)
        return pause

    def pause(self, seconds: float) -> None:
        """Pause every call of the connection (after a server-side failure).

        :param seconds: how long.
        """
        self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)

    async def acquire(self) -> None:
        """Wait for this call's turn."""
        while True:
            now = time.monotonic()
            start = max(now, self._next_at, self._blocked_until)
            if start <= now:
                self._next_at = now + self._spacing
                self.calls += 1
                return
            # Several callers may wake together; only the first goes, the others wait their turn.
            await asyncio.sleep(start - now)


class _Connection:
    """What every poller of one connection in one event loop shares."""

    def __init__(self, conn_id: str) -> None:
        self.conn_id = conn_id
        self.budget = RateBudget()
        self.hook: TwelveLabsHook = self._new_hook()
        self.semaphore = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)

    def _new_hook(self) -> TwelveLabsHook:
        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

        # No hook-level retries: the poller counts errors and honours 429s itself, and a retry
        # loop inside one request would hold up every trigger of the connection. Every answer's
        # rate-limit headers pace the connection's budget.
        return TwelveLabsHook(
            twelvelabs_conn_id=self.conn_id, max_retries=0, on_rate_limit=self.budget.observe
        )

    def reload(self) -> None:
        """Read the connection again on the next call (after the API refused its key)."""
        self.hook = self._new_hook()


class _Registry:
    def __init__(self) -> None:
        self.connections: dict[str, _Connection] = {}
        self.pollers: dict[tuple[Any, ...], ResourcePoller] = {}


_registries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Registry] = weakref.WeakKeyDictionary()


def _registry() -> _Registry:
    loop = asyncio.get_running_loop()
    registry = _registries.get(loop)
    if registry is None:
        registry = _registries[loop] = _Registry()
    return registry


def get_poller(conn_id: str, kind: str, index_id: str | None, *, private_key: Any = None) -> ResourcePoller:
    """Return the running event loop's poller of ``(conn_id, kind, index_id)``, creating it if needed.

    :param conn_id: the TwelveLabs connection id.
    :param kind: the resource kind.
    :param index_id: the index, or ``None``.
    :param private_key: when set, a poller of its own (not shared with other triggers).
    """
    registry = _registry()
    connection = registry.connections.get(conn_id)
    if connection is None:
        connection = registry.connections[conn_id] = _Connection(conn_id)
    key = (conn_id, kind, index_id, private_key)
    poller = registry.pollers.get(key)
    if poller is None:
        poller = registry.pollers[key] = ResourcePoller(connection, get_kind(kind), index_id, key)
    return poller


def connection_budget(conn_id: str) -> RateBudget | None:
    """Return the rate budget of a connection in the running event loop, if it has one (stats).

    :param conn_id: the TwelveLabs connection id.
    """
    connection = _registry().connections.get(conn_id)
    return connection.budget if connection else None


class _Gone(Exception):
    """Nobody waits any more for what a call was about."""


class ResourcePoller:
    """Polls the resources of one kind (and index) that triggers of one connection wait for.

    :param connection: the shared hook, budget and request limit of the connection.
    :param kind: the resource kind.
    :param index_id: the index, or ``None``.
    :param key: the registry key, to unregister when idle.
    """

    def __init__(
        self, connection: _Connection, kind: ResourceKind, index_id: str | None, key: tuple[Any, ...]
    ) -> None:
        self.connection = connection
        self.kind = kind
        self.index_id = index_id
        self.key = key
        self.entries: dict[str, _Entry] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._list_enabled = kind.list_source is not None
        self._list_next_at = 0.0
        self._quiet_passes = 0
        self._watermark: float | None = None
        self._pause_errors = 0
        #: Calls made by this poller (single-resource GETs and list pages), for stats and tests.
        self.calls = 0
        self.list_calls = 0

    # ------------------------------------------------------------------ registration

    def register(self, resource_id: str, policy: PollPolicy, max_errors: int) -> Waiter:
        """Start waiting for a resource; the returned waiter's future gets the outcome.

        :param resource_id: the resource id.
        :param policy: the poll policy of the trigger.
        :param max_errors: consecutive transient errors tolerated.
        """
        loop = asyncio.get_running_loop()
        waiter = Waiter(resource_id, policy, max_errors, loop.create_future())
        entry = self.entries.get(resource_id)
        if entry is None:
            now = time.monotonic()
            # Kinds with a list are first checked by the next list pass, the others at once.
            first = math.inf if self._list_enabled else now
            self.entries[resource_id] = _Entry(resource_id, [waiter], next_check=first, first_policy=policy)
            self._quiet_passes = 0
            self._list_next_at = min(self._list_next_at, now)
        else:
            entry.waiters.append(waiter)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name=f"twelvelabs-poller-{self.kind.name}")
        self._wake.set()
        return waiter

    def unregister(self, waiter: Waiter) -> None:
        """Stop waiting (the trigger finished or was cancelled).

        :param waiter: what :meth:`register` returned.
        """
        entry = self.entries.get(waiter.resource_id)
        if entry is not None and waiter in entry.waiters:
            entry.waiters.remove(waiter)
            if not entry.waiters:
                del self.entries[waiter.resource_id]
        if not waiter.future.done():
            waiter.future.cancel()
        if not self.entries:
            self._wake.set()

    def last_status(self, resource_id: str) -> str | None:
        """Return the last status seen for a resource, if any.

        :param resource_id: the resource id.
        """
        entry = self.entries.get(resource_id)
        return entry.last_status if entry else None

    async def refresh(self, resource_id: str) -> None:
        """Fetch one waited resource now (used at the deadline to report its last status).

        :param resource_id: the resource id.
        """
        entry = self.entries.get(resource_id)
        if entry is not None and not entry.checking:
            await self._check_one(entry)

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        try:
            while self.entries:
                now = time.monotonic()
                if self._list_enabled and now >= self._list_next_at:
                    await self._list_pass()
                    self._list_next_at = time.monotonic() + self._list_delay()
                now = time.monotonic()
                due = [e for e in self.entries.values() if e.next_check <= now and not e.checking]
                if due:
                    await asyncio.gather(*(self._check_one(e) for e in due))
                if not self.entries:
                    break
                wake_at = min(e.next_check for e in self.entries.values())
                if self._list_enabled:
                    wake_at = min(wake_at, self._list_next_at)
                self._wake.clear()
                timeout = max(0.0, wake_at - time.monotonic())
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        except Exception as exc:
            # A bug here must not leave triggers hanging until their deadline.
            log.exception("TwelveLabs %s poller failed", self.kind.label)
            for entry in list(self.entries.values()):
                self._resolve(entry, {"status": "error", "message": f"poller failed: {exc!r}"})
        finally:
            registry = _registries.get(asyncio.get_running_loop())
            if registry is not None and registry.pollers.get(self.key) is self and not self.entries:
                del registry.pollers[self.key]

    def _safety_delay(self, entry: _Entry) -> float:
        """How long until a list-mode resource is fetched on its own again."""
        spread = SAFETY_CHECK_SECONDS_PER_RESOURCE * len(self.entries)
        return min(SAFETY_CHECK_SECONDS, max(entry.policy.max_interval, spread))

    def _cover(self, entry: _Entry) -> None:
        """Note that a list pass accounted for ``entry``; schedule its first safety check."""
        entry.covered = True
        if entry.next_check == math.inf:
            entry.next_check = time.monotonic() + self._safety_delay(entry)

    def _list_delay(self) -> float:
        """How long until the next list pass (the API's rate budget may stretch it further).

        One pass reports on every waiting resource, so the poll policy's interval is shared
        among them: many waiting resources are listed at the policy's quickest pace, a single one
        no more often than it would be polled on its own.
        """
        policy = min(
            (e.policy for e in self.entries.values()), key=lambda p: p.interval, default=PollPolicy()
        )
        per_resource = policy.delay(self._quiet_passes) / max(1, len(self.entries))
        return min(policy.max_interval, max(policy.interval, per_resource))

    # ------------------------------------------------------------------ calls and errors

    async def _call(self, make: Callable[[], Awaitable[T]], entries: list[_Entry]) -> T:
        """Make one API call under the connection's budget; 429s wait and try again.

        :raises _Gone: when nobody waits any more for the resources concerned.
        :raises Exception: any other error of the call, for the caller to classify.
        """
        budget = self.connection.budget
        async with self.connection.semaphore:
            while True:
                if not any(e.resource_id in self.entries for e in entries):
                    raise _Gone
                await budget.acquire()
                self.calls += 1
                try:
                    result = await make()
                except TwelveLabsRateLimitError as exc:
                    pause = budget.throttle(exc.retry_after)
                    log.info("TwelveLabs rate limit reached; pausing polls for %.1f s", pause)
                    continue
                self._pause_errors = 0
                return result

    def _on_error(self, exc: BaseException, entries: list[_Entry]) -> None:
        """Count a transient error against ``entries`` or fail them on a permanent one."""
        transient = isinstance(exc, (TwelveLabsServerError, TwelveLabsTransportError)) or (
            isinstance(exc, TwelveLabsAPIError) and exc.status in (408, 409, 425)
        )
        if transient:
            self._pause_errors += 1
            pause = min(30.0, 2.0 ** (self._pause_errors - 1))
            self.connection.budget.pause(pause)
            for entry in entries:
                entry.errors += 1
                if entry.errors > entry.max_errors:
                    self._resolve(
                        entry,
                        {
                            "status": "error",
                            "message": f"{entry.errors} consecutive errors while polling; last: {exc}",
                        },
                    )
            log.warning("TwelveLabs %s poll failed (%s); pausing %.0f s", self.kind.label, exc, pause)
            return
        if isinstance(exc, TwelveLabsAuthenticationError):
            # The key may have been rotated in the connection: later triggers read it again.
            self.connection.reload()
        for entry in entries:
            self._resolve(entry, {"status": "error", "message": str(exc)})

    def _resolve(self, entry: _Entry, outcome: dict[str, Any]) -> None:
        for waiter in entry.waiters:
            if not waiter.future.done():
                waiter.future.set_result(outcome)
        if self.entries.get(entry.resource_id) is entry:
            del self.entries[entry.resource_id]

    def _finish(self, entry: _Entry, resource: Any) -> None:
        kind = self.kind
        entry.last_status = kind.status(resource)
        data = kind.to_json(resource)
        if kind.is_failed(resource):
            outcome = {"status": "failed", "message": kind.failure_reason(resource), "resource": data}
        else:
            outcome = {"status": "success", "resource": data}
        self._resolve(entry, outcome)

    # ------------------------------------------------------------------ one resource

    async def _check_one(self, entry: _Entry) -> None:
        entry.checking = True
        try:
            hook = self.connection.hook
            resource = await self._call(
                lambda: self.kind.aget(hook, entry.resource_id, self.index_id), [entry]
            )
        except _Gone:
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._on_error(exc, [entry])
            entry.next_check = time.monotonic() + entry.policy.delay(entry.errors)
            return
        finally:
            entry.checking = False
        entry.errors = 0
        status = self.kind.status(resource)
        if status != entry.last_status:
            log.debug("TwelveLabs %s %s is %s", self.kind.label, entry.resource_id, status)
        entry.last_status = status
        if self.kind.is_terminal(resource):
            self._finish(entry, resource)
            return
        entry.attempts += 1
        if self._list_enabled:
            entry.next_check = time.monotonic() + self._safety_delay(entry)
        else:
            entry.next_check = time.monotonic() + entry.policy.delay(entry.attempts)

    # ------------------------------------------------------------------ list passes

    async def _list_pass(self) -> None:
        source = self.kind.list_source
        assert source is not None
        if source.mode is ListMode.IDS:
            await self._list_by_ids()
        elif source.mode is ListMode.ACTIVE:
            await self._list_active()
        else:
            await self._list_terminal()

    def _on_listed(self, entry: _Entry, item: Any) -> bool:
        """Take a listed item into account; return whether it showed a final status."""
        source = self.kind.list_source
        assert source is not None
        entry.errors = 0
        entry.last_status = self.kind.status(item)
        if not self.kind.is_terminal(item):
            return False
        needs_fetch = not source.item_is_final or (self.kind.is_failed(item) and not failure_reason(item))
        if needs_fetch:
            # The listed item misses fields (or the failure reason): fetch the full resource once.
            entry.next_check = time.monotonic()
        else:
            self._finish(entry, item)
        return True

    async def _list_by_ids(self) -> None:
        source = self.kind.list_source
        assert source is not None
        ids = list(self.entries)
        found_final = False
        for start in range(0, len(ids), source.page_limit):
            chunk = [i for i in ids[start : start + source.page_limit] if i in self.entries]
            if not chunk:
                continue
            entries = [self.entries[i] for i in chunk]
            try:
                page = await self._list_page(1, chunk, entries)
            except _Gone:
                continue
            if page is None:
                return
            seen = set()
            for item in page.data or []:
                entry = self.entries.get(getattr(item, "id", None) or "")
                if entry is not None:
                    seen.add(entry.resource_id)
                    found_final |= self._on_listed(entry, item)
            for entry in entries:
                self._cover(entry)
                if entry.resource_id not in seen and entry.resource_id in self.entries:
                    # Not in the list: maybe deleted or not visible yet; ask for it directly.
                    entry.next_check = min(entry.next_check, time.monotonic())
        self._quiet_passes = 0 if found_final else self._quiet_passes + 1

    async def _list_active(self) -> None:
        """Read every resource still in progress; a waited one missing from it has finished.

        Used where the list filters by status but cannot be sorted by update time (embed v2
        tasks): the in-progress set is small (what the account is running now), and each
        resource that left it is then fetched once, for its final state.
        """
        # Only resources registered before the pass started can be judged by their absence.
        judged = list(self.entries.values())
        active: set[str] = set()
        page_no = 1
        while self.entries:
            try:
                page = await self._list_page(page_no, [], judged)
            except _Gone:
                return
            if page is None:
                return
            items = page.data or []
            for item in items:
                item_id = getattr(item, "id", None) or ""
                active.add(item_id)
                listed = self.entries.get(item_id)
                if listed is not None:
                    self._on_listed(listed, item)
            info = page.page_info
            if not items or (info and info.total_page is not None and page_no >= info.total_page):
                break
            if page_no >= MAX_PAGES_PER_PASS * 5:
                # Far more in progress than one pass should read: judge nothing this time.
                self._quiet_passes += 1
                return
            page_no += 1
        now = time.monotonic()
        finished = 0
        for entry in judged:
            if entry.resource_id in self.entries and entry.resource_id not in active:
                entry.next_check = now
                finished += 1
            self._cover(entry)
        self._quiet_passes = 0 if finished else self._quiet_passes + 1

    async def _list_terminal(self) -> None:
        """Read finished resources, most recently updated first, down to the previous pass."""
        source = self.kind.list_source
        assert source is not None
        uncovered = [e for e in self.entries.values() if not e.covered]
        previous_mark = self._watermark
        new_mark = previous_mark
        full = previous_mark is None and not uncovered
        found_final = False
        last_ts: float | None = None
        page_no = 1
        while self.entries:
            entries = list(self.entries.values())
            try:
                page = await self._list_page(page_no, [], entries)
            except _Gone:
                return
            if page is None:
                return
            items = page.data or []
            info = page.page_info
            if page_no == 1 and uncovered:
                total = len(items) if info is None or info.total_results is None else info.total_results
                pages = math.ceil(total / source.page_limit)
                # Reading every finished resource costs `pages` calls; checking the newcomers one
                # by one costs one call each: take the cheaper.
                full = pages <= len(uncovered) + 1
                if not full:
                    for entry in uncovered:
                        entry.next_check = time.monotonic()
            oldest_on_page: float | None = None
            for item in items:
                ts = _timestamp(getattr(item, "updated_at", None))
                if ts is not None:
                    if last_ts is not None and ts > last_ts + 1.0:
                        self._unsorted_list()
                        return
                    last_ts = ts
                    oldest_on_page = ts
                    new_mark = ts if new_mark is None else max(new_mark, ts)
                listed = self.entries.get(getattr(item, "id", None) or "")
                if listed is not None:
                    found_final |= self._on_listed(listed, item)
            if not items or not self.entries:
                break
            if info and info.total_page is not None and page_no >= info.total_page:
                break
            if not full:
                if previous_mark is None:
                    break
                if oldest_on_page is not None and oldest_on_page < previous_mark - WATERMARK_OVERLAP_SECONDS:
                    break
                if page_no >= MAX_PAGES_PER_PASS:
                    break
            page_no += 1
        for entry in uncovered:
            self._cover(entry)
        self._watermark = new_mark if new_mark is not None else time.time()
        self._quiet_passes = 0 if found_final or uncovered else self._quiet_passes + 1

    async def _list_page(self, page_no: int, ids: list[str], entries: list[_Entry]) -> Any:
        """Read one page of the kind's list under the connection's budget.

        :param page_no: the 1-based page.
        :param ids: the ids to ask about, where the list filters by id; empty otherwise.
        :param entries: the waits this page reports on.
        :returns: the page, or ``None`` when the list failed (already handled: the pass stops).
        :raises _Gone: when nobody waits any more for ``entries``.
        """
        source = self.kind.list_source
        assert source is not None
        hook = self.connection.hook
        try:
            page = await self._call(lambda: source.alist(hook, self.index_id, page_no, ids), entries)
        except (_Gone, asyncio.CancelledError):
            raise
        except Exception as exc:
            self._list_failed(exc, entries)
            return None
        self.list_calls += 1
        return page

    def _list_failed(self, exc: Exception, entries: list[_Entry]) -> None:
        if isinstance(exc, (TwelveLabsBadRequestError, TwelveLabsNotFoundError)):
            # The list is not there or does not take our filters (an older API, a proxy, a
            # deleted index): poll each resource instead, which reports what is really wrong.
            log.warning("TwelveLabs %s list refused (%s); polling one by one", self.kind.label, exc)
            self._disable_list()
            return
        self._on_error(exc, entries)

    def _unsorted_list(self) -> None:
        log.warning("TwelveLabs %s list is not sorted by update time; polling one by one", self.kind.label)
        self._disable_list()

    def _disable_list(self) -> None:
        self._list_enabled = False
        now = time.monotonic()
        for entry in self.entries.values():
            entry.next_check = min(entry.next_check, now)


def _timestamp(value: Any) -> float | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
