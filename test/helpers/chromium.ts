import { chromium, type Browser } from 'playwright-core'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium-args.mjs'

export { CHROMIUM_ARGS }

/** Debian's Chromium (or $CHROMIUM), driven by playwright-core: nothing is downloaded. */
export async function launchChromium (): Promise<Browser> {
  return await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS })
}
