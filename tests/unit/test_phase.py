"""scripts/phase.py: a phase's time is printed and recorded, and its exit code kept."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PHASE = ROOT / "scripts" / "phase.py"


def test_a_phase_prints_and_records_its_time_and_keeps_its_exit_code(tmp_path):
    record = tmp_path / "phases.txt"
    env = {**os.environ, "TOYLAB_PHASES": str(record)}
    ok = subprocess.run(
        [sys.executable, PHASE, "unit", sys.executable, "-c", "print('hi')"],
        capture_output=True,
        text=True,
        env=env,
    )
    bad = subprocess.run(
        [sys.executable, PHASE, "lint", sys.executable, "-c", "raise SystemExit(3)"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ok.returncode == 0 and ok.stdout.splitlines()[0] == "hi"
    assert re.fullmatch(r"phase unit: \d+ s", ok.stdout.splitlines()[1])
    assert bad.returncode == 3 and re.fullmatch(r"phase lint: \d+ s \(failed\)", bad.stdout.strip())
    assert record.read_text().splitlines() == [ok.stdout.splitlines()[1], bad.stdout.strip()]
