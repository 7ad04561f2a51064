//! Dashboard tests in headless Chromium (being written).
