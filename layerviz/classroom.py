"""Serving the course to a class: the server-side parts that Voilà's configuration names.

``deploy/voila.json`` (used by ``python3 dev.py serve``) points Voilà at these classes:

- :class:`ClassroomKernelManager`: at most ``max_kernels`` kernels; a student beyond that gets a page
  that says the class is full, instead of the server running out of memory. The idle culler leaves
  the preheated kernels that wait for the next student alone.
- :class:`NoDelayWebsocketConnection`: the kernel websocket with Nagle's algorithm off, so that a
  changed control's small message and the new trace coming back are not held back by the TCP stack
  waiting for an acknowledgement (jupyter_server never sets ``TCP_NODELAY`` there).

Only Voilà imports this module; the engine and the widgets never need it.
"""

from __future__ import annotations

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Int, Unicode

#: What the browser side of the widgets sends; anything else (``execute_request`` above all) is dropped
#: by jupyter_server before it reaches the kernel, so a student cannot run code on the server.
WIDGET_MESSAGE_TYPES = ("comm_open", "comm_msg", "comm_close", "comm_info_request", "kernel_info_request")

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

    async def cull_kernel_if_idle(self, kernel_id: str):
        if kernel_id in self._standby_kernel_ids():
            return None  # waiting for the next student: idle by design
        return await super().cull_kernel_if_idle(kernel_id)


class NoDelayWebsocketConnection(ZMQChannelsWebsocketConnection):
    """The kernel websocket with ``TCP_NODELAY`` set on its socket."""

    def connect(self):
        self.websocket_handler.set_nodelay(True)
        return super().connect()
