"""What booted_unit.sh saw: the kiosk unit under a live systemd, sandboxed, running, checked and stopped.

Usage: python booted_unit_report.py OUT_DIR [--json report.json]; exit 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SANDBOX_FAILURES = ("Operation not permitted", "SIGSYS", "Bad system call", "Permission denied", "Traceback")
CONTAINER_NOTICES = ("Failed to configure loopback network device, ignoring",)
"""systemd's own notices inside an nspawn container (no CAP_NET_ADMIN for PrivateNetwork's loopback); not a denial."""


def properties(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def report(folder: Path) -> dict:
    running, stopped = properties(folder / "running.txt"), properties(folder / "stopped.txt")
    health = properties(folder / "healthcheck.txt")
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines() if line.strip()]
    kinds = [event.get("type") for event in events]
    lines = (folder / "journal.txt").read_text().splitlines()
    notices = [line for line in lines if line.startswith(CONTAINER_NOTICES)]
    journal = "\n".join(line for line in lines if line not in notices)
    checks = {
        "kiosk active and running (READY=1 received)": (running.get("ActiveState"), running.get("SubState"))
        == ("active", "running"),
        "kiosk runs as the fer-edge user": running.get("User") == "fer-edge",
        "watchdog status line present": "frames" in running.get("StatusText", ""),
        "no restarts": running.get("NRestarts") == "0" and stopped.get("NRestarts") == "0",
        "health check passed (unprivileged, sandboxed)": health.get("HealthcheckExit") == "0"
        and health.get("Result") == "success",
        "events written under the sandbox": kinds[:1] == ["run_start"] and "session_end" in kinds,
        "SIGTERM stop: run_end written, exit status 0": kinds[-1:] == ["run_end"]
        and stopped.get("ExecMainStatus") == "0" and stopped.get("Result") == "success",
        "no sandbox denial in the journal": not any(text in journal for text in SANDBOX_FAILURES),
    }
    return {"checks": checks, "passed": all(checks.values()), "running": running, "stopped": stopped,
            "healthcheck": health, "event_types": {kind: kinds.count(kind) for kind in dict.fromkeys(kinds)},
            "container_notices": notices, "journal": lines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = report(args.folder)
    for name, ok in result["checks"].items():
        print(f"booted-unit: {'ok  ' if ok else 'FAIL'} {name}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
