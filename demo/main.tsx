/**
 * The s3mesh console (built by vite into dist/console, served by
 * `s3mesh server` on its console address). Preact renders it; Pico styles
 * its controls; logging in makes this tab a guest of the mesh, with its
 * user's rights.
 */
import { render } from 'preact'
import { App } from './app.js'

render(<App />, document.getElementById('app')!)
// The browser test reads how long the first view took to become usable.
performance.mark('console-interactive')
