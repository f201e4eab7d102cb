/** A problem the person running the CLI can fix; the message says how. Printed without a stack trace. */
export class CliError extends Error {
  static override name = 'CliError'
  constructor (message: string, readonly exitCode = 1) {
    super(message)
    this.name = 'CliError'
  }
}
