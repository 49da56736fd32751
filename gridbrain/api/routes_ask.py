"""``GET /ask?q=...``: a question in plain words (the same answers as ``gridbrain ask``)."""

import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from gridbrain.api.asking import MAX_QUESTION, Asker
from gridbrain.api.state import ApiState, Reader

__all__ = ["AskerHolder", "router"]

router = APIRouter(tags=["questions"])


class AskerHolder:
    """Loads the sentence encoder once (in the background from the start), then answers."""

    def __init__(self, cache: Path | None = None) -> None:
        self._cache = cache
        self._asker: Asker | None = None
        self._lock = threading.Lock()

    def get(self, state: ApiState) -> Asker:
        """The asker, loading the encoder on first use."""
        with self._lock:
            if self._asker is None:
                from gridbrain.processors.language.understand import Understander
                from gridbrain.processors.text.encoder import TextEncoder

                encoder = TextEncoder("cpu")
                understander = Understander(encoder.embed, cache=self._cache)
                self._asker = Asker(state.db, understander)
            return self._asker

    def warm(self, state: ApiState) -> None:
        """Load in a background thread, so the first question does not wait for it."""
        threading.Thread(target=self.get, args=(state,), name="ask-warm", daemon=True).start()


@router.get("/ask", summary="A question in plain words")
def ask(
    request: Request,
    state: Reader,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION, description="The question.")],
) -> JSONResponse:
    """The intent, slots, rows and sentence.

    422 with the nearest intents when it cannot answer: no guess is presented as fact.
    """
    holder: AskerHolder = request.app.state.asker
    answer = holder.get(state).ask(q)
    body: dict[str, Any] = answer.as_json()
    return JSONResponse(body, 200 if answer.answered else 422)
