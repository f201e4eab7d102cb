import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p, Libp2pEvents } from '@libp2p/interface'
import type { TypedEventTarget } from 'main-event'
import { quietNoise } from '../core/wire/noise-reads.js'
import { webRTCDirect } from '@libp2p/webrtc'
import { createLibp2p } from 'libp2p'
import { statfs } from 'node:fs/promises'
import { PRESETS, type MembershipConfig } from '../core/membership/config.js'
import { decodeNodeMeta } from '../core/membership/node-meta.js'
import { Keyring } from '../core/wire/keyring.js'
import { meshMuxer } from '../core/wire/mesh-muxer.js'
import { joinedWebSockets } from '../core/wire/joined-websockets.js'
import type { MembershipTransport } from '../core/membership/libp2p-transport.js'
import { GOSSIPSUB_OPTIONS, INBOUND_CONNECTIONS_PER_HOST_PER_SECOND, type MeshConfig } from '../core/mesh/config.js'
import { startMember } from '../core/mesh/member.js'
import type { MeshNode } from '../core/mesh/mesh-node.js'
import type { ObjectStore } from '../core/object-store.js'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import type { AccessState } from '../core/access/access-state.js'
import { AccessSync } from '../core/mesh/access-sync.js'
import type { AccessControl, Principal } from '../core/access/access-control.js'
import { DEFAULT_ADMISSION_MS, issueAdmission } from '../core/access/admission.js'
import { GuestGate } from '../core/mesh/guest-gate.js'
import { joinSeeds } from '../core/mesh/join-seeds.js'
import { GuestService } from '../core/mesh/guest-service.js'
import type { BrowserJoinInfo } from '../gateway/mesh-api.js'
import { CatalogDb } from './catalog-db.js'
import { nodeAead } from './node-aead.js'
import { corkedTcp } from './corked-tcp.js'
import { noiseCrypto } from './noise-crypto.js'
import { webRTCDirectCertificate } from './webrtc-direct-cert.js'
import { guardedWebRTCDirect } from './guarded-webrtc-direct.js'
import { strangerGrace } from './stranger-connections.js'
import { KnownPeers } from './known-peers.js'
import { clusterKeys, peerKey, type ClusterKey } from './node-keys.js'
import { transportOf } from '../core/wire/dial-first.js'
import { nodeHashes } from './node-hashes.js'
import { CliError } from './cli-error.js'
import { freeUdpPort } from './free-udp-port.js'
import { codeOf } from './disk-files.js'
import type { DiskLayout } from './disk-layout.js'

export type PresetName = 'lan' | 'wan' | 'local'

/**
 * What one node relays for others (circuit relay v2: tabs reach it and each
 * other through it). libp2p's own defaults (2 minutes and 128 KiB a circuit,
 * 15 reservations) suit signalling only; these carry object traffic.
 */
export interface CircuitLimits {
  /** How long one relayed connection may stay open, ms (at most 2^31 - 1, a timer's limit); 0 for no limit. A tab redials when it ends. */
  durationMs: number
  /** How many bytes one relayed connection may carry, both directions together; 0 for no limit. */
  bytes: number
  /** How many peers may hold a reservation (be reachable through this node) at once. */
  reservations: number
  /** How many relayed connections one peer may have open at once through one connection to this node (libp2p counts hop streams per connection). */
  perPeer: number
}

/** An hour and 1 GiB a circuit, 1024 reservations, 64 circuits a peer. */
export const CIRCUIT_DEFAULTS: CircuitLimits = { durationMs: 3_600_000, bytes: 1024 ** 3, reservations: 1024, perPeer: 64 }

/**
 * The relay server's settings for these limits; 0 means none (the longest a
 * timer takes, the most bytes a counter holds). With neither limit, relayed
 * connections are not "limited" in libp2p's sense: every protocol runs on them.
 */
function relayInit (limits: CircuitLimits): Parameters<typeof circuitRelayServer>[0] {
  const none = limits.durationMs === 0 && limits.bytes === 0
  return {
    maxInboundHopStreams: limits.perPeer,
    reservations: {
      maxReservations: limits.reservations,
      applyDefaultLimit: !none,
      defaultDurationLimit: limits.durationMs === 0 ? 2 ** 31 - 1 : limits.durationMs,
      defaultDataLimit: BigInt(limits.bytes === 0 ? 2 ** 53 : limits.bytes),
    },
  }
}

