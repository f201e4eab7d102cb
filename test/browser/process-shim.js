// The npm `assert` port reads a few Node globals; in the page they are this.
export const process = { env: {}, version: '', versions: {}, platform: 'browser', nextTick: (fn, ...args) => queueMicrotask(() => fn(...args)) }
