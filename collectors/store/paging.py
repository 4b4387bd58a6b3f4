"""Page tokens and page sizes of the store's searches: one form for every search API.

A token is opaque to clients (base64 of ``{"offset": n}``); the store's run search issues
them, and the MLflow API pages its in-memory searches (experiments, logged models, the
registry) with the same tokens.
"""

from __future__ import annotations

import base64
import binascii
import json

from runlog import conventions as cv
from runlog.filters import FilterError

__all__ = ["MAX_RESULTS", "check_max_results", "decode_page_token", "encode_page_token"]

#: The largest page the store's run search answers.
MAX_RESULTS = 10_000


def encode_page_token(offset: int) -> str:
    """An opaque token for the page starting at *offset*."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    """The offset in *token* (0 for None); raises FilterError for a token not made here."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise FilterError(_bad_token(token)) from exc
    # bool is an int; an offset past int64 cannot be a page this store handed out.
    if type(offset) is not int or not 0 <= offset <= cv.INT64_MAX:
        raise FilterError(_bad_token(token))
    return offset


def _bad_token(token: str) -> str:
    return (
        f"page_token {token[:40]!r} is not a token this store issued; pass the "
        "next_page_token of the previous page unchanged"
    )


def check_max_results(max_results: int) -> None:
    """Raise `FilterError` unless 1 <= *max_results* <= `MAX_RESULTS`."""
    if not 1 <= max_results <= MAX_RESULTS:
        raise FilterError(f"max_results must be between 1 and {MAX_RESULTS}, got {max_results}")
