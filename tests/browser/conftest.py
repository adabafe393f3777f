"""Headless Chromium for the browser tests; they skip, saying why, where there is none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.pages import CHROMEDRIVER, CHROMIUM, WebDriver, webdriver

WebDriverException = pytest.importorskip("selenium.common.exceptions").WebDriverException


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    """A headless Chromium (1280x900), quit after the test."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no chromium/chromedriver here (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    options.add_argument("--disable-dev-shm-usage")
    try:
        driver = webdriver.Chrome(
            options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER)
        )
    except WebDriverException as exc:
        pytest.skip(f"chromium would not start here: {exc.msg}")
    try:
        yield driver
    finally:
        driver.quit()
