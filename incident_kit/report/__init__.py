"""The report: HTML postmortem export (nbconvert), the runs index, static plots."""

from .export import REMOVED_TAGS, export_html
from .index import write_index

__all__ = ["export_html", "write_index", "REMOVED_TAGS"]
