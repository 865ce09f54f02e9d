"""`make audit` reads pip-audit's report: vulnerabilities fail it, an unreachable advisory service is said."""

from __future__ import annotations

import pytest

from pipelines.ops.audit import summary

pytestmark = pytest.mark.unit


def test_a_known_vulnerability_fails_and_is_listed_with_its_fix():
    code, lines = summary({"dependencies": [
        {"name": "ok", "version": "1.0", "vulns": []},
        {"name": "jinja2", "version": "3.1.2",
         "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"]}]},
    ]})
    assert code == 1
    assert lines[0] == "dependency audit: 2 of 2 locked packages checked, 1 with known vulnerabilities"
    assert "jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in lines[1]


def test_packages_that_could_not_be_checked_are_said_not_passed_off_as_clean():
    """What pip-audit writes when PyPI's advisory API cannot be reached: every package skipped, exit 0."""
    skipped = "Dependency not found on PyPI and could not be audited: aiohttp (3.14.5)"
    code, lines = summary({"dependencies": [{"name": "aiohttp", "skip_reason": skipped},
                                            {"name": "ok", "version": "1.0", "vulns": []}]})
    assert code == 0
    assert lines[0].startswith("dependency audit: 1 of 2 locked packages checked")
    assert lines[-1].startswith("AUDIT INCOMPLETE: 1 package(s) could not be checked")
    assert skipped in lines[-1]
