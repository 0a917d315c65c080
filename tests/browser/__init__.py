"""Real-browser journeys: Playwright driving Debian's Chromium through the example shop and the fake gateway."""
