/**
 * A multi-host network lab for tests, built from Linux network namespaces, with
 * real round-trip latency and packet loss between hosts for TCP and UDP alike.
 * Needs root (CI runs as root), iproute2 and python3; NAT also needs nftables or
 * iptables.
 *
 * Layout: one router namespace, and one namespace per host joined to the router
 * by a veth pair on its own /24 (host n, counting from 1, is 198.18.n.2 and the
 * router 198.18.n.1: 198.18.0.0/15 is the benchmarking range). This kernel has no
 * netem (NOTES.md), so delay and loss are added in user space: in the router,
 * policy routing sends every packet that arrives from a host link into a TUN
 * device, where test/netns/delay-tun.py holds it for half the RTT, drops it with
 * probability `loss`, and writes it back; the kernel then routes it by the main
 * table to its destination link. Each packet crosses the router once per
 * direction, so a round trip sees `rttMs` and loses about 2 * `loss`.
 *
 * A host listed in `nat` sits behind a NAT namespace of its own (nftables or
 * iptables masquerade): it has a private address 10.0.n.2 that no other host can
 * route to, and the NAT drops unsolicited packets from outside, as a home router
 * does, while the host's own connections out work.
 *
 * ```ts
 * const lab = await createLab({ hosts: ['a', 'b', 'browser'], rttMs: 40, loss: 0.01, nat: ['browser'] })
 * try {
 *   const server = lab.spawn('a', process.execPath, ['server.js']) // listens on 8080
 *   const { stdout } = await lab.exec('browser', process.execPath, ['-e',
 *     `fetch('http://${lab.address('a')}:8080/').then(r => r.text()).then(console.log)`])
 *   await lab.cut('a') // packets to and from a vanish until restore('a')
 *   await lab.restore('a')
 * } finally {
 *   await lab.close()
 * }
 * ```
 */
