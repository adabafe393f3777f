"""``recon-bot sandbox`` in a real headless Chromium: a person clicks through the desk.

The sandbox runs as a real process (the CLI, as ``scripts/demo`` starts it) on a desk in
``tmp_path``; Selenium drives Debian's ``chromium`` through ``chromium-driver``. Each step
saves a screenshot into ``tests/browser/screenshots/<test name>/`` so a person can look.
Skips, saying why, when no Chromium or chromedriver is installed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402

from tests.browser.pages import CHROMEDRIVER, CHROMIUM, SHOTS, Page  # noqa: E402
from tests.sandbox_process import RECON_BOT, process_env, sandbox_process  # noqa: E402

HEADER = (
    "external_id,kind,entity,currency,amount,counterparty,counterparty_risk_tier,booked_on,"
    "aging_days,confidence,score,matched_value,variance,record_count,entity_risk_score,"
    "prepared_by,reference,description,bank_account"
)
#: The bank account of the long statement, known to the desk's policy (team treasury).
ACCOUNT = "DE89370400440532013000"
STATEMENTS = f"""
statements:
  accounts:
    - {{account: "{ACCOUNT}", entity: ACME-DE, currency: EUR, gl_account: "1100", team: treasury}}
"""
#: Whether an element is within the conversation pane's visible part.
SEEN = """
const box = arguments[0].getBoundingClientRect();
const pane = document.getElementById("pane").getBoundingClientRect();
return box.top < pane.bottom && box.bottom > pane.top;
"""
#: More entries than the entries modal shows on a page (20): View entries pages.
ENTRIES = 25


def _long_statement() -> str:
    """An MT940 statement of ENTRIES credits of 10.00 EUR whose balance chain holds."""
    lines = [":20:LONG1", f":25:BANKDEFFXXX/{ACCOUNT}", ":28C:1/1", ":60F:C251201EUR1000,00"]
    for n in range(1, ENTRIES + 1):
        lines += [f":61:2512011201C10,00NTRFINV-{n}//B{n}", f":86:Invoice {n}"]
    lines += [f":62F:C251201EUR{1000 + 10 * ENTRIES},00", "-"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[str]:
    """A desk with 14 material treasury items (U0PREP1 prepared them), a statement of 25
    entries in review, and its sandbox."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no chromium/chromedriver here (apt-get install chromium chromium-driver)")

    def cli(*args: str) -> None:
        subprocess.run(
            [*RECON_BOT, *args], cwd=tmp_path, env=process_env(), check=True, capture_output=True
        )

    cli("init")
    policy = tmp_path / "policy.yml"
    policy.write_text(policy.read_text(encoding="utf-8") + STATEMENTS, encoding="utf-8")
    rows = [
        f"web-{n},unmatched,ACME-US,USD,{2500 + n}.00,Globex Ltd,high,2026-11-30,,0.95,,,,,,"
        f"U0PREP1,INV-{n},browser item {n},ACCT-{n}"
        for n in range(1, 15)
    ]
    (tmp_path / "items.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    cli("ingest", "items.csv")
    (tmp_path / "long.sta").write_text(_long_statement(), encoding="utf-8")
    cli("statements", "import", "long.sta")
    with sandbox_process(tmp_path, "--person", "U0PREP1:preparer") as url:
        yield url
    assert (tmp_path / "sandbox-slack.json").exists()


def test_a_person_works_the_desk_in_the_browser(
    sandbox: str, browser: WebDriver, request: pytest.FixtureRequest
) -> None:
    page = Page(browser, sandbox, SHOTS / request.node.name)
    page.open("U0ALICE", "C0TREASURY")
    assert "Local sandbox" in page.text()
    page.wait(lambda d: "R-1 " in page.card(1).text and "Approve" in page.card(1).text)
    page.shot("treasury-channel")

    # Approve: the bot rewrites the card with the outcome and no buttons.
    page.click(lambda: page.card(1), "Approve")
    page.wait(lambda d: "Approved" in page.card(1).text)
    page.wait(lambda d: not page.card(1).find_elements(By.TAG_NAME, "button"))
    assert "alice" in page.card(1).text
    page.shot("approved-card")

    # Reject with a reason too short: the error shows under the Reason field.
    page.click(lambda: page.card(2), "Reject")
    modal = page.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".modal"))
    assert isinstance(modal, WebElement)
    field = modal.find_element(By.XPATH, ".//div[contains(@class,'input-block')][label]")
    field.find_element(By.CSS_SELECTOR, "input, textarea").send_keys("wrong")
    modal.find_element(By.CSS_SELECTOR, ".modal-submit").click()
    error = page.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".input-block .field-error"))
    assert isinstance(error, WebElement)
    assert "at least 3 words" in error.text
    page.shot("reject-reason-too-short")
    browser.find_element(By.CSS_SELECTOR, ".modal-close").click()
    page.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, ".modal"))

    # A preparer (no role in the policy) may not approve: a refusal only they see.
    Select(browser.find_element(By.ID, "as")).select_by_value("U0PREP1")
    page.wait(lambda d: "as=U0PREP1" in d.current_url)
    page.click(lambda: page.card(3), "Approve")
    refusal = page.wait(lambda d: d.find_element(By.XPATH, "//div[contains(@class,'ephemeral')]"))
    assert isinstance(refusal, WebElement)
    # Not a reviewer of the team: the bot refuses, and says so to them alone.
    assert "you cannot see R-3" in refusal.text and "Only visible to you" in refusal.text
    page.shot("preparer-refused")
    page.open("U0ALICE", "C0TREASURY")
    page.card(3)
    assert "you cannot see R-3" not in page.text()  # ephemeral: only to its person

    # A form with a select and a date picker: the dispute opens, and the card says so.
    page.click(lambda: page.card(4), "Dispute")
    form = page.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".modal"))
    assert isinstance(form, WebElement)

    def control(label: str) -> WebElement:
        return form.find_element(By.CSS_SELECTOR, f"[data-label='{label}']")

    Select(control("Category")).select_by_visible_text("Amount mismatch")
    control("Description").send_keys("They booked 2,500.00, not 2,504.00")
    later = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    browser.execute_script(
        "arguments[0].value = arguments[1]", control("Expected resolution date"), later
    )
    page.shot("dispute-form")
    form.find_element(By.CSS_SELECTOR, ".modal-submit").click()
    page.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, ".modal"))
    page.wait(lambda d: "Dispute D-4-1" in page.card(4).text)

    # A statement's entries: a modal whose Next button (block_actions from a view) pages it.
    def statement_card() -> WebElement:
        xpath = "//div[contains(@class,'message')][.//*[starts-with(@data-block-id,'stmt.')]]"
        return browser.find_element(By.XPATH, xpath)

    page.click(statement_card, "View entries")
    entries = lambda: browser.find_element(By.CSS_SELECTOR, "#modals .modal")  # noqa: E731
    page.wait(lambda d: "Page 1 of 2" in entries().text)
    assert "#1 " in entries().text and "#21 " not in entries().text
    page.shot("statement-entries")
    page.click(entries, "Next")
    page.wait(lambda d: "Page 2 of 2" in entries().text)
    assert f"#{ENTRIES} " in entries().text and "#1 " not in entries().text
    page.shot("statement-entries-page-2")
    page.click(entries, "Previous")
    page.wait(lambda d: "Page 1 of 2" in entries().text)
    entries().find_element(By.CSS_SELECTOR, ".modal-close").click()
    page.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, "#modals .modal"))

    # App Home, paged.
    page.open("U0AUDIT")
    page.wait(lambda d: "Page 1 of 2" in page.text())
    page.shot("app-home")
    page.click(lambda: browser.find_element(By.CSS_SELECTOR, ".home"), "Next")
    page.wait(lambda d: "Page 2 of 2" in page.text())
    page.shot("app-home-page-2")

    # /recon queue from the message box: the answer shows to the person who typed it.
    page.open("U0ALICE", "C0TREASURY")

    def run(command: str) -> None:
        box = browser.find_element(By.ID, "command")
        box.send_keys(command)
        browser.find_element(By.CSS_SELECTOR, "#composer button").click()
        page.wait(lambda d: d.find_element(By.ID, "command").get_attribute("value") == "")

    def answer(d: WebDriver) -> str:
        return d.find_elements(By.CSS_SELECTOR, ".ephemeral")[-1].text

    run("/recon queue")
    page.wait(lambda d: "My items" in answer(d))
    run("/recon queue all")
    # 14 items, R-1 approved (R-4 disputed is still open): 13, 10 a page.
    page.wait(lambda d: "Showing 1 to 10 of 13 items" in answer(d))
    # The answer is in sight, as in Slack (the conversation scrolls to its newest message).
    page.wait(lambda d: d.execute_script(SEEN, d.find_elements(By.CSS_SELECTOR, ".ephemeral")[-1]))
    page.shot("recon-queue")