export interface MeshOptions {
  layout: DiskLayout
  /** TCP listen address; WebSockets listen on the next port (or a free one when port is 0). */
  host: string
  port: number
  /** Multiaddrs of members to join through; empty starts a new cluster. */
  join: string[]
  /** The cluster's name: messages sealed for another name do not open. */
  cluster: string
  preset: PresetName
  env: NodeJS.ProcessEnv
  version: string
  /** The node's own store, which the object mesh serves and fills. */
  store: ObjectStore
  /** Object mesh settings (replicas, write quorum, ...) over MESH_DEFAULTS. */
  objects?: Partial<MeshConfig>
  /** Users, keys and policies: kept the same on every durable member. */
  access?: AccessState
  /** How often access anti-entropy runs with a random member, ms (default 30 s). */
  accessSyncMs?: number
  /** A certificate and key (PEM): the WebSockets port then speaks wss only (browsers on https pages need it). */
  tls?: { key: string, cert: string }
  /**
   * Multiaddrs to tell others instead of the ones listened on (--announce):
   * for a node behind NAT or a proxy, whose own addresses nobody can dial.
   */
  announce?: string[]
  /** This node's S3 endpoint as clients reach it (--public-url, else where it listens), told to the others. */
  url?: string
  /** durable (default) holds replicas; a relay relays, keeps the member list and admits tabs, and never holds an object. */
  role?: 'durable' | 'relay'
  /** Circuit relay limits (CIRCUIT_DEFAULTS unless given). */
  circuits?: CircuitLimits
  /**
   * Listen on WebRTC-direct too (UDP, the mesh port's number): tabs on https
   * pages reach the node that way when its WebSockets have no certificate
   * they trust. Default true.
   */
  webrtcDirect?: boolean
}

export interface RunningMesh {
  libp2p: Libp2p
  /** The cluster key(s) this node seals with. */
  keyring: Keyring
  transport: MembershipTransport
  /** The object mesh: its `store` is what the S3 handler serves. */
  node: MeshNode
  /** Dialable addresses (what another node's --join takes). */
  addresses: string[]
  clusterKey: ClusterKey
  /** Gossips and reconciles the access state, when one was given. */
  accessSync?: AccessSync
  /**
   * Starts serving guests (browser tabs admitted by a node) with the node's
   * access control, which decides each of their requests.
   */
  admitGuests: (access: AccessControl) => Promise<GuestService>
  /** Admits a tab's peer id for a principal that signed its join (GET /_s3mesh/v1/browser-join); admitGuests first. */
  browserJoin: (principal: Principal, peer: string, sourceIp?: string) => Promise<BrowserJoinInfo>
  /** Serves a new certificate on the WebSockets port from the next connection on; open ones keep theirs. */
  renewCertificate: (tls: { key: string, cert: string }) => void
  /** Leaves (when asked) and stops. */
  stop: (options?: { leave?: boolean }) => Promise<void>
}

/**
 * A libp2p service that only hands a renewed certificate to the WebSockets
 * listener, through the event libp2p's own auto-tls uses: the listener makes
 * a new https server for new connections and leaves open ones alone.
 */
function certificateRenewer () {
  return (components: { events: TypedEventTarget<Libp2pEvents> }) => ({
    renew: (detail: { key: string, cert: string }) => { components.events.safeDispatchEvent('certificate:renew', { detail }) },
  })
}

/** S3MESH_ADMISSION_SECONDS: how long a tab's admission lasts (default 60 s): revocation reaches tab-to-tab traffic within it. */
function admissionLifetime (env: NodeJS.ProcessEnv): number {
  const text = env.S3MESH_ADMISSION_SECONDS
  if (text === undefined || text === '') return DEFAULT_ADMISSION_MS
  const seconds = Number(text)
  if (!Number.isInteger(seconds) || seconds < 2 || seconds > 3600) throw new CliError(`S3MESH_ADMISSION_SECONDS must be a whole number of seconds from 2 to 3600, not "${text}".`, 2)
  return seconds * 1000
}

/** How often the free disk space (and what the node holds) is read, and how much it must move (a fraction) before the others are told: each telling is one message to every member. */
const FREE_SPACE_CHECK_MS = 60_000
const FREE_SPACE_CHANGE = 0.01

/** Bytes free for this process on the file system holding `dir`; undefined if it cannot be read. */
async function freeBytes (dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir)
    return s.bavail * s.bsize
  } catch {
    return undefined
  }
}

