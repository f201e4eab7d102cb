import { readFileSync } from 'node:fs'
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { parseAddress } from './address.js'
import { banner } from './banner.js'
import { CliError } from './cli-error.js'
import { startServer, type RunningServer } from './server.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

function addressArg (value: string): { host: string, port: number } {
  try {
    return parseAddress(value)
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err))
  }
}

/** Stops on SIGINT/SIGTERM after requests in flight finish; a second signal stops at once. */
function stopOnSignals (server: RunningServer): void {
  let stopping = false
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`s3mesh: ${signal} again, stopping now\n`)
      process.exit(130)
    }
    stopping = true
    process.stderr.write(`s3mesh: ${signal}, finishing requests in flight (send it again to stop at once)\n`)
    server.close().then(() => process.exit(0), err => {
      process.stderr.write(`s3mesh: error while stopping: ${String(err)}\n`)
      process.exit(1)
    })
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

export function buildCli (): Command {
  const program = new Command('s3mesh')
    .description('An S3-compatible object store that runs as a peer-to-peer mesh.')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
  program.command('server')
    .description('Serve a data folder over S3: buckets are its folders, objects their files.')
    .argument('<dir>', 'the data folder (created if missing)')
    .addOption(new Option('--address <host:port>', 'where the S3 API listens (:9000 for every interface)').default(addressArg('127.0.0.1:9000'), '127.0.0.1:9000').argParser(addressArg))
    .option('--region <name>', 'region reported to clients', 'us-east-1')
    .option('--domain <name...>', 'host names for virtual-hosted-style requests (bucket.<domain>)')
    .option('--no-fsync', 'do not fsync before acknowledging writes (faster; data may be lost on power failure)')
    .addHelpText('after', `
Root credentials come from S3MESH_ROOT_USER and S3MESH_ROOT_PASSWORD, or are
generated on first start and kept in <dir>/.s3mesh/credentials.json (mode 0600).

Examples:
  s3mesh server ./data
  s3mesh server ./data --address 0.0.0.0:9000`)
    .action(async (dir: string, opts: { address: { host: string, port: number }, region: string, domain?: string[], fsync: boolean }) => {
      const server = await startServer({ dataDir: dir, host: opts.address.host, port: opts.address.port, region: opts.region, domains: opts.domain, fsync: opts.fsync })
      process.stdout.write(banner(server, dir, pkg.version, opts.address.host))
      stopOnSignals(server)
    })
  return program
}

export async function main (argv: string[]): Promise<void> {
  const program = buildCli().exitOverride()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode)
    if (err instanceof CliError) {
      process.stderr.write(`s3mesh: ${err.message}\n`)
      process.exit(err.exitCode)
    }
    throw err
  }
}
