"""Widget callbacks that never raise: the student reads a message, the server log keeps the traceback."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("layerviz")

#: What a student reads when a callback fails for a reason that is not a ValueError (a bug): no traceback.
APOLOGY = "Something went wrong with these settings; try other values."


def guarded(callback: Callable[..., Any], show_error: Callable[[str], None]) -> Callable[..., None]:
    """``callback`` as a widget callback that never raises.

    A ``ValueError`` (the engine's message naming the parameter and the rule) is shown with
    ``show_error``; any other exception is logged on the server with its traceback and shown as
    :data:`APOLOGY`. A widget callback that raised would only reach the kernel's log, leaving the
    student with a page that silently stopped answering.
    """

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            callback(*args, **kwargs)
        except ValueError as error:
            show_error(str(error))
        except Exception:
            log.exception("layerviz callback %s failed", getattr(callback, "__qualname__", callback))
            show_error(APOLOGY)

    return run
