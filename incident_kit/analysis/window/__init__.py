"""The incident window (`window`) and its result (`IncidentWindow`, `bounds`, `label`, `show`).

`core` decides which detector judges a series: `novelty` (metrics, against their own history,
seasonal profile removed where the history covers it) or `binomial` (rate frames' error rates).
"""

from .core import false_alarms_per_day, window
from .result import IncidentWindow, bounds, label, show

__all__ = ["IncidentWindow", "bounds", "false_alarms_per_day", "label", "show", "window"]
