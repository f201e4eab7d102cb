import { s3Signer } from '../../src/core/s3-signer.js'
import { ACCESS_KEY, SECRET_KEY } from './server-process.js'

/** An IAM action against a node, signed with the root credentials; throws with the node's answer unless it is 200. */
export type IamCall = (params: Record<string, string>) => Promise<string>

export function iamCall (nodeUrl: string): IamCall {
  const iam = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, 'iam')
  return async params => {
    const res = await iam.fetch(`${nodeUrl}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...params, Version: '2010-05-08' }).toString() })
    const text = await res.text()
    if (res.status !== 200) throw new Error(`${params.Action ?? 'IAM'} answered ${res.status}: ${text}`)
    return text
  }
}

/** Makes a user with one inline policy of these statements, and a key for it: [access key id, secret]. */
export async function userWithPolicy (call: IamCall, name: string, statements: unknown[]): Promise<[string, string]> {
  await call({ Action: 'CreateUser', UserName: name })
  await call({ Action: 'PutUserPolicy', UserName: name, PolicyName: `${name}-policy`, PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statements }) })
  const xml = await call({ Action: 'CreateAccessKey', UserName: name })
  return [/<AccessKeyId>([^<]+)/.exec(xml)![1]!, /<SecretAccessKey>([^<]+)/.exec(xml)![1]!]
}
