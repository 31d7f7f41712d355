"""Browser tests: the web app in headless Chromium (Debian's package) via Playwright."""
