#!/usr/bin/env python3
"""Delaying, dropping TUN forwarder for the network lab (test/netns/lab.ts).

This kernel has no netem, so latency and loss are added in user space: the lab's
router namespace routes every packet that arrives from a host link into this TUN
device (policy routing), and this program reads each packet, drops it with
probability `loss`, holds it for `delay` ms, and writes it back to the same
device, where the kernel routes it on to its destination by the main table.

Each packet crosses the router once per direction, so `delay` is the one-way
delay (a 40 ms RTT is 20 ms here) and `loss` is per traversal (a round trip
loses about 2 * loss). Packets keep their order apart from drops: a packet is
never released before the previous one under the same setting, even when that
setting's delay is lowered (only a link moved between its own setting and the
default while packets are held may see a reorder).

Only the Python 3 standard library is used.

With --gso the device takes TCP segmentation offload (IFF_VNET_HDR): the kernel
hands over a TCP burst of up to 64 KB as one packet instead of ~44, which is
several times faster, but such a burst is delayed and dropped as one unit, so
loss hits bulk TCP in bursts (the same share of bytes, fewer loss events).

Usage: delay-tun.py [--tun NAME] [--delay MS] [--loss FRACTION] [--seed N]
                    [--queue PACKETS] [--gso]
(or env DELAY_TUN_NAME, DELAY_MS, LOSS, SEED, GSO=1).

Prints `ready tun=NAME` (with ` gso` after it under --gso) on stdout once the device exists. Reads commands from
stdin, one JSON object a line, and answers each with one line:
  {"delay": 20, "loss": 0.01}                       -> ok  (default for all links)
  {"src": "198.18.1.0", "dst": "198.18.2.0",
   "delay": 50, "loss": 0.1}                        -> ok  (one direction of one link, /24s)
  {"src": "198.18.1.0", "dst": "198.18.2.0",
   "clear": true}                                   -> ok  (back to the default)
  {"stats": true}                                   -> stats forwarded=N dropped=N overflow=N errors=N queue_drops=N queued=N
Exits on SIGTERM, SIGINT or end of stdin (the lab's process died), after
printing `exit forwarded=N dropped=N overflow=N errors=N queue_drops=N` on stdout.
"""
import argparse
import fcntl
import heapq
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6 = 0x01, 0x02, 0x04
# With IFF_VNET_HDR every packet starts with a struct virtio_net_hdr (10 bytes),
# passed back unchanged.
VNET_HDR_LEN = 10

# How many packets to read in one go before releasing due ones (bounded so that
# a flood cannot starve the queue's releases).
READ_BATCH = 256


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--tun', default=os.environ.get('DELAY_TUN_NAME', 'tun0'))
    p.add_argument('--delay', type=float, default=float(os.environ.get('DELAY_MS', '0')),
                   help='one-way delay in ms per traversal')
    p.add_argument('--loss', type=float, default=float(os.environ.get('LOSS', '0')),
                   help='drop probability per traversal, 0..1')
    p.add_argument('--seed', type=int, default=int(os.environ['SEED']) if os.environ.get('SEED') else None)
    p.add_argument('--queue', type=int, default=100000,
                   help='most packets held at once; more are dropped and counted as overflow')
    p.add_argument('--gso', action='store_true', default=os.environ.get('GSO') == '1',
                   help='take TCP bursts whole (segmentation offload): faster, burstier loss')
    return p.parse_args()


def open_tun(name, gso):
    fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
    flags = IFF_TUN | IFF_NO_PI | (IFF_VNET_HDR if gso else 0)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), flags))
    if gso:
        fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
    return fd


def link_key(addr):
    """The /24 of a dotted address as the 3 bytes a packet header carries."""
    return socket.inet_aton(addr)[:3]


class Stop(Exception):
    pass


