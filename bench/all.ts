/**
 * Every benchmark, one after another (never two at once: they share the
 * machine's cores), each keeping its result in bench/results/, then the
 * README's tables and figures rewritten from them. About an hour and a half.
 *
 *   npm run bench:all
 *   npm run bench:all -- mesh-s3 edge     # only these
 */
import { spawnSync } from 'node:child_process'

const ALL = ['s3-http', 'mesh-s3', 'mesh-put-latency', 'mesh-repair', 'mesh-versions', 'object-lock', 'mesh-transfer', 'mesh-convergence', 'mesh-convergence-processes', 'cluster-cpu', 'mesh-idle', 'membership-real', 'membership-sim', 'browser', 'edge', 'access', 'transports', 'websocket-sends', 'mesh-wan', 'scale', 'scale-mesh', 'writes', 'lifecycle']
const asked = process.argv.slice(2)
const unknown = asked.filter(a => !ALL.includes(a))
if (unknown.length > 0) throw new Error(`no benchmark named ${unknown.join(', ')}; there are ${ALL.join(', ')}`)

const npm = (...args: string[]): void => {
  const r = spawnSync('npm', ['run', '--silent', ...args], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (r.status !== 0) throw new Error(`npm run ${args.join(' ')} failed (${r.status ?? r.signal})`)
}
npm('build')
for (const name of asked.length > 0 ? asked : ALL) npm(`bench:${name}`)
npm('bench:figures')
