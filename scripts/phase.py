"""Run one phase of `make test` and say how long it took: python scripts/phase.py NAME CMD ...

Prints ``phase NAME: N s`` when the command ends (whether it passed or not) and, when
``TOYLAB_PHASES`` names a file, appends the same line there, so that ``.ci/run`` can print every
phase's time in one table at the end. Exits with the command's exit code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.exit("usage: phase.py NAME CMD [ARGS ...]")
    name, cmd = argv[0], argv[1:]
    start = time.perf_counter()
    code = subprocess.call(cmd)
    line = f"phase {name}: {time.perf_counter() - start:.0f} s{'' if code == 0 else ' (failed)'}"
    print(line, flush=True)
    if os.environ.get("TOYLAB_PHASES"):
        with open(os.environ["TOYLAB_PHASES"], "a") as f:
            f.write(line + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
