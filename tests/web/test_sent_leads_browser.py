"""The page in a real browser inside a real Airflow: sign in, open it, filter it.

Airflow runs as `airflow standalone` would (tests/support/airflow_processes.py)
with the plugins folder of this repo, its warehouse connection pointing at a
database filled by a real sync of the sandbox. Headless Chromium (Debian's
package; browser downloads are not possible here) signs in through the auth
manager's login page, opens "Sent leads" from the Browse menu, filters orders
and checks the table, and saves a screenshot to tests/artifacts/.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.airflow_processes import airflow_cluster

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium_or_skip() -> str:
    """Return Debian's Chromium, installing it when running as root; else skip."""
    import os

    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"{CHROMIUM} is missing and only root can apt-get install chromium")
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    if subprocess.run(install, capture_output=True, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=600)
        result = subprocess.run(install, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            pytest.skip(f"apt-get install chromium failed: {result.stderr[-500:]}")
    return CHROMIUM


def test_sign_in_open_from_the_menu_and_filter(synced_warehouse, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chromium = _chromium_or_skip()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    env = {"AIRFLOW_CONN_ROISTAT_WAREHOUSE": synced_warehouse}
    with airflow_cluster(base_dir=tmp_path, mode="standalone", env=env, triggerer=False) as cluster:
        # The plugin's view is registered with the API server.
        plugins = cluster.api("GET", "/api/v2/plugins").json()["plugins"]
        roistat = next(p for p in plugins if p["name"] == "roistat")
        assert roistat["external_views"][0]["href"] == "/roistat/sent-leads"

        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.set_default_timeout(30_000)
                try:
                    _sign_in(page, cluster)
                    _open_from_the_menu_and_filter(page, sync_api)
                finally:
                    page.screenshot(path=str(ARTIFACTS / "sent_leads_page.png"), full_page=False)
            finally:
                browser.close()


def _sign_in(page, cluster) -> None:
    # Without a session the page sends the browser to the login form.
    page.goto(f"{cluster.base_url}/roistat/sent-leads", wait_until="domcontentloaded")
    page.wait_for_url("**/auth/login**")
    page.fill("input[name=username]", cluster.admin_user)
    page.fill("input[name=password]", cluster.admin_password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/roistat/sent-leads")  # the login brings the browser back
    page.goto(cluster.base_url + "/", wait_until="domcontentloaded")


def _open_from_the_menu_and_filter(page, sync_api) -> None:
    expect = sync_api.expect

    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Sent leads").click()
    page.wait_for_url("**/plugin/sent-leads**")
    frame = page.frame_locator("iframe[title='Sent leads']")
    rows = frame.locator("[data-testid=deal-row]")
    expect(rows.first).to_be_visible()
    expect(rows).to_have_count(50)
    entities_before = set(rows.evaluate_all("rows => rows.map(r => r.dataset.entity)"))
    assert entities_before == {"lead", "order"}, entities_before

    frame.locator("select[name=entity]").select_option("order")
    frame.locator("select[name=status_group]").select_option("paid")
    frame.get_by_role("button", name="Apply").click()

    # The selects already show the new values before the filtered page arrives:
    # wait for the address the filtered page gets (the UI keeps the frame's
    # address, filters included, in its own) and for its first row.
    page.wait_for_url("**/plugin/sent-leads/roistat/sent-leads?entity=order&status_group=paid**")
    expect(frame.locator("select[name=entity]")).to_have_value("order")
    groups = frame.locator("[data-testid=deal-row]")
    expect(groups.first).to_have_attribute("data-group", "paid")
    after = groups.evaluate_all("rows => rows.map(r => [r.dataset.entity, r.dataset.group])")
    assert after and all(row == ["order", "paid"] for row in after), after
    expect(frame.locator("#summary[data-loaded=true]")).to_be_attached()
    expect(frame.locator("#sent-leads-chart")).to_be_visible()
    page.wait_for_timeout(500)  # the chart's first paint
