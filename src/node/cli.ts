import { readFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { isIP } from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { parseAddress, parseAnnounce, parsePublicUrl } from './address.js'
import { adminCommand } from './admin-command.js'
import { banner } from './banner.js'
import { CliError } from './cli-error.js'
import { ownPorts, portClash, type OwnPort } from './own-ports.js'
import { printMembers } from './members-command.js'
import { CIRCUIT_DEFAULTS, type PresetName } from './mesh.js'
import { LIFECYCLE_INTERVAL_MS, startServer, type RunningServer } from './server.js'
import { SCAN_INTERVAL_MS } from './disk-store.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

/** A parser's CliError as commander's InvalidArgumentError, so the message comes with the usage hint. */
function cliArg<T> (parse: (value: string) => T, value: string): T {
  try {
    return parse(value)
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err))
  }
}

function addressArg (value: string): { host: string, port: number } {
  return cliArg(parseAddress, value)
}

/** --join: a member's multiaddr, as its banner prints it (retried at start until one answers: garbage would be retried forever). */
function joinArg (value: string): string {
  const bad = (why: string): InvalidArgumentError => new InvalidArgumentError(`--join "${value}" is not a member's multiaddr (${why}): give the one a member's banner prints, such as /ip4/127.0.0.1/tcp/9100/p2p/12D3Koo...`)
  if (!value.startsWith('/') || value.length < 2) throw bad('a multiaddr starts with /')
  let components: Array<{ name: string, value?: string }>
  try {
    // Read whole now: the parse is lazy, and a bad part would surface only at each dial.
    components = multiaddr(value).getComponents()
  } catch (err) {
    throw bad(err instanceof Error ? err.message : String(err))
  }
  for (const c of components) {
    if (c.name !== 'p2p') continue
    try { peerIdFromString(c.value ?? '') } catch { throw bad(`"${c.value ?? ''}" is not a peer id`) }
  }
  return value
}

/** --mesh-address: libp2p listens on an IPv4 address (not a name), and its WebSockets on the next port. */
function meshAddressArg (value: string): { host: string, port: number } {
  const address = cliArg(v => parseAddress(v, '--mesh-address'), value)
  if (isIP(address.host) !== 4) throw new InvalidArgumentError(`--mesh-address "${value}" needs an IPv4 address (the mesh listens on IPv4; a name is not an address): 0.0.0.0 for every interface, or one of this machine's.`)
  if (address.port === 65535) throw new InvalidArgumentError(`--mesh-address "${value}": the mesh's WebSockets listen on the next port, and there is none after 65535. Pick a lower port.`)
  return address
}

function positiveInt (value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < 1 || n > 16) throw new InvalidArgumentError('give a whole number from 1 to 16.')
  return n
}

/**
 * Stops on SIGINT/SIGTERM after requests in flight finish; a second signal
 * stops at once. SIGHUP too when it reloads nothing (no --certs-dir): the
 * terminal the node ran in closed, and its default, dying on the spot, would
 * cut off the requests under way and leave the others to find the node dead.
 */
