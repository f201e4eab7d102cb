import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ownPorts, portClash } from '../../src/node/own-ports.js'

describe('a node\'s own ports', () => {
  const defaults = { address: { host: '127.0.0.1', port: 9000 }, console: { host: '127.0.0.1', port: 9001 }, mesh: { host: '127.0.0.1', port: 9100 } }

  it('lists the S3, console, mesh and mesh WebSockets ports; a port 0 is the kernel\'s to pick', () => {
    assert.deepEqual(ownPorts(defaults).map(p => p.port), [9000, 9001, 9100, 9101])
    assert.deepEqual(ownPorts({ address: { host: '127.0.0.1', port: 0 }, mesh: { host: '127.0.0.1', port: 0 } }), [])
    assert.equal(portClash(ownPorts(defaults)), undefined, 'the defaults do not clash')
  })

  it('names both flags when two listeners would take one port on overlapping hosts', () => {
    assert.equal(portClash(ownPorts({ ...defaults, address: { host: '127.0.0.1', port: 9101 } })),
      '--address 127.0.0.1:9101 and --mesh-address 127.0.0.1:9100 (its WebSockets, on the next port) would both listen on port 9101: give one of them another port.')
    assert.match(portClash(ownPorts({ ...defaults, console: { host: '0.0.0.0', port: 9000 } }))!, /^--address 127\.0\.0\.1:9000 and --console-address 0\.0\.0\.0:9000 /, 'every interface overlaps any host')
    assert.match(portClash(ownPorts({ ...defaults, mesh: { host: '127.0.0.1', port: 9000 } }))!, /--address 127\.0\.0\.1:9000 and --mesh-address 127\.0\.0\.1:9000 would/)
    assert.equal(portClash(ownPorts({ ...defaults, console: { host: '10.0.0.1', port: 9000 } })), undefined, 'two hosts of the machine each have their own port')
    assert.equal(portClash(ownPorts({ ...defaults, address: { host: '0.0.0.0', port: 9000 }, console: { host: '::1', port: 9000 } })), undefined, 'IPv4\'s every interface and an IPv6 host bind apart')
    assert.match(portClash(ownPorts({ ...defaults, address: { host: '::', port: 9000 }, console: { host: '127.0.0.1', port: 9000 } }))!, /would both listen on port 9000/, ':: takes both families')
    assert.equal(portClash(ownPorts({ address: defaults.address, mesh: { host: '127.0.0.1', port: 9001 } })), undefined, 'no console: its port is not taken')
  })
})
