"""One exchange of a checked simulated system, held until it is judged: the request's
body as the system read it, the answer's messages, then the judgement, then the answer
(so whatever it departs in is recorded before the client, and the test, has it)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Judge = Callable[[bytes, list[Message]], None]


async def judged(app: ASGIApp, scope: Scope, receive: Receive, send: Send, judge: Judge) -> None:
    sent: list[bytes] = []
    answer: list[Message] = []

    async def receiving() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            sent.append(message.get("body", b""))
        return message

    async def sending(message: Message) -> None:
        answer.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            judge(b"".join(sent), answer)
            for held in answer:
                await send(held)

    await app(scope, receiving, sending)