function stopOnSignals (server: RunningServer, hangup: boolean): void {
  let stopping = false
  const stop = (signal: NodeJS.Signals): void => {
    const hungUp = signal === 'SIGHUP'
    if (hungUp) deafWhenHungUp()
    // A closing terminal may send it twice (the kernel, and the shell to its jobs): only SIGINT or SIGTERM stops at once.
    if (hungUp && stopping) return
    if (stopping) {
      process.stderr.write(`s3mesh: ${signal} again, stopping now\n`)
      process.exit(130)
    }
    stopping = true
    process.stderr.write(`s3mesh: ${signal}, finishing requests in flight (${hungUp ? 'SIGINT or SIGTERM stops at once' : 'send it again to stop at once'})\n`)
    server.close().then(() => process.exit(0), err => {
      process.stderr.write(`s3mesh: error while stopping: ${String(err)}\n`)
      process.exit(1)
    })
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  if (hangup) process.on('SIGHUP', stop)
}

/**
 * After a SIGHUP the terminal may be gone: what is written to it then fails
 * (EIO), which must not end the process (half-way through its stop, or
 * after a certificate's reload).
 */
function deafWhenHungUp (): void {
  if (deaf) return
  deaf = true
  process.stdout.on('error', () => {})
  process.stderr.on('error', () => {})
}
let deaf = false

/** SIGHUP reads the certificate again; a bad one is reported and the old one kept. */
function reloadOnHangup (server: RunningServer): void {
  process.on('SIGHUP', () => {
    deafWhenHungUp()
    server.reloadCertificates().then(c => {
      process.stderr.write(`s3mesh: SIGHUP, serving the certificate in ${c.dir}/public.crt (SHA-256 ${c.fingerprint.slice(0, 23)}…, valid until ${c.validTo.toISOString()}) to new connections\n`)
    }, (err: unknown) => {
      process.stderr.write(`s3mesh: SIGHUP, certificate not reloaded, still serving the previous one: ${err instanceof Error ? err.message : String(err)}\n`)
    })
  })
}

/** The flags `server` and `relay` read. */
interface ServerFlags {
  address: { host: string, port: number }
  region: string
  domain?: string[]
  fsync: boolean
  scanInterval: number
  lifecycleInterval: number
  meshAddress: { host: string, port: number }
  join?: string[]
  cluster: string
  membership: PresetName
  mesh: boolean
  replicas: number
  consoleAddress: { host: string, port: number }
  console: boolean
  certsDir?: string
  announce?: string[]
  publicUrl?: string
  circuitDuration: number
  circuitBytes: number
  relayReservations: number
  circuitsPerPeer: number
  webrtcDirect: boolean
}

/** A count or size for a flag: a whole number from `min` to `max`, with K, M or G (binary) for sizes. */
function wholeNumber (flag: string, sizes: boolean, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const m = /^(\d+)\s*([KMG]i?B?)?$/i.exec(value.trim())
    if (m === null || (!sizes && m[2] !== undefined)) throw new InvalidArgumentError(`${flag} takes a whole number${sizes ? ' of bytes (K, M or G allowed, e.g. 512M)' : ''}.`)
    const unit = m[2] === undefined ? 1 : 1024 ** ('KMG'.indexOf(m[2][0]!.toUpperCase()) + 1)
    const n = Number(m[1]) * unit
    if (n < min || n > max) throw new InvalidArgumentError(`${flag} takes ${min === 0 ? '0 (no limit) or more' : `${min} or more`}${max < Number.MAX_SAFE_INTEGER ? `, up to ${max}` : ''}.`)
    return n
  }
}

/** Mesh flags both `server` and `relay` take. */
function meshFlags (command: Command, meshDefault: string): Command {
  return command
    .addOption(new Option('--mesh-address <host:port>', 'where this node listens for mesh peers (TCP; WebSockets on the next port)').default(meshAddressArg(meshDefault), meshDefault).argParser(meshAddressArg))
    .option('--join <multiaddr>', 'join the mesh through this member (repeat for several)', (value: string, previous: string[] = []) => [...previous, joinArg(value)])
    .option('--cluster <name>', 'the cluster name: nodes of other clusters are refused', 's3mesh')
    .addOption(new Option('--membership <preset>', 'membership timing preset (memberlist\'s)').choices(['lan', 'wan', 'local']).default('lan'))
    .option('--announce <multiaddr>', 'tell other members and tabs to dial this address instead of the ones listened on (behind NAT or a proxy; repeat for several)', (value: string, previous: string[] = []) => [...previous, cliArg(parseAnnounce, value)])
    .option('--certs-dir <dir>', 'serve TLS (https, wss) on the same ports: <dir>/public.crt and <dir>/private.key in PEM, <dir>/CAs/ for peers\' CAs; reloaded on SIGHUP')
    .option('--no-webrtc-direct', 'do not listen on WebRTC-direct (UDP, the mesh port\'s number), which tabs on https pages use when the WebSockets certificate is not one they trust')
    .option('--circuit-duration <seconds>', 'longest a connection relayed through this node stays open, up to 2147483 (0: no limit)', wholeNumber('--circuit-duration', false, 0, 2_147_483), CIRCUIT_DEFAULTS.durationMs / 1000)
    .option('--circuit-bytes <size>', 'most bytes a relayed connection carries, both directions together (0: no limit)', wholeNumber('--circuit-bytes', true, 0), CIRCUIT_DEFAULTS.bytes)
    .option('--relay-reservations <n>', 'how many peers may be reachable through this node at once', wholeNumber('--relay-reservations', false, 1), CIRCUIT_DEFAULTS.reservations)
    .option('--circuits-per-peer <n>', 'relayed connections one peer may have open at once through its connection to this node', wholeNumber('--circuits-per-peer', false, 1), CIRCUIT_DEFAULTS.perPeer)
}

/**
 * Says so when a flag given on the command line is left unused by `off` (a
 * --no- flag given there too): a user who asked for both would otherwise not
 * learn that one of them does nothing. A warning, not a refusal: a script
 * that always passes its addresses and switches the mesh off still starts.
 */
function warnUnused (command: Command, off: string, unused: string[]): void {
  if (command.getOptionValueSource(off) !== 'cli') return
  const flag = (name: string): string => command.options.find(o => o.attributeName() === name)?.long ?? name
  const given = unused.filter(name => command.getOptionValueSource(name) === 'cli')
  if (given.length > 0) process.stderr.write(`s3mesh: ${given.map(flag).join(', ')} ${given.length === 1 ? 'does' : 'do'} nothing with --no-${off}: ignored.\n`)
}

