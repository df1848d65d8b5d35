"""``python -m incident_kit`` is the same CLI as ``incident-kit``."""

from .cli import main

raise SystemExit(main())
