import { chromium, type Browser } from 'playwright-core'

/** Flags that let Debian's Chromium run headless as root in a container (see NOTES.md). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']

/** Debian's Chromium (or $CHROMIUM), driven by playwright-core: nothing is downloaded. */
export async function launchChromium (): Promise<Browser> {
  return await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS })
}
