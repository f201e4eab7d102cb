// Debian's Chromium for every browser test (playwright-core in test/ and bench/,
// web-test-runner for test/browser): nothing downloads a browser of its own.

/** Where Chromium is: Debian's package, or $CHROMIUM. */
export const CHROMIUM_PATH = process.env.CHROMIUM ?? '/usr/bin/chromium'

/**
 * Flags that let it run headless as root in a container (NOTES.md): no sandbox
 * (root), no GPU, /tmp instead of a small /dev/shm, and none of the background
 * connections that a machine without internet refuses many at a time.
 */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']
