"""A kernel websocket client that speaks as a browser does (the v1 protocol), for the server tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import time
import uuid

from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1, serialize_msg_to_ws_v1
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClosedError, websocket_connect

from layerviz.classroom import V1_PROTOCOL


def channels_url(base: str, page: str) -> str:
    """The kernel websocket of a Voilà page (``page``: its HTML) under ``base`` (``ws://host:port[/prefix]``)."""
    kernel = re.search(r'kernelId": "([0-9a-f-]+)"', page)
    if kernel is None:
        raise ValueError(f"the page has no kernel: {page[-600:]!r}")
    return f"{base}/api/kernels/{kernel.group(1)}/channels?session_id={uuid.uuid4().hex}"


def message(msg_type: str, content: dict, channel: str = "shell", metadata: dict | None = None) -> bytes:
    """A kernel message in the v1 websocket protocol."""
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "student", "session": "s",
              "date": "2026-01-01T00:00:00Z", "version": "5.3"}
    parts = [json.dumps(part).encode() for part in (header, {}, metadata or {}, content)]
    return serialize_msg_to_ws_v1(parts, channel)


def parse(raw: bytes) -> dict:
    channel, parts = deserialize_msg_from_ws_v1(raw)
    return {"channel": channel, "header": json.loads(parts[0]), "content": json.loads(parts[3])}


async def connect(url: str, headers: dict[str, str] | None = None, subprotocols=(V1_PROTOCOL,)):
    """Open the kernel websocket at ``url`` (``headers``: a browser's cookies and origin)."""
    return await websocket_connect(HTTPRequest(url, headers=headers, validate_cert=False),
                                   subprotocols=list(subprotocols))


async def receive_until(connection, until: str, deadline: float, channel: str | None = "shell") -> list[dict]:
    """The ``channel`` messages (every channel's with None) received until a shell message of type ``until``."""
    received = []
    while True:
        raw = await asyncio.wait_for(connection.read_message(), deadline - time.monotonic())
        if raw is None:
            raise WebSocketClosedError("the server closed the kernel websocket")
        msg = parse(raw)
        if channel is None or msg["channel"] == channel:
            received.append(msg)
        if msg["channel"] == "shell" and msg["header"]["msg_type"] == until:
            return received


async def replies_to(url: str, sent: list, until: str, timeout: float = 30, channel: str | None = "shell",
                     headers: dict[str, str] | None = None, subprotocols=(V1_PROTOCOL,)) -> list[dict]:
    """Send ``sent`` on a new connection to ``url``; see :func:`receive_until`."""
    connection = await connect(url, headers, subprotocols)
    try:
        for data in sent:
            await connection.write_message(data, binary=isinstance(data, bytes))
        return await receive_until(connection, until, time.monotonic() + timeout, channel)
    finally:
        connection.close()


def exchange(url: str, sent: list, until: str, **kwargs) -> list[dict]:
    """:func:`replies_to`, run on a loop of its own (the tests' thread may hold Playwright's)."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, replies_to(url, sent, until, **kwargs)).result()