/** Refuses, before anything starts, flags that give two of the node's listeners one port. */
function refuseClashes (ports: OwnPort[]): void {
  const clash = portClash(ports)
  if (clash !== undefined) throw new CliError(clash, 2)
}

function meshOf (opts: ServerFlags): NonNullable<Parameters<typeof startServer>[0]['mesh']> {
  return {
    host: opts.meshAddress.host, port: opts.meshAddress.port, join: opts.join ?? [], cluster: opts.cluster, preset: opts.membership, version: pkg.version,
    ...(opts.replicas === undefined ? {} : { replicas: opts.replicas }),
    ...(opts.announce === undefined ? {} : { announce: opts.announce }),
    circuits: { durationMs: opts.circuitDuration * 1000, bytes: opts.circuitBytes, reservations: opts.relayReservations, perPeer: opts.circuitsPerPeer },
    webrtcDirect: opts.webrtcDirect,
  }
}

export function buildCli (): Command {
  const program = new Command('s3mesh')
    // Set before the commands are added, which take it from here: main() decides how each error exits.
    .exitOverride()
    .description('An S3-compatible object store that runs as a peer-to-peer mesh.')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
  const server = program.command('server')
    .description('Serve a data folder over S3: buckets are its folders, objects their files.')
    .argument('<dir>', 'the data folder (created if missing)')
    .addOption(new Option('--address <host:port>', 'where the S3 API listens (:9000 for every interface)').default(addressArg('127.0.0.1:9000'), '127.0.0.1:9000').argParser(addressArg))
    .option('--region <name>', 'region reported to clients', 'us-east-1')
    // Not variadic (`<name...>`): that would take the data folder after it for a domain.
    .option('--domain <names>', 'host names for virtual-hosted-style requests (bucket.<domain>): repeat, or separate with commas, for several', (value: string, previous: string[] = []) => [...previous, ...value.split(',').map(d => d.trim()).filter(d => d !== '')])
    .option('--no-fsync', 'do not fsync before acknowledging writes (faster; data may be lost on power failure)')
    .option('--scan-interval <seconds>', 'how often bucket folders are scanned for files placed by hand (0: only at start; a file is also found when it is read)', wholeNumber('--scan-interval', false, 0, 86_400), SCAN_INTERVAL_MS / 1000)
    .option('--lifecycle-interval <seconds>', 'how often buckets\' lifecycle rules are applied (expired objects deleted, old uploads aborted)', wholeNumber('--lifecycle-interval', false, 1, 86_400), LIFECYCLE_INTERVAL_MS / 1000)
  meshFlags(server, '127.0.0.1:9100')
    .option('--replicas <n>', 'copies of each object on distinct durable members', positiveInt, 2)
    .option('--no-mesh', 'serve S3 alone, without joining or starting a mesh')
    .addOption(new Option('--console-address <host:port>', 'where the console, /s3mesh.js and the service worker /s3mesh-sw.js are served').default(addressArg('127.0.0.1:9001'), '127.0.0.1:9001').argParser(addressArg))
    .option('--no-console', 'serve no console (nor the browser library and service worker)')
    .option('--public-url <url>', 'the S3 endpoint as clients reach it (behind a reverse proxy), shown in the banner and told to the mesh', (value: string) => cliArg(parsePublicUrl, value))
    .addHelpText('after', `
Root credentials come from S3MESH_ROOT_USER and S3MESH_ROOT_PASSWORD, or are
generated on first start and kept in <dir>/.s3mesh/credentials.json (mode 0600).
The cluster key comes from S3MESH_CLUSTER_KEY, or is generated by the first node
and kept in <dir>/.s3mesh/cluster-key (mode 0600); the banner prints both.
Several keys, comma-separated: the first seals, all open. To rotate without
downtime, restart every node with OLD,NEW, then every node with NEW,OLD, then
with NEW alone.

Examples:
  s3mesh server ./data
  s3mesh server ./data --address 0.0.0.0:9000
  s3mesh server ./data --address 0.0.0.0:9000 --mesh-address 0.0.0.0:9100 --certs-dir ./certs --announce /dns4/node1.example.com/tcp/9101/tls/ws
  S3MESH_CLUSTER_KEY=... s3mesh server ./data2 --address 127.0.0.1:9010 --console-address 127.0.0.1:9011 --mesh-address 127.0.0.1:9110 --join /ip4/127.0.0.1/tcp/9100/p2p/12D3Koo...`)
    .action(async (dir: string, opts: ServerFlags, command: Command) => {
      warnUnused(command, 'mesh', ['meshAddress', 'join', 'cluster', 'membership', 'announce', 'replicas', 'webrtcDirect', 'circuitDuration', 'circuitBytes', 'relayReservations', 'circuitsPerPeer'])
      warnUnused(command, 'console', ['consoleAddress'])
      refuseClashes(ownPorts({ address: opts.address, ...(opts.console ? { console: opts.consoleAddress } : {}), ...(opts.mesh ? { mesh: opts.meshAddress } : {}) }))
      const running = await startServer({
        dataDir: dir, host: opts.address.host, port: opts.address.port, region: opts.region, domains: opts.domain, fsync: opts.fsync, scanIntervalMs: opts.scanInterval * 1000, lifecycleIntervalMs: opts.lifecycleInterval * 1000,
        ...(opts.mesh ? { mesh: meshOf(opts) } : {}),
        ...(opts.console ? { console: opts.consoleAddress } : {}),
        ...(opts.certsDir === undefined ? {} : { certsDir: opts.certsDir }),
        ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
      })
      process.stdout.write(banner(running, dir, pkg.version, opts.address.host))
      stopOnSignals(running, opts.certsDir === undefined)
      if (opts.certsDir !== undefined) reloadOnHangup(running)
    })
  const relay = program.command('relay')
    .description('Relay for browser tabs and admit them, keep the member list, store nothing: a member that never holds a replica.')
    .argument('<dir>', 'a folder for its identity, the cluster key and the users (created if missing); it holds no objects')
    .addOption(new Option('--address <host:port>', 'where its HTTP API listens (browser joins, members, health, metrics)').default(addressArg('127.0.0.1:9200'), '127.0.0.1:9200').argParser(addressArg))
    .option('--public-url <url>', 'its API as browsers reach it (behind a TLS reverse proxy), shown in the banner', (value: string) => cliArg(parsePublicUrl, value))
  meshFlags(relay, '127.0.0.1:9300')
    .addHelpText('after', `
A relay joins a mesh (--join, with S3MESH_CLUSTER_KEY) and lets browser tabs
reach it over WebSockets (wss with --certs-dir) and each other through it
(circuit relay v2, WebRTC signalling). It admits tabs with their users' rights
as storage nodes do, and answers S3 requests with NotImplemented naming the
storage nodes. The member list shows it with role "relay".

Example:
  S3MESH_CLUSTER_KEY=... s3mesh relay ./relay --address 0.0.0.0:443 --mesh-address 0.0.0.0:9100 \\
    --certs-dir ./certs --join /ip4/10.0.0.1/tcp/9100/p2p/12D3Koo...`)
    .action(async (dir: string, opts: ServerFlags) => {
      if ((opts.join ?? []).length === 0) throw new CliError('A relay joins an existing mesh: give --join <a member\'s multiaddr> (and S3MESH_CLUSTER_KEY).', 2)
      // A storage node's folder would have its objects adopted and announced by a member that must hold none.
      const held = await readdir(dir).then(names => names.filter(n => n !== '.s3mesh'), () => [])
      if (held.length > 0) throw new CliError(`${dir} holds ${held.slice(0, 3).join(', ')}${held.length > 3 ? ', ...' : ''}: a relay holds no objects. Give it a folder of its own (empty, or one only a relay used).`, 2)
      refuseClashes(ownPorts({ address: opts.address, mesh: opts.meshAddress }))
      const running = await startServer({
        dataDir: dir, host: opts.address.host, port: opts.address.port, role: 'relay', mesh: meshOf(opts),
        ...(opts.certsDir === undefined ? {} : { certsDir: opts.certsDir }),
        ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
      })
      process.stdout.write(banner(running, dir, pkg.version, opts.address.host))
      stopOnSignals(running, opts.certsDir === undefined)
      if (opts.certsDir !== undefined) reloadOnHangup(running)
    })
  program.command('members')
    .description('List the members of the mesh a node belongs to.')
    .requiredOption('--endpoint <url>', 'the node\'s S3 endpoint, e.g. http://127.0.0.1:9000')
    .option('--access-key <key>', 'root access key (default: S3MESH_ROOT_USER or AWS_ACCESS_KEY_ID)')
    .option('--secret-key <key>', 'root secret key (default: S3MESH_ROOT_PASSWORD or AWS_SECRET_ACCESS_KEY)')
    .option('--json', 'print the JSON the node returns')
    .action(async (opts: { endpoint: string, accessKey?: string, secretKey?: string, json?: boolean }) => {
      await printMembers(opts, process.env)
    })
  program.addCommand(adminCommand(process.env))
  return program
}

export async function main (argv: string[]): Promise<void> {
  const program = buildCli()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    // A flag or argument commander refused is a usage error: 2, as the admin commands and CliError's usage errors exit (docs/running.md).
    if (err instanceof CommanderError) process.exit(err.exitCode === 1 ? 2 : err.exitCode)
    if (err instanceof CliError) {
      process.stderr.write(`s3mesh: ${err.message}\n`)
      process.exit(err.exitCode)
    }
    throw err
  }
}
