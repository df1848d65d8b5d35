"""Resource hogs for the resource_pressure stage, each its own process stopped by pid.

``python -m incident_kit.demo.hogs memory MB [READY_FILE]`` allocates and touches MB megabytes,
creates READY_FILE once they are resident, and sleeps;
``python -m incident_kit.demo.hogs cpu`` spins one core (start it niced). Both exit on SIGTERM.
"""

from __future__ import annotations

import signal
import sys
import time


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    kind = sys.argv[1] if len(sys.argv) > 1 else "cpu"
    if kind == "memory":
        mb = int(sys.argv[2]) if len(sys.argv) > 2 else 256
        block = bytearray(mb * 1024 * 1024)
        for i in range(0, len(block), 4096):  # touch every page: resident, not just reserved
            block[i] = 1
        if len(sys.argv) > 3:
            open(sys.argv[3], "w").close()
        while True:
            time.sleep(3600)
    elif kind == "cpu":
        x = 0
        while True:
            x = (x * 1103515245 + 12345) % 2147483648
    else:
        sys.exit(f"hogs: unknown kind {kind!r}; expected memory or cpu")


if __name__ == "__main__":
    main()
