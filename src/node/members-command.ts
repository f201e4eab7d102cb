import { s3Signer } from '../core/s3-signer.js'
import { CliError } from './cli-error.js'
import type { MemberView } from '../gateway/mesh-api.js'

/** `s3mesh members`: asks a node for its member list (root SigV4) and prints a table. */
export async function printMembers (opts: { endpoint: string, accessKey?: string, secretKey?: string, json?: boolean }, env: NodeJS.ProcessEnv): Promise<void> {
  const accessKeyId = opts.accessKey ?? env.S3MESH_ROOT_USER ?? env.AWS_ACCESS_KEY_ID
  const secretAccessKey = opts.secretKey ?? env.S3MESH_ROOT_PASSWORD ?? env.AWS_SECRET_ACCESS_KEY
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new CliError('Give the root keys: --access-key and --secret-key, or S3MESH_ROOT_USER and S3MESH_ROOT_PASSWORD.', 2)
  }
  const client = s3Signer({ accessKeyId, secretAccessKey })
  let res: Response
  try {
    res = await client.fetch(new URL('/_s3mesh/v1/members', opts.endpoint).toString(), { signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    throw new CliError(`Cannot reach ${opts.endpoint}: ${err instanceof Error ? err.message : String(err)}. Is the node running there?`)
  }
  const text = await res.text()
  if (!res.ok) throw new CliError(`${opts.endpoint} answered ${res.status}: ${/<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text}`)
  if (opts.json === true) { process.stdout.write(text + '\n'); return }
  const { members } = JSON.parse(text) as { members: MemberView[] }
  const rows = [['ID', 'STATE', 'INC', 'ROLE', 'RTT', 'ADDRESS'], ...members.map(m => [
    m.id + (m.self === true ? ' (this node)' : ''), m.state, String(m.incarnation), m.role ?? '-',
    m.rttMs === undefined ? '-' : `${m.rttMs} ms`, m.addresses[0] ?? '-',
  ])]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map(r => r[i]!.length)))
  process.stdout.write(rows.map(r => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n')
}
