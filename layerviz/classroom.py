"""Serving the course to a class: the server-side parts that Voilà's configuration names.

``deploy/voila.json`` (used by ``python3 dev.py serve``) points Voilà at these classes:

- :class:`ClassroomKernelManager`: at most ``max_kernels`` kernels; a student beyond that gets a page
  that says the class is full, instead of the server running out of memory. Culling as a lesson needs
  it: a kernel whose page is gone (no websocket for ``cull_disconnected_timeout`` seconds) is stopped
  soon, one whose page is open only after ``cull_idle_timeout`` without activity (hours: a student may
  read a page for a whole lesson without touching it), and the preheated kernels that wait for the
  next student never.
- :class:`ClassroomWebsocketConnection`: the kernel websocket with Nagle's algorithm off, so that a
  changed control's small message and the new trace coming back are not held back by the TCP stack
  waiting for an acknowledgement (jupyter_server never sets ``TCP_NODELAY`` there); and errors sent
  to the page without tracebacks, as ``allow_tracebacks=False`` asks.

Only Voilà imports this module; the engine and the widgets never need it.
"""

from __future__ import annotations

import time

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Float, Int, Unicode

FULL_MESSAGE = ("The class is full right now: every seat on this server is taken. "
                "Try again in a minute, when a classmate has closed a tab.")


class ClassroomFull(web.HTTPError):
    """503 whose reason, the line Voilà's error page shows, is the message meant for the student."""

    def __init__(self, message: str) -> None:
        super().__init__(503, reason=message)


class ClassroomKernelManager(AsyncMappingKernelManager):
    """Voilà's kernel manager with a cap on the kernels handed to students."""

    max_kernels = Int(0, config=True, help="Most kernels started for students at once (0: no cap). "
                                            "Preheated kernels waiting in the pool come on top.")
    full_message = Unicode(FULL_MESSAGE, config=True, help="What a student beyond the cap reads.")

    def _standby_kernel_ids(self) -> set[str]:
        """Kernels Voilà preheated that no student has been given yet (its pools hold their start tasks)."""
        standby = set()
        for pool in getattr(self, "_pools", {}).values():
            for task in pool:
                if task.done() and not task.cancelled() and task.exception() is None:
                    standby.add(task.result().get("kernel_id"))
        return standby

    def kernels_in_use(self) -> int:
        return len(set(self.list_kernel_ids()) - self._standby_kernel_ids())

    async def start_kernel(self, *args, **kwargs):
        preheating = (kwargs.get("env") or {}).get("VOILA_PREHEAT") == "True"
        if self.max_kernels > 0 and not preheating and self.kernels_in_use() >= self.max_kernels:
            self.log.warning("class full: %d kernels in use, max_kernels=%d", self.kernels_in_use(), self.max_kernels)
            raise ClassroomFull(self.full_message)
        return await super().start_kernel(*args, **kwargs)

    cull_disconnected_timeout = Float(600, config=True, help=(
        "Seconds a kernel may have no page connected before it is culled (0: never for that reason). "
        "A closed tab shuts its kernel down at once; this reclaims those whose page could not say so "
        "(a crashed browser, a lost network) and leaves a student time to come back from a short break."))

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._alone_since: dict[str, float] = {}  # kernel id -> when its last page disconnected
        self._shutting_down: set[str] = set()
        # Voilà's handler gives a visitor the pooled kernel whenever the pool holds a task, even one still
        # starting, and refills only once that visitor has it: visitors faster than a kernel start queue in
        # one chain (30 students over a minute waited 43 s at the median). Voilà builds its preheating class
        # on top of this one, so its method would win over one defined here: set it per instance.
        self.get_pool_size = self.ready_pool_size

    def ready_pool_size(self, notebook_name: str) -> int:
        """Preheated kernels of ``notebook_name`` that have started (their notebook may still be running).

        A visitor handed a started kernel gets its page as the notebook runs, and the refill starts at once.
        A visitor who finds none gets a kernel started for them, in parallel with the refill, instead of
        waiting behind it; the refill stays in the pool for the next visitor.
        """
        return sum(task.done() and not task.cancelled() and task.exception() is None
                   for task in getattr(self, "_pools", {}).get(notebook_name, ()))

    def notify_connect(self, kernel_id: str) -> None:
        super().notify_connect(kernel_id)
        self._alone_since.pop(kernel_id, None)

    def notify_disconnect(self, kernel_id: str) -> None:
        super().notify_disconnect(kernel_id)
        if self._kernel_connections.get(kernel_id, 0) <= 0:
            self._alone_since[kernel_id] = time.monotonic()

    async def shutdown_kernel(self, kernel_id: str, *args, **kwargs):
        """Shut a kernel down once: a page that closes asks twice (Voilà's beacon and the template's),
        and the second request finds the kernel gone or going."""
        if kernel_id not in self or kernel_id in self._shutting_down:
            self.log.debug("kernel %s is already shut down or going", kernel_id)
            return None
        self._shutting_down.add(kernel_id)
        try:
            return await super().shutdown_kernel(kernel_id, *args, **kwargs)
        finally:
            self._shutting_down.discard(kernel_id)

    async def cull_kernel_if_idle(self, kernel_id: str):
        for gone in set(self._alone_since) - set(self.list_kernel_ids()):
            del self._alone_since[gone]
        if kernel_id in self._standby_kernel_ids():
            self._alone_since.pop(kernel_id, None)
            return None  # waiting for the next student: idle by design
        if self.cull_disconnected_timeout > 0 and self._kernel_connections.get(kernel_id, 0) <= 0:
            # a kernel never connected (a preheated one just handed out, a page still loading) is
            # timed from the first time the culler sees it alone
            alone = time.monotonic() - self._alone_since.setdefault(kernel_id, time.monotonic())
            if alone > self.cull_disconnected_timeout:
                self.log.warning("Culling kernel %s: no page connected for %d s", kernel_id, alone)
                await self.shutdown_kernel(kernel_id)
                return None
        return await super().cull_kernel_if_idle(kernel_id)