import { type ChildProcess, execFile, execFileSync, spawn, type SpawnOptions } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import type { Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const FORWARDER = fileURLToPath(new URL('./delay-tun.py', import.meta.url))
/** Policy routing table that sends everything from a host link into the TUN device. */
const DELAY_TABLE = 100
/** The forwarder's TUN device in the router (link names are per namespace, so labs never clash: the router's end of host n's link is h<n-1>). */
const TUN = 'tun0'
/**
 * Packets the kernel queues for the forwarder before it drops them (the TUN
 * device's txqueuelen): the lab's "router buffer". The default 500 overflowed in
 * a TCP burst at 40 ms RTT on a loaded 2-core machine (extra, unasked-for loss);
 * 4000 (~6 MB) did not, at the price of some queueing delay under bulk load.
 */
const TUN_QUEUE = 4000
/** Every namespace a lab makes is named `nl<pid>-<6 hex>-...`: the pid lets a later lab remove what a killed process left. */
const NAME_PREFIX = 'nl'
const STALE = /^nl(\d+)-[0-9a-f]{6}-/

/** What createLab builds. */
export interface LabOptions {
  /** Host names (letters, digits, `_` and `-`); each gets a namespace and its own link to the router. At most 254. */
  hosts: string[]
  /** Round-trip time added between any two hosts, in ms (half on each traversal of the router). Default 0. */
  rttMs?: number
  /** Drop probability per traversal of the router, 0..1 (a round trip loses about twice this). Default 0. */
  loss?: number
  /** Hosts that sit behind a NAT of their own: they can dial out, nobody can dial them. */
  nat?: string[]
  /** Seed for the forwarder's drop decisions, to make a run's losses repeatable. */
  seed?: number
  /**
   * Lets the forwarder take a TCP burst of up to 64 KB as one packet (segmentation
   * offload) instead of ~44 packets of 1500 bytes: 5-10 times the bulk throughput
   * (the 1500-byte default does ~30-80 MB/s here). The price: a burst is delayed and
   * dropped as one unit, so with loss a bulk TCP transfer sees fewer, larger loss
   * events than real per-packet loss. Small messages and UDP are unaffected.
   */
  gso?: boolean
  /** Python 3 to run the forwarder with. Default /usr/bin/python3 (Debian's) if present, else `python3` on PATH. */
  python?: string
}

/** Delay and loss of one link or of the whole lab. */
export interface LinkShape {
  /** Round-trip time in ms. */
  rttMs: number
  /** Drop probability per traversal, 0..1. */
  loss?: number
}

/** The forwarder's counters. */
export interface LabStats {
  /** Packets written back to the TUN device (delivered on to their destination link). */
  forwarded: number
  /** Packets dropped on purpose (the `loss` setting). */
  dropped: number
  /** Packets dropped because the forwarder's own queue was full (should stay 0). */
  overflow: number
  /** Packets the kernel refused when written back (should stay 0). */
  errors: number
  /** Packets the kernel dropped because the forwarder lagged behind and the TUN queue was full: loss on top of `loss`. */
  queueDrops: number
}

/** Result of Lab.exec. */
export interface ExecResult {
  /** Everything the command printed on stdout. */
  stdout: string
  /** Everything the command printed on stderr. */
  stderr: string
  /** Exit code, or null if it was killed (see signal and timedOut). */
  code: number | null
  /** Signal that ended it, if any. */
  signal: NodeJS.Signals | null
  /** True when exec killed it at timeoutMs. */
  timedOut: boolean
}

/** A running lab: see createLab. */
export interface Lab {
  /** Unique name of this lab, the prefix of all its namespace names: lets a test find or clean what belongs to it. */
  readonly id: string
  /** The hosts, in the order given (host n of the layout is hosts[n - 1]). */
  readonly hosts: readonly string[]
  /** The address of `host` on its own interface: what it listens on, and what others dial (a NAT'd host's is private, so others cannot reach it). */
  address(host: string): string
  /** The address others see `host` connect from: its NAT's outside address for a NAT'd host, else address(host). */
  publicAddress(host: string): string
  /** Name of the host's network namespace, for tools that take one (`ip netns exec`, `nsenter --net=/run/netns/NAME`). */
  namespace(host: string): string
  /**
   * Starts `command` inside the host's namespace (`ip netns exec`), with Node's
   * spawn options. Several processes can share a host. close() kills whatever is
   * still running in the lab's namespaces.
   */
  spawn(host: string, command: string, args?: readonly string[], options?: SpawnOptions): ChildProcess
  /** Runs `command` inside the host's namespace to its end and collects its output; never rejects on a non-zero exit. */
  exec(host: string, command: string, args?: readonly string[], options?: { timeoutMs?: number, input?: string, env?: NodeJS.ProcessEnv }): Promise<ExecResult>
  /**
   * Cuts `host` off: sets the router's end of its link down. Packets to and from
   * it are lost silently, as in a partition: a connection attempt either way times
   * out. With `unreachable`, the router answers packets for it with ICMP "network
   * unreachable" instead, so attempts fail at once (ENETUNREACH), as when a route
   * is withdrawn. Open TCP connections stay open and retransmit, and carry on after
   * restore() if they have not timed out meanwhile.
   */
  cut(host: string, options?: { unreachable?: boolean }): Promise<void>
  /** Undoes cut(host), resolving once the link carries packets again. */
  restore(host: string): Promise<void>
  /** Sets the delay and loss of every link that has no setting of its own (setLink). */
  setDefault(shape: LinkShape): Promise<void>
  /** Sets the delay and loss between hosts `a` and `b` (both directions), or with null puts them back on the default. */
  setLink(a: string, b: string, shape: LinkShape | null): Promise<void>
  /** The forwarder's counters so far. */
  stats(): Promise<LabStats>
  /**
   * Kills every process in the lab's namespaces and the forwarder, and deletes
   * the namespaces (which deletes their links). Idempotent. Resolves to the
   * forwarder's final counters. Also run (synchronously) on process exit and on
   * SIGINT/SIGTERM/SIGHUP, so a failed or interrupted test leaves nothing behind.
   */
  close(): Promise<LabStats | undefined>
}

interface HostInfo {
  name: string
  index: number
  ns: string
  natNs?: string
  address: string
  publicAddress: string
  /** 198.18.n.0, the key the forwarder matches a link's packets by. */
  subnet: string
}

/** Which NAT tool this machine has, or null: a lab with `nat` needs one. */
export function natTool(): 'nft' | 'iptables' | null {
  for (const tool of ['nft', 'iptables'] as const) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' })
      return tool
    } catch { /* not installed */ }
  }
  return null
}

/** True if this process may build a lab: root (network namespaces need it). */
export function canCreateLab(): boolean {
  return process.getuid?.() === 0
}

