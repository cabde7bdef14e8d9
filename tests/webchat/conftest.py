"""Web chat fixtures: a headless Chromium (Debian's) driven by pip's playwright."""

from __future__ import annotations

import shutil

import pytest

from tests.support import IN_CI

CHROMIUM = next((path for path in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if shutil.which(path)), None)


@pytest.fixture
async def browser():
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        async_playwright = None
    if CHROMIUM is None or async_playwright is None:
        if IN_CI:
            pytest.fail("CI needs Debian's chromium and pip's playwright for the browser test")
        pytest.skip("chromium or playwright is not installed")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        yield browser
        await browser.close()