#: The kernel websocket protocol browsers speak (JupyterLab's services negotiate it whenever offered).
V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
#: A v1 message is an offset count, the offsets, a channel and the message parts: a handful of each.
MAX_V1_OFFSETS = 1024


def well_formed_v1(message: bytes) -> bool:
    """Whether ``message`` is a v1 kernel websocket message whose offsets lie inside it.

    jupyter_server reads the offset count from the message's first 8 bytes and builds a list that
    long before looking at anything else: a hand-made message claiming 2**40 offsets would keep the
    server busy, for every student, until it runs out of memory.
    """
    if not isinstance(message, bytes) or len(message) < 8:
        return False
    count = int.from_bytes(message[:8], "little")
    if not 2 <= count <= MAX_V1_OFFSETS or 8 * (count + 1) > len(message):
        return False
    offsets = [int.from_bytes(message[8 * (i + 1): 8 * (i + 2)], "little") for i in range(count)]
    return all(a <= b for a, b in zip(offsets, offsets[1:])) and offsets[-1] <= len(message)


class ClassroomWebsocketConnection(ZMQChannelsWebsocketConnection):
    """The kernel websocket as a class needs it.

    - The v1 protocol only, and only well-formed v1 messages: Voilà reads the header of every binary
      message it sends as a v1 message, so a client of the legacy protocol that makes the kernel send
      binary buffers (any changed control: the player's scene travels as buffers) sends Voilà's server
      into a loop over a bogus count, CPU and memory, for every student at once (seen here: 1.6 GB in
      40 s). Browsers speak v1; a hand-made client is refused before the websocket opens.
    - ``TCP_NODELAY`` on its socket (see the module docstring).
    - Errors sent to the page without their traceback, working: with ``allow_tracebacks=False``,
      jupyter_server 2 looks the replacement message up on the single kernel's manager, which has
      no such attribute, so the error message raised ``AttributeError`` in the server and was dropped
      (the server log filled with those tracebacks). Here the setting is read where it is defined,
      the multi-kernel manager, and the student reads it.
    """

    async def prepare(self):
        offered = self.websocket_handler.request.headers.get("Sec-WebSocket-Protocol", "")
        if V1_PROTOCOL not in (p.strip() for p in offered.split(",")):
            raise web.HTTPError(400, reason=f"the kernel websocket needs the {V1_PROTOCOL} protocol")
        await super().prepare()

    def connect(self):
        self.websocket_handler.set_nodelay(True)
        return super().connect()

    def handle_incoming_message(self, incoming_msg) -> None:
        if not well_formed_v1(incoming_msg):
            self.log.warning("dropped a malformed kernel websocket message (%d bytes)", len(incoming_msg))
            return
        super().handle_incoming_message(incoming_msg)

    def _on_error(self, channel, msg, msg_list):
        manager = self.multi_kernel_manager
        if manager.allow_tracebacks or channel != "iopub":
            return
        msg["header"] = self.get_part("header", msg["header"], msg_list)
        if msg["header"]["msg_type"] != "error":
            return
        msg["content"] = self.get_part("content", msg["content"], msg_list)
        msg["content"].update(ename="ExecutionError", evalue="Execution error",
                              traceback=[manager.traceback_replacement_message])
        if self.subprotocol == "v1.kernel.websocket.jupyter.org":
            msg_list[3] = self.session.pack(msg["content"])
