"""Topics read in plain batches: no Faust event or stream step per message.

Faust's stream machinery costs tens of microseconds per event (a task, sensors, acking
through the stream), which caps a worker at a few thousand messages per second when
devices send one reading per message. A :class:`BatchTopic` keeps Faust's consumer,
subscription, flow control and rebalancing, but its buffer holds the consumer's
messages as they are; :func:`take` drains up to a batch at once, and the caller acks
them (so Faust commits their offsets) after the batch is committed.
"""

import asyncio
from typing import Any

import faust
from faust.types import Message

__all__ = ["BatchTopic", "take"]

_IDLE_S = 0.005  # a batch is complete when nothing arrived for this long


class BatchTopic(faust.Topic):
    """A topic whose buffer holds raw consumer messages (see the module doc).

    It is its own iterator: the consumer puts messages straight into its buffer (and,
    when the buffer is full, waits on :meth:`put` until :func:`take` makes room).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, is_iterator=True, **kwargs)

    def _compile_decode(self) -> None:
        # Faust compiles ``decode`` per topic from its schema; here it hands on the
        # message itself: the stage decodes the bytes (bad input is dead-lettered).
        async def decode(message: Message, *, propagate: bool = False) -> Any:
            return message

        self.decode = decode  # type: ignore[method-assign]


async def take(
    topic: BatchTopic, most: int, within_s: float, max_bytes: int = 4 << 20
) -> list[Message]:
    """Wait for a message, then gather up to ``most`` for at most ``within_s`` seconds.

    A batch stops growing once its values hold ``max_bytes`` (one message always fits).

    Gathering stops when the buffer runs dry a second time (after one wait of a few
    milliseconds for the consumer's next fetch): a batch is what the consumer has
    fetched, and the stage is never idle while messages wait.
    """
    queue = topic.queue
    batch: list[Message] = [await queue.get()]
    size = len(batch[0].value or b"")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    waited = False
    while len(batch) < most and size < max_bytes:
        try:
            message = queue.get_nowait()
        except asyncio.QueueEmpty:
            left = deadline - loop.time()
            if waited or left <= 0:
                break
            await asyncio.sleep(min(left, _IDLE_S))
            waited = True  # one short wait per batch: a steady trickle must not stall it
            continue
        batch.append(message)
        size += len(message.value or b"")
    return batch
