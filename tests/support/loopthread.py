"""An asyncio server running on its own event loop in a daemon thread, so a test (or a benchmark)
can start it, talk to it from ordinary blocking code and stop it. The proxies in
tests/support (cosmosproxy.py, httpfault.py) are built on it.

A subclass sets ``THREAD_NAME`` and implements ``async _listen()`` (bind; may learn its port)
and ``async _shutdown()`` (close the listener and every connection); it describes itself with
``_host``, ``_port``, ``upstream_host`` and ``upstream_port``.
"""

from __future__ import annotations

import asyncio
import ssl
import threading


def quiet_exception_handler(loop, context) -> None:
    """Failed TLS handshakes and reset connections are expected in fault tests: stay quiet
    about them, report anything else."""
    if isinstance(context.get("exception"), (ssl.SSLError, ConnectionError)):
        return
    loop.default_exception_handler(context)


class LoopThreadServer:
    THREAD_NAME = "loopthread"

    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The listening port (known once started when it was chosen freely)."""
        return self._port

    async def _listen(self) -> None:
        raise NotImplementedError

    async def _shutdown(self) -> None:
        raise NotImplementedError

    def start(self):
        if self._loop is not None:
            return self
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(quiet_exception_handler)
        self._thread = threading.Thread(target=loop.run_forever, name=self.THREAD_NAME, daemon=True)
        self._thread.start()
        self._loop = loop
        try:
            asyncio.run_coroutine_threadsafe(self._listen(), loop).result(10)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(10)
            loop.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self._host}:{self._port} -> "
                f"{self.upstream_host}:{self.upstream_port}>")
