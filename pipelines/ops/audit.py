"""`make audit`: the locked dependencies (uv.lock) checked against the known-vulnerability advisories.

pip-audit (pinned, run with `uvx`, so it is not one of Railcast's own dependencies) reads the
requirements `uv export` writes from the lock, without installing them. Known vulnerabilities fail the
command. An advisory service that cannot be reached does not: pip-audit then reports every package as
"could not be audited" and still exits 0 with "No known vulnerabilities found", so this reads its JSON
and says plainly that the audit was not done, and for how many packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PIP_AUDIT = "pip-audit==2.10.1"
ROOT = Path(__file__).resolve().parents[2]


def summary(report: dict) -> tuple[int, list[str]]:
    """(exit code, lines to print) for pip-audit's JSON report."""
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    checked = len(deps) - len(skipped)
    lines = [f"dependency audit: {checked} of {len(deps)} locked packages checked, "
             f"{len(vulnerable)} with known vulnerabilities"]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed release yet"
            lines.append(f"  {dep['name']} {dep.get('version', '')}: {vuln.get('id')} (fixed in {fixed})")
    if skipped:
        lines.append(f"AUDIT INCOMPLETE: {len(skipped)} package(s) could not be checked (advisory service "
                     f"unreachable?), e.g. {skipped[0]['skip_reason']}")
    return (1 if vulnerable else 0), lines


def uv() -> str:
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not os.access(found, os.X_OK):
        raise SystemExit("audit: uv not found; run `make setup` first")
    return found


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="railcast-audit-") as tmp:
        requirements, out = Path(tmp) / "requirements.txt", Path(tmp) / "audit.json"
        export = ["export", "--project", str(ROOT), "--frozen", "--no-hashes", "--no-emit-project",
                  "--format", "requirements-txt", "-o", str(requirements)]
        subprocess.run([uv(), *export], check=True, stdout=subprocess.DEVNULL)
        try:
            audit = ["pip-audit", "-r", str(requirements), "--no-deps", "--disable-pip",
                     "--progress-spinner", "off", "-f", "json", "-o", str(out)]
            done = subprocess.run([uv(), "tool", "run", "--from", PIP_AUDIT, *audit], capture_output=True,
                                  text=True, timeout=900)
        except subprocess.TimeoutExpired:
            print("AUDIT NOT DONE: pip-audit did not finish in 15 minutes", flush=True)
            return 0
        if not out.exists():   # no report: pip-audit itself or the advisory service was unreachable
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            print(f"AUDIT NOT DONE: pip-audit could not run or reach its advisory service: {last}",
                  flush=True)
            return 0
        code, lines = summary(json.loads(out.read_text()))
    print("\n".join(lines), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
