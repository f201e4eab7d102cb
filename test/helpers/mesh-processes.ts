import { randomBytes } from 'node:crypto'
import { signer } from './s3-client.js'
import { startServerProcess, type ServerProcess } from './server-process.js'
import { until } from './until.js'

const sign = signer()

/** Waits until every node's member list has every node alive. */
export async function aliveEverywhere (nodes: ServerProcess[], ms = 20_000): Promise<void> {
  await until(`${nodes.length} members alive everywhere`, async () => {
    for (const n of nodes) {
      const { members } = await (await sign.fetch(`${n.url}/_s3mesh/v1/members`)).json() as { members: Array<{ state: string }> }
      if (members.filter(m => m.state === 'alive').length !== nodes.length) return false
    }
    return true
  }, ms)
}

/**
 * `count` real `s3mesh server` processes in one mesh (a new cluster key, the
 * local membership preset, two replicas, then `args`), the others joining
 * the first; resolves once every node sees every node alive.
 */
export async function startMeshProcesses (count: number, options: { args?: string[], env?: NodeJS.ProcessEnv } = {}): Promise<ServerProcess[]> {
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64'), ...options.env }
  const args = ['--membership', 'local', '--replicas', '2', ...(options.args ?? [])]
  const nodes = [await startServerProcess({ env, args })]
  try {
    for (let i = 1; i < count; i++) nodes.push(await startServerProcess({ env, args: [...args, '--join', nodes[0]!.meshAddress!] }))
    await aliveEverywhere(nodes, 10_000 + 5_000 * count)
  } catch (err) {
    for (const n of nodes) await n.stop().catch(() => {})
    throw err
  }
  return nodes
}
