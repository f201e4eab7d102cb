// node:assert/strict in browser tests: the npm `assert` port's strict mode. Its
// default export is the legacy loose assert (== and loose deepEqual).
import assert from 'assert'

export default assert.strict
