import type { ConnectionGater, Libp2p } from '@libp2p/interface'
import { ADMISSION_WAIT_MS, AdmittedPeers } from '../core/mesh/admitted-peers.js'
import { FIRST_FRAMES } from '../core/wire/held-bytes.js'
import { forgetDeparted } from './departed-peers.js'
import { closeStrangers } from './stranger-connections.js'

/**
 * Who a node knows: the members (once its membership runs) and the tabs it
 * admitted (it issued the admission, or a tab showed it a valid one). Only
 * they get the relay's reservations and circuits, budgets of their own for
 * half-arrived first frames, and connections that stay open; anyone else is
 * a stranger, let go `graceMs` after connecting.
 */
export class KnownPeers {
  /** Tabs admitted, each until its admission expires. */
  readonly admitted = new AdmittedPeers()
  private isMember: (peer: string) => boolean = () => false
  private stopClosing = (): void => {}
  private forgetPeers = (): void => {}
  private stopForgetting = (): void => {}

  constructor (private readonly graceMs: number) {}

  /** A member, or a tab this node admitted. */
  known (peer: string): boolean {
    return this.admitted.has(peer) || this.isMember(peer)
  }

  /**
   * Whether the relay serves `peer`. A tab's relay request may come a moment
   * before its first request shows its admission (a node it fails over to),
   * so it waits for that a while; the membership is asked again after.
   */
  async mayRelay (peer: string): Promise<boolean> {
    return this.isMember(peer) || await this.admitted.waitFor(peer, ADMISSION_WAIT_MS) || this.isMember(peer)
  }

  /**
   * libp2p's gater for the relay: a reservation, and a circuit opened through
   * this node, only for a known peer. A stranger would otherwise take every
   * reservation (one per peer id, and peer ids cost nothing) and carry its
   * traffic here.
   */
  gater (): Pick<ConnectionGater, 'denyInboundRelayReservation' | 'denyOutboundRelayedConnection'> {
    return {
      denyInboundRelayReservation: async peer => !await this.mayRelay(peer.toString()),
      denyOutboundRelayedConnection: async source => !await this.mayRelay(source.toString()),
    }
  }

  /** Knows the members from now on (`isMember`, once the membership runs). */
  knowMembers (isMember: (peer: string) => boolean): void {
    this.isMember = isMember
  }

  /**
   * Members' and admitted tabs' first frames are held against budgets out of
   * strangers' reach from now on, strangers' connections close after the
   * grace, and the peer store forgets whoever leaves but members.
   */
  start (libp2p: Libp2p): void {
    this.forgetPeers = FIRST_FRAMES.knowPeers({ isMember: peer => this.isMember(peer), isTab: peer => this.admitted.has(peer) })
    this.stopClosing = closeStrangers(libp2p, peer => this.known(peer), this.graceMs)
    this.stopForgetting = forgetDeparted(libp2p, peer => this.isMember(peer))
  }

  /** No longer closes strangers' connections (a node stopping: before its member leaves). */
  stopClosingStrangers (): void {
    this.stopClosing()
    this.stopClosing = () => {}
  }

  /** Stops closing strangers' connections, and gives the first-frame budgets back to the process's other nodes. */
  stop (): void {
    this.stopClosingStrangers()
    this.stopForgetting()
    this.stopForgetting = () => {}
    this.forgetPeers()
    this.forgetPeers = () => {}
  }
}
