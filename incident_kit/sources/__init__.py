"""Sources: one module per kind of place evidence lives, each returning a canonical frame.

Modules are imported lazily so that a missing optional backend only matters when used.
"""