function sh(script: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-ec', script], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`network lab: ${err.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

/** Shell-quotes one word. */
function q(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`
}

/** Shell lines that write a sysctl inside a namespace (through /proc, so no dependency on procps). */
function sysctls(ns: string, settings: Record<string, string | number>): string {
  const writes = Object.entries(settings)
    .map(([key, value]) => `f=/proc/sys/${key.replace(/\./g, '/')}; if [ -e $f ]; then echo ${value} > $f; fi`)
    .join('; ')
  return `ip netns exec ${q(ns)} sh -c ${q(writes)}`
}

/** Shell lines that kill every process left in the namespaces and delete them; never fails. */
function teardownScript(namespaces: readonly string[]): string {
  return namespaces.map(ns => `ip netns pids ${q(ns)} 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del ${q(ns)} 2>/dev/null`).join('\n') + '\ntrue'
}

function listNamespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map(l => l.split(' ')[0]!).filter(Boolean)
  } catch {
    return []
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Removes the namespaces of labs whose process died without cleaning up (SIGKILL, a crash). */
function removeStaleLabs(): void {
  const stale = listNamespaces().filter(ns => {
    const m = STALE.exec(ns)
    return m !== null && !pidAlive(Number(m[1]))
  })
  if (stale.length > 0) execFileSync('sh', ['-c', teardownScript(stale)], { stdio: 'ignore' })
}

// Labs still open, cleaned up synchronously if the process exits or is signalled first.
const openLabs = new Set<{ closeSync(): void }>()
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

function closeAllSync(): void {
  for (const lab of [...openLabs]) lab.closeSync()
}

function onSignal(signal: NodeJS.Signals): void {
  closeAllSync()
  detachExitHooks()
  // Our listener is gone: if it was the only one, re-raising gets the default action
  // (the process ends as it would have without a lab). Other listeners have had it already.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
}

let hooksAttached = false
function attachExitHooks(): void {
  if (hooksAttached) return
  hooksAttached = true
  process.on('exit', closeAllSync)
  for (const s of SIGNALS) process.on(s, onSignal)
}
function detachExitHooks(): void {
  if (!hooksAttached) return
  hooksAttached = false
  process.off('exit', closeAllSync)
  for (const s of SIGNALS) process.off(s, onSignal)
}

function parseCounters(line: string): LabStats {
  const n = (key: string) => Number(new RegExp(`\\b${key}=(-?\\d+)`).exec(line)?.[1] ?? 0)
  return { forwarded: n('forwarded'), dropped: n('dropped'), overflow: n('overflow'), errors: n('errors'), queueDrops: n('queue_drops') }
}

function checkShape(shape: LinkShape): void {
  if (!(shape.rttMs >= 0) || !Number.isFinite(shape.rttMs)) throw new Error(`network lab: rttMs must be a number >= 0, got ${shape.rttMs}`)
  const loss = shape.loss ?? 0
  if (!(loss >= 0 && loss <= 1)) throw new Error(`network lab: loss must be within 0..1, got ${loss}`)
}

/**
 * Builds a lab: namespaces, links, the router with its delaying forwarder, and
 * the NATs. Rejects (after removing what it made) if a step fails.
 */
export async function createLab(options: LabOptions): Promise<Lab> {
  const { hosts, rttMs = 0, loss = 0, nat = [] } = options
  checkShape({ rttMs, loss })
  if (hosts.length === 0 || hosts.length > 254) throw new Error('network lab: between 1 and 254 hosts')
  for (const h of hosts) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(h)) throw new Error(`network lab: bad host name ${JSON.stringify(h)}`)
  }
  if (new Set(hosts).size !== hosts.length) throw new Error('network lab: host names must be unique')
  for (const h of nat) if (!hosts.includes(h)) throw new Error(`network lab: NAT'd host ${h} is not in hosts`)
  const natWith = nat.length > 0 ? natTool() : null
  if (nat.length > 0 && natWith === null) throw new Error('network lab: NAT needs nftables (nft) or iptables, neither is installed')
  const python = options.python ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3')

  removeStaleLabs()
  const id = `${NAME_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`
  const routerNs = `${id}-router`
  const info = new Map<string, HostInfo>()
  hosts.forEach((name, i) => {
    const n = i + 1
    const natted = nat.includes(name)
    info.set(name, {
      name,
      index: i,
      ns: `${id}-h-${name}`,
      natNs: natted ? `${id}-nat-${name}` : undefined,
      address: natted ? `10.0.${n}.2` : `198.18.${n}.2`,
      publicAddress: `198.18.${n}.2`,
      subnet: `198.18.${n}.0`,
    })
  })
  const namespaces = [routerNs, ...[...info.values()].flatMap(h => h.natNs ? [h.natNs, h.ns] : [h.ns])]

  let forwarder: ChildProcess | undefined
  const children = new Set<ChildProcess>()
  let closed = false
  const labHandle = {
    closeSync() {
      openLabs.delete(labHandle)
      if (openLabs.size === 0) detachExitHooks()
      closed = true
      for (const child of [...children, ...(forwarder ? [forwarder] : [])]) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      }
      try { execFileSync('sh', ['-c', teardownScript(namespaces)], { stdio: 'ignore' }) } catch { /* best effort at exit */ }
    },
  }
  openLabs.add(labHandle)
  attachExitHooks()

  // Forwarder protocol: one JSON command a line on stdin, one answer line on stdout, in order.
  const waiting: Array<(line: string) => void> = []
  let exitLine: string | undefined
  let forwarderOutput = ''
  let stdout: Socket | undefined
  const command = (msg: object): Promise<string> => {
    if (closed || !forwarder?.stdin?.writable) return Promise.reject(new Error(`network lab ${id}: forwarder not running\n${forwarderOutput}`))
    stdout?.ref()
    return new Promise<string>((resolve, reject) => {
      waiting.push(line => line.startsWith('error') ? reject(new Error(`network lab forwarder: ${line}`)) : resolve(line))
      forwarder!.stdin!.write(JSON.stringify(msg) + '\n')
    })
  }

  try {
    const lines: string[] = [
      `ip netns add ${q(routerNs)}`,
      ...[...info.values()].flatMap(h => h.natNs ? [`ip netns add ${q(h.natNs)}`, `ip netns add ${q(h.ns)}`] : [`ip netns add ${q(h.ns)}`]),
      ...namespaces.flatMap(ns => [
        `ip -n ${q(ns)} link set lo up`,
        // IPv6 off on the links made from here on (lo keeps ::1): no router solicitations or
        // DAD on the links, and no address family that the lab does not route.
        sysctls(ns, { 'net.ipv6.conf.default.disable_ipv6': 1 }),
      ]),
      // rp_filter off: a packet from host 1 comes back into the router on tun0, not on h0.
      sysctls(routerNs, { 'net.ipv4.ip_forward': 1, 'net.ipv4.conf.all.rp_filter': 0, 'net.ipv4.conf.default.rp_filter': 0 }),
      // Without the forwarder (not started yet, or dead) packets are dropped rather than routed undelayed.
      `ip -n ${q(routerNs)} route add blackhole default metric 4294967295 table ${DELAY_TABLE}`,
    ]
    const R = q(routerNs)
    for (const h of info.values()) {
      const n = h.index + 1
      const link = `h${h.index}`
      const H = q(h.ns)
      // The router's end of the link, and what arrives on it goes through the forwarder.
      const outer = h.natNs ? q(h.natNs) : H
      const outerIf = h.natNs ? 'wan' : 'eth0'
      lines.push(
        `ip -n ${R} link add ${link} type veth peer name ${outerIf} netns ${outer}`,
        `ip -n ${R} addr add 198.18.${n}.1/24 dev ${link}`,
        `ip -n ${R} link set ${link} up`,
        `ip -n ${R} rule add iif ${link} lookup ${DELAY_TABLE} pref 1000`,
        `ip -n ${outer} addr add 198.18.${n}.2/24 dev ${outerIf}`,
        `ip -n ${outer} link set ${outerIf} up`,
        `ip -n ${outer} route add default via 198.18.${n}.1`,
      )
      if (h.natNs) {
        const N = q(h.natNs)
        lines.push(
          sysctls(h.natNs, { 'net.ipv4.ip_forward': 1 }),
          `ip -n ${N} link add lan type veth peer name eth0 netns ${H}`,
          `ip -n ${N} addr add 10.0.${n}.1/24 dev lan`,
          `ip -n ${N} link set lan up`,
          `ip -n ${H} addr add 10.0.${n}.2/24 dev eth0`,
          `ip -n ${H} link set eth0 up`,
          `ip -n ${H} route add default via 10.0.${n}.1`,
        )
        // Masquerade what leaves by wan; drop anything new that comes in by wan (to the
        // NAT itself or routed on to the host), as a home router does.
        if (natWith === 'nft') {
          const rules = [
            'add table ip lab',
            'add chain ip lab postrouting { type nat hook postrouting priority srcnat; }',
            'add rule ip lab postrouting oifname "wan" masquerade',
            'add chain ip lab input { type filter hook input priority filter; }',
            'add rule ip lab input iifname "wan" ct state new,invalid drop',
            'add chain ip lab forward { type filter hook forward priority filter; }',
            'add rule ip lab forward iifname "wan" ct state new,invalid drop',
          ].join('\n')
          lines.push(`printf '%s\\n' ${q(rules)} | ip netns exec ${N} nft -f -`)
        } else {
          lines.push(
            `ip netns exec ${N} iptables -t nat -A POSTROUTING -o wan -j MASQUERADE`,
            `ip netns exec ${N} iptables -A INPUT -i wan -m conntrack --ctstate NEW,INVALID -j DROP`,
            `ip netns exec ${N} iptables -A FORWARD -i wan -m conntrack --ctstate NEW,INVALID -j DROP`,
          )
        }
      }
    }
    await sh(lines.join('\n'))
    // A veth end is "up" at once but has no carrier for a moment, and libuv leaves interfaces without one out of
    // os.networkInterfaces(): a node started then sees only loopback and announces 127.0.0.1 (a CI failure).
    const ends = [...info.values()].flatMap(h => [
      { ns: h.natNs ?? h.ns, dev: h.natNs ? 'wan' : 'eth0' }, { ns: routerNs, dev: `h${h.index}` },
      ...(h.natNs ? [{ ns: h.natNs, dev: 'lan' }, { ns: h.ns, dev: 'eth0' }] : []),
    ])
    for (const end of ends) {
      const deadline = Date.now() + 10_000
      while (!/[<,]LOWER_UP[,>]/.test(await sh(`ip -n ${q(end.ns)} link show ${end.dev}`))) {
        if (Date.now() > deadline) throw new Error(`network lab: ${end.dev} in ${end.ns} has no carrier after 10 s`)
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    }

    forwarder = spawn('ip', ['netns', 'exec', routerNs, python, FORWARDER, '--tun', TUN, '--delay', String(rttMs / 2), '--loss', String(loss),
      ...(options.seed !== undefined ? ['--seed', String(options.seed)] : []), ...(options.gso ? ['--gso'] : [])], { stdio: ['pipe', 'pipe', 'pipe'] })
    stdout = forwarder.stdout as Socket
    forwarder.stderr!.on('data', (d: Buffer) => { forwarderOutput += d.toString() })
    const ready = new Promise<void>((resolve, reject) => {
      waiting.push(line => line.startsWith('ready') ? resolve() : reject(new Error(`network lab forwarder: ${line}`)))
      forwarder!.once('exit', code => reject(new Error(`network lab forwarder exited (${code}) before it was ready\n${forwarderOutput}`)))
      forwarder!.once('error', reject)
    })
    createInterface({ input: forwarder.stdout! }).on('line', line => {
      if (line.startsWith('exit ')) { exitLine = line; return }
      const next = waiting.shift()
      if (next) next(line)
      if (waiting.length === 0) stdout?.unref()
    })
    forwarder.once('exit', () => {
      for (const next of waiting.splice(0)) next(`error forwarder exited\n${forwarderOutput}`)
    })
    await ready
    // A forgotten lab must not keep the process alive: the exit hook removes it then.
    forwarder.unref()
    ;(forwarder.stdin as Socket).unref()
    ;(forwarder.stderr as Socket).unref()
    await sh([
      `ip -n ${R} link set ${TUN} up txqueuelen ${TUN_QUEUE}`,
      `ip -n ${R} route add default dev ${TUN} table ${DELAY_TABLE}`,
    ].join('\n'))
  } catch (err) {
    labHandle.closeSync()
    throw err
  }

  const get = (host: string): HostInfo => {
    const h = info.get(host)
    if (!h) throw new Error(`network lab: no host ${JSON.stringify(host)} (hosts: ${hosts.join(', ')})`)
    return h
  }
  const linkUp = async (h: HostInfo): Promise<boolean> => {
    const out = await sh(`ip -n ${q(routerNs)} link show h${h.index}`)
    return /[<,]LOWER_UP[,>]/.test(out) && !out.includes('NO-CARRIER')
  }

  let closing: Promise<LabStats | undefined> | undefined
  const lab: Lab = {
    id,
    hosts: [...hosts],
    address: host => get(host).address,
    publicAddress: host => get(host).publicAddress,
    namespace: host => get(host).ns,
    spawn(host, cmd, args = [], spawnOptions = {}) {
      if (closed) throw new Error(`network lab ${id} is closed`)
      const child = spawn('ip', ['netns', 'exec', get(host).ns, cmd, ...args], spawnOptions)
      children.add(child)
      child.once('exit', () => children.delete(child))
      child.once('error', () => children.delete(child))
      return child
    },
    exec(host, cmd, args = [], execOptions = {}) {
      return new Promise<ExecResult>((resolve, reject) => {
        const child = lab.spawn(host, cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: execOptions.env })
        let stdoutText = ''
        let stderrText = ''
        let timedOut = false
        child.stdout!.on('data', (d: Buffer) => { stdoutText += d.toString() })
        child.stderr!.on('data', (d: Buffer) => { stderrText += d.toString() })
        const timer = execOptions.timeoutMs !== undefined
          ? setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, execOptions.timeoutMs)
          : undefined
        child.once('error', err => { clearTimeout(timer); reject(err) })
        child.once('close', (code, signal) => {
          clearTimeout(timer)
          resolve({ stdout: stdoutText, stderr: stderrText, code, signal, timedOut })
        })
        child.stdin!.on('error', () => { /* EPIPE: the command exited without reading its input */ })
        child.stdin!.end(execOptions.input ?? '')
      })
    },
    async cut(host, cutOptions = {}) {
      const h = get(host)
      const R = q(routerNs)
      // Link down takes the router's route to the host's /24 away; without one the
      // router answers "unreachable", so a blackhole route stands in for silence.
      await sh([
        `ip -n ${R} link set h${h.index} down`,
        `ip -n ${R} route del blackhole ${h.subnet}/24 2>/dev/null || true`,
        ...(cutOptions.unreachable ? [] : [`ip -n ${R} route add blackhole ${h.subnet}/24`]),
      ].join('\n'))
    },
    async restore(host) {
      const h = get(host)
      const R = q(routerNs)
      await sh(`ip -n ${R} route del blackhole ${h.subnet}/24 2>/dev/null || true\nip -n ${R} link set h${h.index} up`)
      const deadline = Date.now() + 5000
      while (!await linkUp(h)) {
        if (Date.now() > deadline) throw new Error(`network lab: link of ${host} did not come back up`)
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    },
    async setDefault(shape) {
      checkShape(shape)
      await command({ delay: shape.rttMs / 2, loss: shape.loss ?? 0 })
    },
    async setLink(a, b, shape) {
      const [ha, hb] = [get(a), get(b)]
      if (shape) checkShape(shape)
      for (const [src, dst] of [[ha, hb], [hb, ha]] as const) {
        await command(shape
          ? { src: src.subnet, dst: dst.subnet, delay: shape.rttMs / 2, loss: shape.loss ?? 0 }
          : { src: src.subnet, dst: dst.subnet, clear: true })
      }
    },
    async stats() {
      return parseCounters(await command({ stats: true }))
    },
    close() {
      closing ??= (async () => {
        if (closed) return undefined
        // Processes first (so nothing is left inside a namespace), then the forwarder, whose
        // last line has the final counters, then the namespaces, which takes their links along.
        // 'close' for the forwarder: its last line (the counters) is read by then.
        const stop = async (child: ChildProcess, signal: NodeJS.Signals, event: 'exit' | 'close' = 'exit') => {
          if (child.exitCode !== null || child.signalCode !== null) return
          const exited = new Promise(resolve => child.once(event, resolve))
          child.kill(signal)
          const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
          await exited
          clearTimeout(timer)
        }
        await Promise.all([...children].map(c => stop(c, 'SIGTERM')))
        stdout?.ref()
        if (forwarder) await stop(forwarder, 'SIGTERM', 'close')
        closed = true
        await sh(teardownScript(namespaces))
        openLabs.delete(labHandle)
        if (openLabs.size === 0) detachExitHooks()
        return exitLine ? parseCounters(exitLine) : undefined
      })()
      return closing
    },
  }
  return lab
}
