import { createHash } from 'node:crypto'
import type { RunningServer } from './server.js'

/**
 * The start-up text: where to connect and with which keys, and a command to
 * paste, as MinIO prints it. A secret given in the environment is not
 * printed (the operator has it, and a service's output goes to its logs):
 * the commands name the variable instead.
 */
export function banner (server: RunningServer, dataDir: string, version: string, host: string): string {
  const { accessKey, secretKey, source, file } = server.credentials
  const fromEnv = source === 'environment'
  // Listening on this machine only: the node says so, and is joined from this machine.
  const localHost = host === '127.0.0.1' || host === 'localhost' || host === '::1'
  const where = fromEnv ? 'from S3MESH_ROOT_USER / S3MESH_ROOT_PASSWORD' : source === 'generated' ? `generated, saved in ${file}` : `from ${file}`
  const url = server.publicUrl ?? server.url
  const also = server.urls.filter(u => u !== url)
  const relay = server.role === 'relay'
  const lines = [
    relay ? `s3mesh ${version} relay (holds no objects), its state in ${dataDir}` : `s3mesh ${version} serving ${dataDir}`,
    '',
    relay ? `Relay API:   ${url}    (tabs join here: register({ node: '${url}', ... }))` : `S3 API:      ${url}`,
    ...(also.length === 0 ? [] : [`             (${server.publicUrl === undefined ? 'also ' : 'listening on '}${also.join(', ')})`]),
    ...(server.consoleUrl === undefined ? [] : [`Console:     ${server.consoleUrl}    (browser library ${server.consoleUrl}/s3mesh.js)`]),
    `Access key:  ${accessKey}`,
    `Secret key:  ${fromEnv ? '(not printed)' : secretKey}`,
    `             (${where})`,
    `Health:      ${url}/health/ready    Metrics: ${url}/metrics`,
    ...(server.certificates === undefined
      ? []
      : [`TLS:         ${server.certificates.dir}/public.crt for ${server.certificates.names.join(', ') || '(no names)'}, valid until ${server.certificates.validTo.toISOString().slice(0, 10)} (kill -HUP ${process.pid} reloads it)`]),
    ...(relay
      ? []
      : [
          '',
          'Try it with aws-cli:',
          `  export AWS_ACCESS_KEY_ID=${shellWord(accessKey)} AWS_SECRET_ACCESS_KEY=${fromEnv ? '"$S3MESH_ROOT_PASSWORD"' : quoted(secretKey)} AWS_DEFAULT_REGION=us-east-1`,
          `  aws --endpoint-url ${url} s3 mb s3://photos`,
          `  aws --endpoint-url ${url} s3 cp ./cat.jpg s3://photos/`,
        ]),
  ]
  const mesh = server.mesh
  if (mesh !== undefined) {
    const tcp = mesh.addresses.find(a => !a.includes('/ws')) ?? mesh.addresses[0]
    // Other machines can join only where the mesh listens beyond this one (--address alone does not open it).
    const remote = !mesh.addresses.every(a => /^\/(ip4\/127\.|ip6\/::1\/)/.test(a))
    const keyFromEnv = mesh.clusterKey.source === 'environment'
    const clusterKey = keyFromEnv ? '"$S3MESH_CLUSTER_KEY"' : mesh.clusterKey.base64
    const keyFrom = keyFromEnv ? 'from S3MESH_CLUSTER_KEY' : mesh.clusterKey.source === 'generated' ? `generated, saved in ${mesh.clusterKey.file}` : `from ${mesh.clusterKey.file}`
    lines.push(
      '',
      `Mesh peer:   ${mesh.libp2p.peerId.toString()}`,
      ...mesh.addresses.map(a => `             ${a}`),
      `Cluster key: ${keyFromEnv ? `(not printed; the one that seals has fingerprint ${keyFingerprint(mesh.clusterKey.base64)})` : mesh.clusterKey.base64}`,
      `             (${keyFrom})`,
      `Members:     s3mesh members --endpoint ${url}`,
      '',
      ...(remote
        ? ['Add a node to this mesh (on another machine):', `  S3MESH_CLUSTER_KEY=${clusterKey} s3mesh server ./data --address 0.0.0.0:9000 --mesh-address 0.0.0.0:9100 --join ${tcp}`]
        : [
            'Add a node to this mesh (another folder and ports on this machine):',
            `  S3MESH_CLUSTER_KEY=${clusterKey} s3mesh server ./data2 --address 127.0.0.1:9010 --console-address 127.0.0.1:9011 --mesh-address 127.0.0.1:9110 --join ${tcp}`,
            ...(localHost ? [] : ['The mesh listens on this machine only: for nodes on other machines, start with --mesh-address 0.0.0.0:9100 (and --announce <public address> behind NAT).']),
          ]),
    )
  }
  if (localHost) {
    lines.push('', 'Listening on this machine only; use --address 0.0.0.0:<port> to serve the network.')
  }
  return lines.join('\n') + '\n'
}

/** A key's fingerprint: the first 8 hex digits of the SHA-256 of its bytes (tells which key is in use, and nothing of it). */
export function keyFingerprint (base64: string): string {
  return createHash('sha256').update(Buffer.from(base64, 'base64')).digest('hex').slice(0, 8)
}

/** Text in single quotes, as a shell takes it whatever it holds (a ' closed, escaped and opened again). */
function quoted (text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`
}

/** A word a shell takes as it is: quoted when it holds anything but letters, digits and . _ @ + = - (a root user may hold $ or ;). */
function shellWord (text: string): string {
  return /^[A-Za-z0-9._@+=-]+$/.test(text) ? text : quoted(text)
}