/** Addresses others can use first: loopback ones (only this machine reaches them) last, the order otherwise kept. */
export function bestFirst (addrs: string[]): string[] {
  const local = (a: string): boolean => /^\/ip4\/127\.|^\/ip6\/::1\//.test(a)
  return [...addrs.filter(a => !local(a)), ...addrs.filter(local)]
}

/** Starts this node's libp2p peer and its membership, and joins the given members. */
export async function startMesh (o: MeshOptions): Promise<RunningMesh> {
  const config: MembershipConfig = PRESETS[o.preset.toUpperCase() as keyof typeof PRESETS]
  const key = await clusterKeys(o.layout, o.env, o.join.length > 0)
  const wsPort = o.port === 0 ? 0 : o.port + 1
  let libp2p: Libp2p<{ identify: unknown, relay: unknown, pubsub: GossipSub, certificates: { renew: (detail: { key: string, cert: string }) => void } }>
  const privateKey = await peerKey(o.layout)
  const direct = o.webrtcDirect === false ? undefined : await webRTCDirectCertificate(o.layout)
  // Port 0: a port the kernel just gave UDP, and another if it was taken before libjuice bound it.
  let udpPort = direct === undefined || o.port !== 0 ? o.port : await freeUdpPort()
  // The members (once the membership runs) and the tabs this node admitted: the only peers its relay serves, and the only
  // ones that stay connected.
  const known = new KnownPeers(strangerGrace(o.env))
  for (let attempt = 1; ; attempt++) try {
    libp2p = await createLibp2p({
      privateKey,
      addresses: {
        listen: [
          `/ip4/${o.host}/tcp/${o.port}`, `/ip4/${o.host}/tcp/${wsPort}${o.tls === undefined ? '' : '/tls'}/ws`,
          ...(direct === undefined ? [] : [`/ip4/${o.host}/udp/${udpPort}/webrtc-direct`]),
        ],
        ...(o.announce === undefined || o.announce.length === 0 ? {} : { announce: o.announce }),
      },
      transports: [
        corkedTcp(), joinedWebSockets(o.tls === undefined ? {} : { https: { key: o.tls.key, cert: o.tls.cert } }),
        // No STUN servers: a node is dialled at the address it announces.
        ...(direct === undefined ? [] : [guardedWebRTCDirect(webRTCDirect({ certificate: direct, rtcConfiguration: { iceServers: [] } }))]),
      ],
      connectionEncrypters: [quietNoise({ crypto: noiseCrypto })],
      streamMuxers: [meshMuxer()],
      // Room for every reservation the relay offers (each is a tab's connection), beyond libp2p's default of 300.
      // And room for connections mid-handshake beyond libp2p's 10, which ten idle sockets held (turning every other dial away).
      connectionManager: { inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_HOST_PER_SECOND, maxConnections: Math.max(300, (o.circuits ?? CIRCUIT_DEFAULTS).reservations + 256), maxIncomingPendingConnections: 256 },
      connectionGater: known.gater(),
      services: {
        // gossipsub needs identify to learn which peers speak it.
        identify: identify(),
        // Every node relays for browser tabs: they reach it over WebSockets and each other through it (WebRTC signalling).
        relay: circuitRelayServer(relayInit(o.circuits ?? CIRCUIT_DEFAULTS)),
        // Publishing before any peer subscribed is normal for the first node of a cluster.
        pubsub: gossipsub(GOSSIPSUB_OPTIONS),
        certificates: certificateRenewer(),
      },
    })
    break
  } catch (err) {
    const udpTaken = /ICE UDP mux listener|already a listener/.test(String(err))
    if (udpTaken && o.port === 0 && attempt < 3) { udpPort = await freeUdpPort(); continue }
    if (codeOf(err) === 'EADDRINUSE' || /EADDRINUSE/.test(String(err))) {
      throw new CliError(`The mesh port ${o.port} (or ${wsPort} for WebSockets) on ${o.host} is in use: pick another with --mesh-address ${o.host}:<port>.`)
    }
    if (udpTaken) {
      throw new CliError(`The UDP port ${udpPort} on ${o.host} (WebRTC-direct) is in use: pick another with --mesh-address ${o.host}:<port>, or start with --no-webrtc-direct.`)
    }
    // As the S3 port's listen() says them: an address not of this machine, a port below 1024 for a user that may not.
    if (codeOf(err) === 'EADDRNOTAVAIL' || /EADDRNOTAVAIL/.test(String(err))) {
      throw new CliError(`The mesh cannot listen on ${o.host}: it is not an address of this machine. Give one of its own, or 0.0.0.0, with --mesh-address.`)
    }
    if (codeOf(err) === 'EACCES' || /EACCES/.test(String(err))) {
      throw new CliError(`The mesh may not listen on port ${o.port} (or ${wsPort} for WebSockets): ports below 1024 need privileges. Pick a port above 1024 with --mesh-address ${o.host}:<port>.`)
    }
    throw err
  }
  let free = await freeBytes(o.layout.root)
  // Listening on 0.0.0.0, libp2p names each interface; loopback goes last, or other machines would try it first.
  const addresses = bestFirst(libp2p.getMultiaddrs().map(String))
  // The catalog on disk: memory does not grow with it, and a restart replays nothing (a journal left by an older s3mesh is imported).
  const catalogStore = await CatalogDb.open(o.layout.catalogDb, o.layout.catalogJournal).catch(async (err: unknown) => { await libp2p.stop(); throw err })
  const member = await startMember({
    libp2p, store: o.store, addresses, keyring: await Keyring.create(key.raw, o.cluster, nodeAead), cluster: o.cluster, role: o.role ?? 'durable',
    hashes: nodeHashes, membership: config, version: o.version, catalogStore,
    ...(o.objects === undefined ? {} : { objects: o.objects }), meta: { ...(free === undefined ? {} : { free }), ...(o.url === undefined ? {} : { url: o.url }) },
    onRefused: refusedOnce(o.cluster),
  }).catch(async err => { await catalogStore.close(); await libp2p.stop(); throw err })
  const { transport, node } = member
  known.knowMembers(peer => transport.membership.get(peer) !== undefined)
  const accessSync = o.access === undefined
    ? undefined
    : new AccessSync({ libp2p, pubsub: libp2p.services.pubsub, keyring: member.keyring, cluster: o.cluster, state: o.access, membership: transport.membership, ...(o.accessSyncMs === undefined ? {} : { intervalMs: o.accessSyncMs }) })
  await accessSync?.start().catch(async (err: unknown) => { await member.stop({ leave: false }); throw err })
  // From here on, members' and admitted tabs' first frames have budgets of their own, and strangers are let go.
  known.start(libp2p)
  /** Aborted when the node stops: what waits (a join asked again) ends at once, and timers find it stopped. */
  const stopping = new AbortController()
  let guests: GuestService | undefined
  let guestAccess: AccessControl | undefined
  const admissionMs = admissionLifetime(o.env)
  // The others see this node's free disk space and what it holds (the console's member table); told again when they move.
  let held = { heldObjects: 0, heldBytes: 0 }
  const moved = (now: number, was: number): boolean => Math.abs(now - was) >= FREE_SPACE_CHANGE * Math.max(was, 1)
  const diskWatch = setInterval(() => {
    void freeBytes(o.layout.root).then(now => {
      // Not once stopping: news of this member after its leave would make it alive again elsewhere.
      if (stopping.signal.aborted) return
      const update: { free?: number, heldObjects?: number, heldBytes?: number } = {}
      if (now !== undefined && (free === undefined || moved(now, free))) update.free = free = now
      const { heldObjects, heldBytes } = node.stats
      if (heldObjects !== held.heldObjects || moved(heldBytes, held.heldBytes)) Object.assign(update, held = { heldObjects, heldBytes })
      if (Object.keys(update).length > 0) transport.updateMeta(update)
    }).catch(() => {})
  }, FREE_SPACE_CHECK_MS)
  diskWatch.unref()
  const joining = o.join.length === 0
    ? Promise.resolve()
    : joinSeeds({
      join: async signal => await member.join(o.join, { signal }),
      answered: () => transport.membership.list().some(m => !m.self && m.state === 'alive'),
      onUnreached: () => { process.stderr.write(`s3mesh: no member answered at ${o.join.join(', ')} yet; retrying\n`) },
      onUnanswered: () => {
        process.stderr.write(`s3mesh: connected to ${o.join.join(', ')}, but no member there answered as one of this cluster in ${JOIN_ANSWER_MS / 1000} s: this node runs alone. Check that S3MESH_CLUSTER_KEY is the key the first node printed, and --cluster its name (${o.cluster} here).\n`)
      },
      answerMs: JOIN_ANSWER_MS,
      retryMs: JOIN_RETRY_MS,
      retryAloneMs: JOIN_RETRY_ALONE_MS,
      signal: stopping.signal,
    })
  /**
   * A relay's tabs write to storage nodes: those alive with an S3 endpoint,
   * https ones first (an https page cannot reach http), each list rotated by
   * the tab's peer id so tabs spread; the tab fails over along it.
   */
  const writersFor = (peer: string): { writers?: string[] } => {
    const urls = transport.membership.list().filter(m => m.state === 'alive').map(m => decodeNodeMeta(m.meta))
      .filter(meta => meta?.role === 'durable' && meta.url !== undefined).map(meta => meta!.url!).sort()
    if (urls.length === 0) return {}
    let h = 0
    for (const c of peer) h = (h * 31 + c.charCodeAt(0)) >>> 0
    const rotated = [...urls.slice(h % urls.length), ...urls.slice(0, h % urls.length)]
    return { writers: [...rotated.filter(u => u.startsWith('https:')), ...rotated.filter(u => !u.startsWith('https:'))] }
  }
  return {
    libp2p, keyring: member.keyring, transport, node, ...(accessSync === undefined ? {} : { accessSync }), addresses, clusterKey: { base64: key.base64, source: key.source, file: key.file },
    admitGuests: async access => {
      const self = libp2p.peerId.toString()
      const gate = new GuestGate({ cluster: o.cluster, live: access, isIssuer: id => {
        if (id === self) return true
        // Durable members and relays admit tabs: both hold the cluster key and the users.
        const m = transport.membership.get(id)
        const role = m === undefined ? undefined : decodeNodeMeta(m.meta)?.role
        return role === 'durable' || role === 'relay'
      }, onAdmitted: (peer, expires) => { known.admitted.admit(peer, expires) } })
      guests = new GuestService({ libp2p, catalog: node.catalog, partition: node.partition, heard: node.heard, follow: b => node.follow(b), copies: node.copies, membership: transport.membership, hashes: nodeHashes, gate })
      guestAccess = access
      await guests.start()
      return guests
    },
    browserJoin: async (principal, peer, sourceIp) => {
      if (guests === undefined || guestAccess === undefined) throw new Error('admitGuests() first')
      const now = Date.now()
      const { bytes, admission } = await issueAdmission({
        access: guestAccess, principal, peer, issuer: libp2p.peerId.toString(), sign: async data => await privateKey.sign(data), cluster: o.cluster, now, lifetimeMs: admissionMs,
        ...(sourceIp === undefined ? {} : { sourceIp }),
      })
      known.admitted.admit(peer, admission.expires, now)
      return {
        cluster: o.cluster,
        // WebSockets and WebRTC-direct: the tab tries them in that order.
        relays: addresses.filter(a => transportOf(a) !== undefined),
        admission: Buffer.from(bytes).toString('base64'),
        expires: admission.expires,
        // Renewed at half its life: a node that is slow to answer once still leaves time for a second try.
        renewAt: now + Math.floor((admission.expires - now) / 2),
        principal: { kind: admission.principal.kind, accessKeyId: admission.principal.accessKeyId, ...(admission.principal.user === undefined ? {} : { user: admission.principal.user }) },
        ...(o.role === 'relay' ? writersFor(peer) : {}),
      }
    },
    renewCertificate: tls => { libp2p.services.certificates.renew(tls) },
    stop: async ({ leave = true } = {}) => {
      stopping.abort()
      clearInterval(diskWatch)
      await guests?.stop().catch(() => {})
      await joining.catch(() => {})
      await accessSync?.stop().catch(() => {})
      known.stopClosingStrangers()
      await member.stop({ leave })
      known.stop()
    },
  }
}

/** How long after connecting to a seed this node must see a member alive, or says it runs alone, ms. */
const JOIN_ANSWER_MS = 10_000
/** How often a join is asked again until a member answers, ms; and once this node has said it runs alone. */
const JOIN_RETRY_MS = 2000
const JOIN_RETRY_ALONE_MS = 10_000

/**
 * What tells the operator of a peer refused for sealing its messages with
 * another cluster's key or name: once per peer, so one that keeps trying
 * does not fill the log.
 */
function refusedOnce (cluster: string): (peer: string, address: string) => void {
  const told = new Set<string>()
  return (peer, address) => {
    if (told.has(peer) || told.size >= 1000) return
    told.add(peer)
    process.stderr.write(`s3mesh: refused ${peer} (${address}): its membership messages are sealed with another cluster key or cluster name. To let it in, start it with this cluster's S3MESH_CLUSTER_KEY and --cluster ${cluster}.\n`)
  }
}
