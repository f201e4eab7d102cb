import type { RunningServer } from './server.js'

/** The start-up text: where to connect and with which keys, and a command to paste, as MinIO prints it. */
export function banner (server: RunningServer, dataDir: string, version: string, host: string): string {
  const { accessKey, secretKey, source, file } = server.credentials
  const where = source === 'environment' ? 'from S3MESH_ROOT_USER / S3MESH_ROOT_PASSWORD' : source === 'generated' ? `generated, saved in ${file}` : `from ${file}`
  const lines = [
    `s3mesh ${version} serving ${dataDir}`,
    '',
    `S3 API:      ${server.url}`,
    `Access key:  ${accessKey}`,
    `Secret key:  ${secretKey}`,
    `             (${where})`,
    `Health:      ${server.url}/health/ready    Metrics: ${server.url}/metrics`,
    '',
    'Try it with aws-cli:',
    `  export AWS_ACCESS_KEY_ID=${accessKey} AWS_SECRET_ACCESS_KEY='${secretKey}' AWS_DEFAULT_REGION=us-east-1`,
    `  aws --endpoint-url ${server.url} s3 mb s3://photos`,
    `  aws --endpoint-url ${server.url} s3 cp ./cat.jpg s3://photos/`,
  ]
  if (host === '127.0.0.1' || host === 'localhost' || host === '::1') {
    lines.push('', 'Listening on this machine only; use --address 0.0.0.0:<port> to serve the network.')
  }
  return lines.join('\n') + '\n'
}
