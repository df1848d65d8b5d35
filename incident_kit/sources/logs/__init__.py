"""Logs: ``ik.logs.read`` over files (:mod:`.read`) and remote stores (:mod:`.stores`), formats in :mod:`.formats`."""

from __future__ import annotations

from .read import FORMATS, read, to_frame

__all__ = ["read", "FORMATS", "to_frame"]
