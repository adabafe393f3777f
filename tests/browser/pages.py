"""The sandbox page as the browser tests use it: a few moves and a screenshot per step."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
#: Each test's screenshots go to SHOTS / <test name>/ (ignored by git).
SHOTS = Path(__file__).parent / "screenshots"


class Page:
    """The sandbox page, with the few moves the test makes and a screenshot per step."""

    def __init__(self, driver: WebDriver, url: str, shots: Path) -> None:
        self.driver = driver
        self.url = url
        self.shots = shots
        self.step = 0
        shots.mkdir(parents=True, exist_ok=True)
        for old in shots.glob("*.png"):
            old.unlink()

    def open(self, user: str, where: str = "home") -> None:
        self.driver.get(f"{self.url}/?as={user}&in={where}")
        self.wait(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))

    def wait(self, condition, timeout: float = 20) -> object:
        # The page redraws on every change: an element found a moment ago may be gone.
        ignored = (StaleElementReferenceException, NoSuchElementException, IndexError)
        wait = WebDriverWait(self.driver, timeout, poll_frequency=0.1, ignored_exceptions=ignored)
        try:
            return wait.until(condition)
        except TimeoutException:
            self.shot("timed-out")  # what the page showed when the wait gave up
            raise AssertionError(f"timed out; the page said:\n{self.text()}") from None

    def shot(self, name: str) -> Path:
        self.step += 1
        path = self.shots / f"{self.step:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def card(self, item: int) -> WebElement:
        xpath = (
            f"//div[contains(@class,'message')][.//*[starts-with(@data-block-id,'card.{item}.v')]]"
        )
        return self.wait(lambda d: d.find_element(By.XPATH, xpath))  # type: ignore[return-value]

    def click(self, scope, label: str) -> None:
        """Clicks the button ``label`` inside what ``scope()`` finds (found again if redrawn)."""

        def press(_: WebDriver) -> bool:
            scope().find_element(By.XPATH, f".//button[normalize-space()='{label}']").click()
            return True

        self.wait(press)
        confirm = self.driver.find_elements(By.CSS_SELECTOR, "#confirm:not([hidden]) .confirm")
        if confirm:
            confirm[0].click()

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text