def main():
    args = parse_args()
    rng = random.Random(args.seed)
    rand = rng.random
    default = [args.delay / 1000.0, args.loss]   # [seconds, loss], mutated in place
    links = {}           # (src /24 bytes, dst /24 bytes) -> [seconds, loss]
    last_release = {}    # link key (or None for links on the default) -> last release time
    heap = []            # (release time, sequence, packet)
    seq = 0
    forwarded = dropped = overflow = errors = 0

    fd = open_tun(args.tun, args.gso)
    # Where the IPv4 header starts in what os.read returns.
    ip = VNET_HDR_LEN if args.gso else 0
    src_at, dst_at = ip + 12, ip + 16

    def on_signal(_signum, _frame):
        raise Stop()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    stdin_buf = b''

    def reply(line):
        sys.stdout.write(line + '\n')
        sys.stdout.flush()

    def queue_drops():
        # Packets the kernel dropped because the device's queue (txqueuelen) was
        # full while this program lagged behind: loss on top of `loss`.
        try:
            with open('/sys/class/net/%s/statistics/tx_dropped' % args.tun) as f:
                return int(f.read())
        except (OSError, ValueError):
            return -1

    def counters():
        return 'forwarded=%d dropped=%d overflow=%d errors=%d queue_drops=%d' % (
            forwarded, dropped, overflow, errors, queue_drops())

    def command(line):
        msg = json.loads(line)
        if msg.get('stats'):
            reply('stats %s queued=%d' % (counters(), len(heap)))
            return
        if 'src' in msg:
            key = (link_key(msg['src']), link_key(msg['dst']))
            if msg.get('clear'):
                links.pop(key, None)
            else:
                links[key] = [float(msg.get('delay', 0)) / 1000.0, float(msg.get('loss', 0))]
        else:
            if 'delay' in msg:
                default[0] = float(msg['delay']) / 1000.0
            if 'loss' in msg:
                default[1] = float(msg['loss'])
        reply('ok')

    watched = [fd, stdin]
    reply('ready tun=%s%s' % (args.tun, ' gso' if args.gso else ''))

    read = os.read
    write = os.write
    monotonic = time.monotonic
    heappush = heapq.heappush
    heappop = heapq.heappop
    try:
        while True:
            # select() takes a timeout in microseconds (epoll would round it up to
            # whole milliseconds, adding up to 1 ms per traversal).
            timeout = max(0.0, heap[0][0] - monotonic()) if heap else None
            for ready_fd in select.select(watched, (), (), timeout)[0]:
                if ready_fd == stdin:
                    chunk = read(stdin, 65536)
                    if not chunk:
                        raise Stop()
                    stdin_buf += chunk
                    if len(stdin_buf) > 65536 and b'\n' not in stdin_buf:
                        stdin_buf = b''
                        reply('error command line too long')
                    while b'\n' in stdin_buf:
                        line, stdin_buf = stdin_buf.split(b'\n', 1)
                        if line.strip():
                            try:
                                command(line)
                            except (ValueError, KeyError, TypeError, OSError) as e:
                                reply('error %s' % e)
                    continue
                now = monotonic()
                for _ in range(READ_BATCH):
                    try:
                        pkt = read(fd, 65536)
                    except BlockingIOError:
                        break
                    if links and len(pkt) >= ip + 20 and pkt[ip] >> 4 == 4:
                        key = (pkt[src_at:src_at + 3], pkt[dst_at:dst_at + 3])
                        setting = links.get(key)
                        if setting is None:
                            key, setting = None, default
                    else:
                        key, setting = None, default
                    delay, loss = setting
                    if loss and rand() < loss:
                        dropped += 1
                        continue
                    if not delay and not heap:
                        # Nothing held back and nothing to wait for: straight through.
                        try:
                            write(fd, pkt)
                            forwarded += 1
                        except OSError:
                            errors += 1
                        continue
                    if len(heap) >= args.queue:
                        overflow += 1
                        continue
                    release = now + delay
                    prev = last_release.get(key)
                    if prev is not None and prev > release:
                        release = prev
                    last_release[key] = release
                    heappush(heap, (release, seq, pkt))
                    seq += 1
            if heap:
                # Release what is due, and what is due within 0.2 ms: one wakeup less,
                # and select() wakes up about that late anyway.
                due = monotonic() + 0.0002
                while heap and heap[0][0] <= due:
                    pkt = heappop(heap)[2]
                    try:
                        write(fd, pkt)
                        forwarded += 1
                    except OSError:
                        errors += 1
                if not heap:
                    last_release.clear()
    except Stop:
        pass
    reply('exit %s' % counters())
    return 0


if __name__ == '__main__':
    sys.exit(main())
