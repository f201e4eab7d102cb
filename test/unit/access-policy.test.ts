/**
 * IAM policy documents and their evaluation (src/core/access), as table
 * tests built from AWS's documented examples and evaluation logic: Allow and
 * Deny, NotAction and NotResource, wildcards, policy variables, each
 * condition operator, bucket and identity policies together, session
 * policies; and documents refused whole with MalformedPolicyDocument.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { evaluate, type AccessRequest, type Decision } from '../../src/core/access/evaluate.js'
import { inCidr } from '../../src/core/access/conditions.js'
import { lookup } from '../../src/core/access/policy-match.js'
import { MalformedPolicyError, parsePolicy, POLICY_SIZE_LIMITS, policyToKeep, type Policy, type PolicyKind } from '../../src/core/access/policy.js'

const doc = (statements: unknown[], kind: PolicyKind = 'identity'): Policy => parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), kind)
const allow = (action: string | string[], resource: string | string[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({ Effect: 'Allow', Action: action, Resource: resource, ...extra })
const deny = (action: string | string[], resource: string | string[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({ Effect: 'Deny', Action: action, Resource: resource, ...extra })

const ALICE = 'arn:aws:iam:::user/alice'
/** A request by alice unless said otherwise. */
function req (action: string, resource: string, context: Record<string, string | string[] | undefined> = {}, caller: AccessRequest['caller'] = { kind: 'user', arn: ALICE }): AccessRequest {
  return { caller, action, resource, context: { 'aws:username': caller.kind === 'user' ? 'alice' : undefined, 'aws:userid': caller.kind === 'user' ? 'AIDALICE' : undefined, ...context } }
}
const ANON: AccessRequest['caller'] = { kind: 'anonymous' }

interface Case { name: string, identity?: Array<Record<string, unknown>>, bucket?: Array<Record<string, unknown>>, session?: Array<Record<string, unknown>>, request: AccessRequest, want: Decision }

const B = 'arn:aws:s3:::photos'
const O = (key: string): string => `arn:aws:s3:::photos/${key}`
const READONLY = [allow(['s3:GetObject', 's3:ListBucket', 's3:GetBucketLocation'], ['arn:aws:s3:::*'])]

const CASES: Case[] = [
  // Allow and Deny
  { name: 'no policy: implicit deny', request: req('s3:GetObject', O('a')), want: 'implicit-deny' },
  { name: 'an Allow for the action and resource allows', identity: [allow('s3:GetObject', O('a'))], request: req('s3:GetObject', O('a')), want: 'allow' },
  { name: 'an Allow for another action does not', identity: [allow('s3:GetObject', O('a'))], request: req('s3:PutObject', O('a')), want: 'implicit-deny' },
  { name: 'an Allow for another resource does not', identity: [allow('s3:GetObject', O('a'))], request: req('s3:GetObject', O('b')), want: 'implicit-deny' },
  { name: 'an explicit Deny wins over an Allow', identity: [allow('s3:*', '*'), deny('s3:DeleteObject', O('*'))], request: req('s3:DeleteObject', O('a')), want: 'explicit-deny' },
  { name: 'a Deny for something else leaves the Allow', identity: [allow('s3:*', '*'), deny('s3:DeleteObject', O('*'))], request: req('s3:GetObject', O('a')), want: 'allow' },
  { name: 'a Deny alone is still a deny', identity: [deny('s3:GetObject', O('a'))], request: req('s3:GetObject', O('a')), want: 'explicit-deny' },
  { name: 'readonly: GET allowed', identity: READONLY, request: req('s3:GetObject', O('x')), want: 'allow' },
  { name: 'readonly: PUT not', identity: READONLY, request: req('s3:PutObject', O('x')), want: 'implicit-deny' },
  { name: 'readonly: listing allowed', identity: READONLY, request: req('s3:ListBucket', B), want: 'allow' },
  // Wildcards
  { name: 's3:* matches every S3 action', identity: [allow('s3:*', '*')], request: req('s3:PutBucketCors', B), want: 'allow' },
  { name: 's3:Get* matches GetObjectTagging', identity: [allow('s3:Get*', '*')], request: req('s3:GetObjectTagging', O('a')), want: 'allow' },
  { name: 's3:Get* does not match PutObject', identity: [allow('s3:Get*', '*')], request: req('s3:PutObject', O('a')), want: 'implicit-deny' },
  { name: 'actions match case-insensitively', identity: [allow('s3:getobject', '*')], request: req('s3:GetObject', O('a')), want: 'allow' },
  { name: '? matches one character', identity: [allow('s3:GetObject', O('img-?.png'))], request: req('s3:GetObject', O('img-1.png')), want: 'allow' },
  { name: '? does not match two', identity: [allow('s3:GetObject', O('img-?.png'))], request: req('s3:GetObject', O('img-12.png')), want: 'implicit-deny' },
  { name: 'bucket/* covers every key, slashes included', identity: [allow('s3:GetObject', O('*'))], request: req('s3:GetObject', O('a/b/c.txt')), want: 'allow' },
  { name: 'bucket/* does not cover the bucket itself', identity: [allow('s3:ListBucket', O('*'))], request: req('s3:ListBucket', B), want: 'implicit-deny' },
  { name: 'resources match case-sensitively', identity: [allow('s3:GetObject', O('Cat.jpg'))], request: req('s3:GetObject', O('cat.jpg')), want: 'implicit-deny' },
  { name: 'a prefix/* resource', identity: [allow('s3:PutObject', O('uploads/*'))], request: req('s3:PutObject', O('uploads/2024/a.bin')), want: 'allow' },
  { name: 'outside the prefix', identity: [allow('s3:PutObject', O('uploads/*'))], request: req('s3:PutObject', O('other/a.bin')), want: 'implicit-deny' },
  // NotAction, NotResource
  { name: 'NotAction: everything but the listed', identity: [{ Effect: 'Allow', NotAction: 's3:DeleteObject', Resource: '*' }], request: req('s3:PutObject', O('a')), want: 'allow' },
  { name: 'NotAction: the listed one is not allowed', identity: [{ Effect: 'Allow', NotAction: 's3:DeleteObject', Resource: '*' }], request: req('s3:DeleteObject', O('a')), want: 'implicit-deny' },
  { name: 'Deny with NotAction denies everything else', identity: [allow('s3:*', '*'), { Effect: 'Deny', NotAction: ['s3:Get*', 's3:List*'], Resource: '*' }], request: req('s3:PutObject', O('a')), want: 'explicit-deny' },
  { name: 'Deny with NotAction leaves the listed', identity: [allow('s3:*', '*'), { Effect: 'Deny', NotAction: ['s3:Get*', 's3:List*'], Resource: '*' }], request: req('s3:GetObject', O('a')), want: 'allow' },
  { name: 'NotResource: all but one bucket', identity: [{ Effect: 'Allow', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::secret/*' }], request: req('s3:GetObject', O('a')), want: 'allow' },
  { name: 'NotResource: the excluded one', identity: [{ Effect: 'Allow', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::secret/*' }], request: req('s3:GetObject', 'arn:aws:s3:::secret/plan.txt'), want: 'implicit-deny' },
  { name: 'Deny with NotResource fences a user into one bucket', identity: [allow('s3:*', '*'), { Effect: 'Deny', Action: 's3:*', NotResource: [B, O('*')] }], request: req('s3:GetObject', 'arn:aws:s3:::other/a'), want: 'explicit-deny' },
  { name: '... and inside the fence it is allowed', identity: [allow('s3:*', '*'), { Effect: 'Deny', Action: 's3:*', NotResource: [B, O('*')] }], request: req('s3:GetObject', O('a')), want: 'allow' },
  // Policy variables
  { name: '${aws:username} in a resource: own home', identity: [allow('s3:*', 'arn:aws:s3:::home/${aws:username}/*')], request: req('s3:PutObject', 'arn:aws:s3:::home/alice/notes.txt'), want: 'allow' },
  { name: '${aws:username} in a resource: another home', identity: [allow('s3:*', 'arn:aws:s3:::home/${aws:username}/*')], request: req('s3:PutObject', 'arn:aws:s3:::home/bob/notes.txt'), want: 'implicit-deny' },
  { name: '${aws:userid} in a resource', identity: [allow('s3:GetObject', 'arn:aws:s3:::home/${aws:userid}/*')], request: req('s3:GetObject', 'arn:aws:s3:::home/AIDALICE/a'), want: 'allow' },
  { name: 'an absent variable matches nothing', identity: [allow('s3:GetObject', 'arn:aws:s3:::home/${aws:username}/*')], request: req('s3:GetObject', 'arn:aws:s3:::home//a', {}, ANON), want: 'implicit-deny' },
  { name: 'a username with * is matched literally', identity: [allow('s3:GetObject', 'arn:aws:s3:::home/${aws:username}/*')], request: { ...req('s3:GetObject', 'arn:aws:s3:::home/bob/a'), context: { 'aws:username': '*' } }, want: 'implicit-deny' },
  { name: '${*} is a literal asterisk', identity: [allow('s3:GetObject', O('${*}star'))], request: req('s3:GetObject', O('*star')), want: 'allow' },
  { name: '${*} does not match other text', identity: [allow('s3:GetObject', O('${*}star'))], request: req('s3:GetObject', O('xstar')), want: 'implicit-deny' },
  { name: 'a variable with a default: the key absent', identity: [allow('s3:GetObject', "arn:aws:s3:::home/${aws:username, 'guest'}/*")], request: { ...req('s3:GetObject', 'arn:aws:s3:::home/guest/a'), context: {} }, want: 'allow' },
  { name: 'a variable with a default: the key present wins', identity: [allow('s3:GetObject', "arn:aws:s3:::home/${aws:username, 'guest'}/*")], request: req('s3:GetObject', 'arn:aws:s3:::home/guest/a'), want: 'implicit-deny' },
  // Conditions: strings
  { name: 'StringEquals on s3:prefix: equal', identity: [allow('s3:ListBucket', B, { Condition: { StringEquals: { 's3:prefix': ['', 'home/'] } } })], request: req('s3:ListBucket', B, { 's3:prefix': 'home/' }), want: 'allow' },
  { name: 'StringEquals on s3:prefix: other', identity: [allow('s3:ListBucket', B, { Condition: { StringEquals: { 's3:prefix': ['', 'home/'] } } })], request: req('s3:ListBucket', B, { 's3:prefix': 'secret/' }), want: 'implicit-deny' },
  { name: 'StringEquals: an absent key fails', identity: [allow('s3:ListBucket', B, { Condition: { StringEquals: { 's3:prefix': 'home/' } } })], request: req('s3:ListBucket', B), want: 'implicit-deny' },
  { name: 'StringLike with a variable: own prefix', identity: [allow('s3:ListBucket', B, { Condition: { StringLike: { 's3:prefix': ['home/${aws:username}/*'] } } })], request: req('s3:ListBucket', B, { 's3:prefix': 'home/alice/docs/' }), want: 'allow' },
  { name: 'StringLike with a variable: another', identity: [allow('s3:ListBucket', B, { Condition: { StringLike: { 's3:prefix': ['home/${aws:username}/*'] } } })], request: req('s3:ListBucket', B, { 's3:prefix': 'home/bob/' }), want: 'implicit-deny' },
  { name: 'StringNotEquals: different value holds', identity: [allow('s3:GetObject', '*', { Condition: { StringNotEquals: { 'aws:username': 'bob' } } })], request: req('s3:GetObject', O('a')), want: 'allow' },
  { name: 'StringNotEquals: same value fails', identity: [allow('s3:GetObject', '*', { Condition: { StringNotEquals: { 'aws:username': 'alice' } } })], request: req('s3:GetObject', O('a')), want: 'implicit-deny' },
  { name: 'StringNotLike: an absent key holds (negated)', identity: [allow('s3:GetObject', '*', { Condition: { StringNotLike: { 'aws:Referer': 'https://evil.example/*' } } })], request: req('s3:GetObject', O('a')), want: 'allow' },
  { name: 'StringNotLike: a matching referer fails', identity: [allow('s3:GetObject', '*', { Condition: { StringNotLike: { 'aws:Referer': 'https://evil.example/*' } } })], request: req('s3:GetObject', O('a'), { 'aws:Referer': 'https://evil.example/page' }), want: 'implicit-deny' },
  { name: 'StringEqualsIgnoreCase', identity: [allow('s3:GetObject', '*', { Condition: { StringEqualsIgnoreCase: { 'aws:username': 'ALICE' } } })], request: req('s3:GetObject', O('a')), want: 'allow' },
  { name: 'StringEqualsIfExists: absent key holds', identity: [allow('s3:ListBucket', B, { Condition: { StringEqualsIfExists: { 's3:delimiter': '/' } } })], request: req('s3:ListBucket', B), want: 'allow' },
  { name: 'StringEqualsIfExists: present and different fails', identity: [allow('s3:ListBucket', B, { Condition: { StringEqualsIfExists: { 's3:delimiter': '/' } } })], request: req('s3:ListBucket', B, { 's3:delimiter': '|' }), want: 'implicit-deny' },
  // ARNs: each of the six components matched on its own, wildcards within it, ArnEquals as ArnLike (IAM's rule)
  { name: 'ArnEquals takes a wildcard', identity: [allow('s3:*', '*'), deny('s3:GetObject', '*', { Condition: { ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::*:user/intern-*' } } })], request: req('s3:GetObject', O('a'), { 'aws:PrincipalArn': 'arn:aws:iam::000000000000:user/intern-bo' }), want: 'explicit-deny' },
  { name: 'ArnNotEquals with a wildcard keeps out the one it names', identity: [allow('s3:GetObject', '*', { Condition: { ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::*:user/mallory' } } })], request: req('s3:GetObject', O('a'), { 'aws:PrincipalArn': 'arn:aws:iam::000000000000:user/mallory' }), want: 'implicit-deny' },
  { name: 'ArnLike: a * does not reach across a colon', identity: [allow('s3:GetObject', '*', { Condition: { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:user/alice' } } })], request: req('s3:GetObject', O('a'), { 'aws:PrincipalArn': 'arn:aws:iam::1:2:user/alice' }), want: 'implicit-deny' },
  { name: 'ArnLike: a pattern that is not a whole ARN matches whole (a Deny with "*" still denies)', identity: [allow('s3:*', '*'), deny('s3:GetObject', '*', { Condition: { ArnLike: { 'aws:PrincipalArn': '*' } } })], request: req('s3:GetObject', O('a'), { 'aws:PrincipalArn': 'arn:aws:iam::000000000000:user/alice' }), want: 'explicit-deny' },
  { name: 'ArnLike: the resource component keeps its own colons', identity: [allow('s3:GetObject', '*', { Condition: { ArnLike: { 'aws:SourceArn': 'arn:aws:logs:*:*:log-group:app:*' } } })], request: req('s3:GetObject', O('a'), { 'aws:SourceArn': 'arn:aws:logs:us-east-1:000000000000:log-group:app:stream-1' }), want: 'allow' },
  { name: 'ArnEquals: case-sensitive', identity: [allow('s3:GetObject', '*', { Condition: { ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::000000000000:user/Alice' } } })], request: req('s3:GetObject', O('a'), { 'aws:PrincipalArn': 'arn:aws:iam::000000000000:user/alice' }), want: 'implicit-deny' },
  // Numbers, dates, booleans, addresses, Null
  { name: 'NumericLessThanEquals on s3:max-keys: within', identity: [allow('s3:ListBucket', B, { Condition: { NumericLessThanEquals: { 's3:max-keys': '10' } } })], request: req('s3:ListBucket', B, { 's3:max-keys': '10' }), want: 'allow' },
  { name: 'NumericLessThanEquals on s3:max-keys: over', identity: [allow('s3:ListBucket', B, { Condition: { NumericLessThanEquals: { 's3:max-keys': '10' } } })], request: req('s3:ListBucket', B, { 's3:max-keys': '1000' }), want: 'implicit-deny' },
  { name: 'NumericGreaterThan', identity: [allow('s3:ListBucket', B, { Condition: { NumericGreaterThan: { 's3:max-keys': 5 } } })], request: req('s3:ListBucket', B, { 's3:max-keys': '6' }), want: 'allow' },
  { name: 'DateLessThan on aws:CurrentTime: before', identity: [allow('s3:GetObject', '*', { Condition: { DateLessThan: { 'aws:CurrentTime': '2027-01-01T00:00:00Z' } } })], request: req('s3:GetObject', O('a'), { 'aws:CurrentTime': '2026-11-30T00:00:00Z' }), want: 'allow' },
  { name: 'DateLessThan on aws:CurrentTime: after', identity: [allow('s3:GetObject', '*', { Condition: { DateLessThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } } })], request: req('s3:GetObject', O('a'), { 'aws:CurrentTime': '2026-11-30T00:00:00Z' }), want: 'implicit-deny' },
  { name: 'DateGreaterThan with epoch seconds', identity: [allow('s3:GetObject', '*', { Condition: { DateGreaterThan: { 'aws:CurrentTime': '1700000000' } } })], request: req('s3:GetObject', O('a'), { 'aws:CurrentTime': '2026-11-30T00:00:00Z' }), want: 'allow' },
  { name: 'Bool aws:SecureTransport false denies plain HTTP', identity: [allow('s3:*', '*'), deny('s3:*', '*', { Condition: { Bool: { 'aws:SecureTransport': 'false' } } })], request: req('s3:GetObject', O('a'), { 'aws:SecureTransport': 'false' }), want: 'explicit-deny' },
  { name: '... and lets HTTPS through', identity: [allow('s3:*', '*'), deny('s3:*', '*', { Condition: { Bool: { 'aws:SecureTransport': false } } })], request: req('s3:GetObject', O('a'), { 'aws:SecureTransport': 'true' }), want: 'allow' },
  { name: 'IpAddress: inside the block', identity: [allow('s3:*', '*', { Condition: { IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '192.168.1.0/24'] } } })], request: req('s3:GetObject', O('a'), { 'aws:SourceIp': '192.168.1.77' }), want: 'allow' },
  { name: 'IpAddress: outside', identity: [allow('s3:*', '*', { Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })], request: req('s3:GetObject', O('a'), { 'aws:SourceIp': '11.0.0.1' }), want: 'implicit-deny' },
  { name: 'NotIpAddress in a Deny: from outside', identity: [allow('s3:*', '*'), deny('s3:*', '*', { Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })], request: req('s3:GetObject', O('a'), { 'aws:SourceIp': '8.8.8.8' }), want: 'explicit-deny' },
  { name: 'IpAddress with IPv6', identity: [allow('s3:*', '*', { Condition: { IpAddress: { 'aws:SourceIp': '2001:db8::/32' } } })], request: req('s3:GetObject', O('a'), { 'aws:SourceIp': '2001:db8:1::5' }), want: 'allow' },
  { name: 'Null true: the key must be absent', identity: [allow('s3:GetObject', '*', { Condition: { Null: { 's3:ExistingObjectTag/secret': 'true' } } })], request: req('s3:GetObject', O('a')), want: 'allow' },
  { name: 'Null true: present fails', identity: [allow('s3:GetObject', '*', { Condition: { Null: { 's3:ExistingObjectTag/secret': 'true' } } })], request: req('s3:GetObject', O('a'), { 's3:ExistingObjectTag/secret': 'yes' }), want: 'implicit-deny' },
  { name: 'Null false: the key must be present', identity: [allow('s3:PutObject', '*', { Condition: { Null: { 's3:RequestObjectTag/project': 'false' } } })], request: req('s3:PutObject', O('a'), { 's3:RequestObjectTag/project': 'x' }), want: 'allow' },
  { name: 'ExistingObjectTag: tagged public', identity: [allow('s3:GetObject', '*', { Condition: { StringEquals: { 's3:ExistingObjectTag/access': 'public' } } })], request: req('s3:GetObject', O('a'), { 's3:ExistingObjectTag/access': 'public' }), want: 'allow' },
  { name: 'several keys must all hold', identity: [allow('s3:ListBucket', B, { Condition: { StringEquals: { 's3:prefix': 'home/', 's3:delimiter': '/' } } })], request: req('s3:ListBucket', B, { 's3:prefix': 'home/' }), want: 'implicit-deny' },
  { name: 'several operators must all hold', identity: [allow('s3:GetObject', '*', { Condition: { StringEquals: { 'aws:username': 'alice' }, IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })], request: req('s3:GetObject', O('a'), { 'aws:SourceIp': '10.1.2.3' }), want: 'allow' },
  // Multi-valued keys
  { name: 'ForAllValues: every tag key allowed', identity: [allow('s3:PutObject', '*', { Condition: { 'ForAllValues:StringEquals': { 's3:RequestObjectTagKeys': ['project', 'owner'] } } })], request: req('s3:PutObject', O('a'), { 's3:RequestObjectTagKeys': ['project'] }), want: 'allow' },
  { name: 'ForAllValues: one tag key not allowed', identity: [allow('s3:PutObject', '*', { Condition: { 'ForAllValues:StringEquals': { 's3:RequestObjectTagKeys': ['project', 'owner'] } } })], request: req('s3:PutObject', O('a'), { 's3:RequestObjectTagKeys': ['project', 'secret'] }), want: 'implicit-deny' },
  { name: 'ForAllValues: no values holds (vacuously)', identity: [allow('s3:PutObject', '*', { Condition: { 'ForAllValues:StringEquals': { 's3:RequestObjectTagKeys': ['project'] } } })], request: req('s3:PutObject', O('a')), want: 'allow' },
  { name: 'ForAnyValue: one matches', identity: [allow('s3:PutObject', '*', { Condition: { 'ForAnyValue:StringEquals': { 's3:RequestObjectTagKeys': ['project'] } } })], request: req('s3:PutObject', O('a'), { 's3:RequestObjectTagKeys': ['x', 'project'] }), want: 'allow' },
  { name: 'ForAnyValue: none present fails', identity: [allow('s3:PutObject', '*', { Condition: { 'ForAnyValue:StringEquals': { 's3:RequestObjectTagKeys': ['project'] } } })], request: req('s3:PutObject', O('a')), want: 'implicit-deny' },
  // IAM: ForAnyValue on a key the request lacks is false, negated too (a Deny on tag keys outside a list leaves an untagged write alone).
  { name: 'ForAnyValue negated: none present does not hold', identity: [allow('s3:PutObject', '*'), deny('s3:PutObject', '*', { Condition: { 'ForAnyValue:StringNotEquals': { 's3:RequestObjectTagKeys': ['project'] } } })], request: req('s3:PutObject', O('a')), want: 'allow' },
  { name: 'ForAnyValue negated: a key outside the list holds', identity: [allow('s3:PutObject', '*'), deny('s3:PutObject', '*', { Condition: { 'ForAnyValue:StringNotEquals': { 's3:RequestObjectTagKeys': ['project'] } } })], request: req('s3:PutObject', O('a'), { 's3:RequestObjectTagKeys': ['project', 'secret'] }), want: 'explicit-deny' },
  { name: 'an action named with an upper-case prefix', identity: [allow('S3:GetObject', O('a'))], request: req('s3:GetObject', O('a')), want: 'allow' },
  // Bucket policies
  { name: 'public-read: anonymous GET allowed', bucket: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: O('*') }], request: req('s3:GetObject', O('cat.jpg'), {}, ANON), want: 'allow' },
  { name: 'public-read: anonymous PUT not', bucket: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: O('*') }], request: req('s3:PutObject', O('cat.jpg'), {}, ANON), want: 'implicit-deny' },
  { name: 'public-read: anonymous listing not', bucket: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: O('*') }], request: req('s3:ListBucket', B, {}, ANON), want: 'implicit-deny' },
  { name: 'Principal {"AWS": "*"} is everyone', bucket: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 's3:GetObject', Resource: O('*') }], request: req('s3:GetObject', O('a'), {}, ANON), want: 'allow' },
  { name: 'a bucket policy naming the user allows without an identity policy', bucket: [{ Effect: 'Allow', Principal: { AWS: [ALICE] }, Action: 's3:PutObject', Resource: O('*') }], request: req('s3:PutObject', O('a')), want: 'allow' },
  { name: 'a bucket policy naming another user does not', bucket: [{ Effect: 'Allow', Principal: { AWS: ['arn:aws:iam:::user/bob'] }, Action: 's3:PutObject', Resource: O('*') }], request: req('s3:PutObject', O('a')), want: 'implicit-deny' },
  { name: 'a bucket Deny beats an identity Allow', identity: [allow('s3:*', '*')], bucket: [{ Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: O('*') }], request: req('s3:DeleteObject', O('a')), want: 'explicit-deny' },
  { name: 'an identity Deny beats a bucket Allow', identity: [deny('s3:GetObject', O('*'))], bucket: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: O('*') }], request: req('s3:GetObject', O('a')), want: 'explicit-deny' },
  { name: 'NotPrincipal: everyone but alice is denied', identity: [allow('s3:*', '*')], bucket: [{ Effect: 'Deny', NotPrincipal: { AWS: [ALICE] }, Action: 's3:*', Resource: [B, O('*')] }], request: req('s3:GetObject', O('a')), want: 'allow' },
  { name: 'NotPrincipal: anonymous is denied', bucket: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: O('*') }, { Effect: 'Deny', NotPrincipal: { AWS: [ALICE] }, Action: 's3:*', Resource: [B, O('*')] }], request: req('s3:GetObject', O('a'), {}, ANON), want: 'explicit-deny' },
  { name: 'a bucket policy with a referer condition', bucket: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: O('*'), Condition: { StringLike: { 'aws:Referer': 'https://app.example.com/*' } } }], request: req('s3:GetObject', O('a'), { 'aws:Referer': 'https://app.example.com/gallery' }, ANON), want: 'allow' },
  // Session policies
  { name: 'a session policy narrows: inside it', identity: [allow('s3:*', '*')], session: [allow('s3:GetObject', O('visitors/42/*'))], request: req('s3:GetObject', O('visitors/42/a.png')), want: 'allow' },
  { name: 'a session policy narrows: outside it', identity: [allow('s3:*', '*')], session: [allow('s3:GetObject', O('visitors/42/*'))], request: req('s3:GetObject', O('visitors/43/a.png')), want: 'implicit-deny' },
  { name: 'a session policy cannot widen the identity', identity: READONLY, session: [allow('s3:*', '*')], request: req('s3:PutObject', O('a')), want: 'implicit-deny' },
  { name: 'a Deny in the session policy denies', identity: [allow('s3:*', '*')], session: [allow('s3:*', '*'), deny('s3:DeleteObject', '*')], request: req('s3:DeleteObject', O('a')), want: 'explicit-deny' },
  { name: 'a session with an empty grant for the action', identity: [allow('s3:*', '*')], session: [allow('s3:ListBucket', B)], request: req('s3:PutObject', O('a')), want: 'implicit-deny' },
]

describe('policy evaluation', () => {
  it(`has at least 60 cases (${CASES.length})`, () => { assert.ok(CASES.length >= 60) })
  for (const c of CASES) {
    it(c.name, () => {
      const got = evaluate({
        identity: c.identity === undefined ? [] : [doc(c.identity)],
        ...(c.bucket === undefined ? {} : { bucket: doc(c.bucket, 'bucket') }),
        ...(c.session === undefined ? {} : { session: doc(c.session, 'session') }),
      }, c.request)
      assert.equal(got, c.want)
    })
  }

  it('a 2008-10-17 policy has no variables: ${aws:username} in its resources and conditions is the text it is', () => {
    const old = (statement: Record<string, unknown>): Policy => parsePolicy(JSON.stringify({ Version: '2008-10-17', Statement: [statement] }), 'identity')
    const home = old(allow('s3:GetObject', 'arn:aws:s3:::home/${aws:username}/*'))
    assert.equal(evaluate({ identity: [home] }, req('s3:GetObject', 'arn:aws:s3:::home/alice/a')), 'implicit-deny')
    assert.equal(evaluate({ identity: [home] }, req('s3:GetObject', 'arn:aws:s3:::home/${aws:username}/a')), 'allow')
    assert.equal(evaluate({ identity: [doc([allow('s3:GetObject', 'arn:aws:s3:::home/${aws:username}/*')])] }, req('s3:GetObject', 'arn:aws:s3:::home/alice/a')), 'allow', 'the precondition: in 2012-10-17 it is alice\'s')
    const listing = old(allow('s3:ListBucket', B, { Condition: { StringLike: { 's3:prefix': 'home/${aws:username}/*' } } }))
    assert.equal(evaluate({ identity: [listing] }, req('s3:ListBucket', B, { 's3:prefix': 'home/alice/x' })), 'implicit-deny')
    assert.equal(evaluate({ identity: [listing] }, req('s3:ListBucket', B, { 's3:prefix': 'home/${aws:username}/x' })), 'allow')
  })

  it('tags whose keys differ only in case are two condition keys: each as written; for a key written in a third case, a Deny holds with either value, an Allow needs both', () => {
    const tags = { 's3:ExistingObjectTag/Team': 'secret', 's3:ExistingObjectTag/team': 'public' }
    const read = req('s3:GetObject', 'arn:aws:s3:::b/k', tags)
    const denyIf = (key: string, value: string): Policy[] => [doc([allow('s3:GetObject', '*')]), doc([deny('s3:GetObject', '*', { Condition: { StringEquals: { [key]: value } } })])]
    assert.equal(evaluate({ identity: denyIf('s3:ExistingObjectTag/Team', 'secret') }, read), 'explicit-deny')
    assert.equal(evaluate({ identity: denyIf('s3:ExistingObjectTag/Team', 'public') }, read), 'allow', 'Team is secret, whatever team is')
    assert.equal(evaluate({ identity: denyIf('s3:ExistingObjectTag/team', 'secret') }, read), 'allow')
    assert.equal(evaluate({ identity: denyIf('s3:ExistingObjectTag/team', 'public') }, read), 'explicit-deny')
    assert.equal(evaluate({ identity: denyIf('S3:EXISTINGOBJECTTAG/TEAM', 'secret') }, read), 'explicit-deny', 'a third case sees both')
    assert.equal(evaluate({ identity: denyIf('S3:EXISTINGOBJECTTAG/TEAM', 'public') }, read), 'explicit-deny')
    // A negated Deny holds if either value makes it hold (a tag team=alpha added beside Team=beta does not pass it) ...
    const denyUnless = [doc([allow('s3:GetObject', '*')]), doc([deny('s3:GetObject', '*', { Condition: { StringNotEquals: { 's3:existingobjecttag/TEAM': 'public' } } })])]
    assert.equal(evaluate({ identity: denyUnless }, read), 'explicit-deny')
    assert.equal(evaluate({ identity: denyUnless }, req('s3:GetObject', 'arn:aws:s3:::b/k', { 's3:ExistingObjectTag/Team': 'public' })), 'allow', 'the precondition: one tag, public, passes it')
    // ... and an Allow needs both to meet it.
    const allowIf = (value: string): Policy[] => [doc([allow('s3:GetObject', '*', { Condition: { StringEquals: { 'S3:EXISTINGOBJECTTAG/TEAM': value } } })])]
    assert.equal(evaluate({ identity: allowIf('public') }, read), 'implicit-deny')
    assert.equal(evaluate({ identity: allowIf('public') }, req('s3:GetObject', 'arn:aws:s3:::b/k', { 's3:ExistingObjectTag/team': 'public' })), 'allow')
    assert.equal(evaluate({ identity: denyIf('AWS:SourceIp', '10.0.0.1') }, req('s3:GetObject', 'arn:aws:s3:::b/k', { 'aws:SourceIp': '10.0.0.1' })), 'explicit-deny', 'a key in another case than the request\'s')
  })

  it('a policy variable naming tag keys that differ only in case, in a third case, has no one value: a Deny holds, an Allow does not', () => {
    // No self-approval: the approver tag may not be the caller. Approver=alice&APPROVER=alice must not pass it.
    const tagged = req('s3:PutObject', 'arn:aws:s3:::b/k', { 'aws:username': 'alice', 's3:RequestObjectTag/Approver': 'alice', 's3:RequestObjectTag/APPROVER': 'alice' })
    const noSelf = (key: string): Policy[] => [doc([allow('s3:PutObject', '*')]), doc([deny('s3:PutObject', '*', { Condition: { StringEquals: { 'aws:username': `\${${key}}` } } })])]
    assert.equal(evaluate({ identity: noSelf('s3:RequestObjectTag/approver') }, tagged), 'explicit-deny')
    assert.equal(evaluate({ identity: noSelf('s3:RequestObjectTag/Approver') }, tagged), 'explicit-deny', 'named as one tag has it: that tag')
    assert.equal(evaluate({ identity: noSelf('s3:RequestObjectTag/approver') }, req('s3:PutObject', 'arn:aws:s3:::b/k', { 'aws:username': 'alice', 's3:RequestObjectTag/Approver': 'bob' })), 'allow', 'the precondition: another approver passes')
    const allowOwn = [doc([allow('s3:PutObject', 'arn:aws:s3:::b/${s3:RequestObjectTag/approver}/*')])]
    assert.equal(evaluate({ identity: allowOwn }, req('s3:PutObject', 'arn:aws:s3:::b/alice/k', { 's3:RequestObjectTag/Approver': 'alice', 's3:RequestObjectTag/APPROVER': 'bob' })), 'implicit-deny')
    assert.equal(evaluate({ identity: allowOwn }, req('s3:PutObject', 'arn:aws:s3:::b/alice/k', { 's3:RequestObjectTag/Approver': 'alice' })), 'allow')
  })

  it('takes a request whose tag keys collide in case many times over in one pass (each key once, not every combination of them)', { timeout: 10_000 }, () => {
    // x-amz-tagging is a request's before its tags are checked: a&A&b&B... must not ask for 2^26 decisions.
    const letters = 'abcdefghijklmnopqrstuvwxyz'.split('')
    const context = Object.fromEntries(letters.flatMap(l => [[`s3:RequestObjectTag/${l}`, 'x'], [`s3:RequestObjectTag/${l.toUpperCase()}`, 'y']]))
    const put = req('s3:PutObject', 'arn:aws:s3:::b/k', context)
    const denyAll = (value: string): Policy[] => [doc([allow('s3:PutObject', '*')]), doc([deny('s3:PutObject', '*', { Condition: { StringEquals: Object.fromEntries(letters.map(l => [`S3:REQUESTOBJECTTAG/${l}`, value])) } })])]
    assert.equal(evaluate({ identity: denyAll('y') }, put), 'explicit-deny')
    assert.equal(evaluate({ identity: denyAll('z') }, put), 'allow')
  })

  it('a policy without a Version is kept with the one it is read as written in (a release before refuses it without), its size checked with it', () => {
    const statement = allow('s3:GetObject', 'arn:aws:s3:::home/${aws:username}/*')
    const versioned = JSON.stringify({ Version: '2012-10-17', Statement: [statement] })
    assert.equal(policyToKeep(versioned, 'identity'), versioned, 'a document with a Version is kept as sent')
    const kept = policyToKeep(`  {"Statement": [${JSON.stringify(statement)}]}`, 'identity')
    assert.deepEqual(JSON.parse(kept), { Version: '2008-10-17', Statement: [statement] })
    assert.deepEqual(parsePolicy(kept, 'identity'), parsePolicy(`{"Statement": [${JSON.stringify(statement)}]}`, 'identity'))
    assert.throws(() => parsePolicy(JSON.stringify({ Version: null, Statement: [statement] }), 'identity'), /Version must be/)
    // Just under the limit without a Version, over it with: refused, not kept too long to be read back.
    const padded = (n: number): string => JSON.stringify({ Id: 'x'.repeat(n), Statement: [statement] })
    const fits = padded(POLICY_SIZE_LIMITS.identity - padded(0).length)
    assert.equal(fits.length, POLICY_SIZE_LIMITS.identity)
    assert.doesNotThrow(() => parsePolicy(fits, 'identity'))
    assert.throws(() => policyToKeep(fits, 'identity'), /has no Version: it is kept with "Version":"2008-10-17" written in, which makes it 6167 characters, and an identity policy may have at most 6144/)
  })

  it('a policy without a Version is taken, as IAM and S3 take it: of 2008-10-17, without variables', () => {
    for (const kind of ['identity', 'bucket'] as const) {
      const statement = allow('s3:GetObject', 'arn:aws:s3:::home/${aws:username}/*', kind === 'bucket' ? { Principal: '*' } : {})
      const versionless = parsePolicy(JSON.stringify({ Statement: [statement] }), kind)
      assert.equal(versionless.version, '2008-10-17', kind)
      const policies = kind === 'bucket' ? { identity: [], bucket: versionless } : { identity: [versionless] }
      assert.equal(evaluate(policies, req('s3:GetObject', 'arn:aws:s3:::home/alice/a')), 'implicit-deny', kind)
      assert.equal(evaluate(policies, req('s3:GetObject', 'arn:aws:s3:::home/${aws:username}/a')), 'allow', kind)
    }
  })

  it('takes the policies of a user and its groups together (an Allow in one, a Deny in another)', () => {
    const mine = doc([allow('s3:*', '*')])
    const group = doc([deny('s3:DeleteBucket', '*')])
    assert.equal(evaluate({ identity: [mine, group] }, req('s3:DeleteBucket', B)), 'explicit-deny')
    assert.equal(evaluate({ identity: [mine, group] }, req('s3:CreateBucket', B)), 'allow')
  })
})

describe('policy documents', () => {
  const bad: Array<[string, string, RegExp, PolicyKind?]> = [
    ['not JSON', '{', /not JSON/],
    ['a Version IAM does not have', JSON.stringify({ Version: '2012-10-18', Statement: [allow('s3:*', '*')] }), /Version must be/],
    ['no Statement', JSON.stringify({ Version: '2012-10-17' }), /Statement is missing/],
    ['a bad Effect', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Action: 's3:*', Resource: '*' }] }), /Statement 1: Effect/],
    ['Action and NotAction both', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', NotAction: 's3:Get*', Resource: '*' }] }), /exactly one of Action and NotAction/],
    ['no Resource', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*' }] }), /exactly one of Resource and NotResource/],
    ['a non-S3 action, naming the statement by Sid', JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*'), { Sid: 'Two', ...allow('ec2:RunInstances', '*') }] }), /Statement 2 \(Two\): ec2:RunInstances is not an action s3mesh knows/],
    ['a non-S3 resource', JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', 'arn:aws:sqs:::queue')] }), /not a resource ARN s3mesh knows/],
    ['ForAllValue without its s', JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*', { Condition: { 'ForAllValue:StringEquals': { 'aws:username': 'x' } } })] }), /unknown condition operator ForAllValue:StringEquals/],
    ['an unknown operator', JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*', { Condition: { StringSortOf: { 'aws:username': 'x' } } })] }), /unknown condition operator StringSortOf/],
    ['an unknown field', JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*', { Resources: '*' })] }), /unknown field Resources/],
    ['a duplicate Sid', JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'A', ...allow('s3:*', '*') }, { Sid: 'A', ...allow('s3:*', '*') }] }), /Sid A is used twice/],
    ['a Principal in an identity policy', JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*', { Principal: '*' })] }), /has no Principal/],
    ['a bucket policy without Principal', JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*')] }), /exactly one of Principal and NotPrincipal/, 'bucket'],
    // A negated operator on a value it cannot compare would hold for every request: NotIpAddress on no block allowed all.
    ['a CIDR block that is none', JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*', { Condition: { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '999.1.1.1/99'] } } })] }), /NotIpAddress\.aws:SourceIp: "999\.1\.1\.1\/99" is not an IP address or a CIDR block/],
    ['a prefix longer than the address', JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*', { Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } })] }), /is not an IP address or a CIDR block/],
    ['a date that is none', JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*', { Condition: { DateNotEquals: { 'aws:CurrentTime': 'garbage' } } })] }), /"garbage" is not a date/],
    ['a number that is none', JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*', { Condition: { NumericLessThanIfExists: { 's3:max-keys': 'abc' } } })] }), /"abc" is not a number/],
    ['a Bool that is neither', JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*', { Condition: { Bool: { 'aws:SecureTransport': 'yes' } } })] }), /"yes" is not true or false/],
    // JSON.parse keeps "__proto__" as a key: assigned to a block, it set the block's prototype, and the condition vanished.
    ['a condition key named __proto__', '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"__proto__":"never"}}}]}', /"__proto__" is not a condition key/],
    ['a condition key without its service', JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*', { Condition: { StringEquals: { constructor: 'x' } } })] }), /"constructor" is not a condition key/],
    ['a session policy over its size', JSON.stringify({ Version: '2012-10-17', Statement: Array.from({ length: 40 }, () => allow('s3:GetObject', 'arn:aws:s3:::photos/some/long/prefix/*')) }), /at most 2048/, 'session'],
  ]
  for (const [name, text, message, kind] of bad) {
    it(`refuses ${name} with MalformedPolicyDocument`, () => {
      assert.throws(() => parsePolicy(text, kind ?? 'identity'), (err: unknown) => err instanceof MalformedPolicyError && err.code === 'MalformedPolicyDocument' && message.test(err.message))
    })
  }

  it('reads a document kept before (accepted by an earlier release) whose condition values it would now refuse: its statements stay', () => {
    const text = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 's3:*', Resource: '*', Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/99' } } }] })
    assert.throws(() => parsePolicy(text, 'identity'), MalformedPolicyError, 'refused when it is set')
    const kept = parsePolicy(text, 'identity', { kept: true })
    assert.equal(kept.statements[0]?.effect, 'Deny', 'read once it is kept: the Deny is not dropped')
    // Read the safe way: the Deny applies to everything it names, from any address; an Allow of the same kind to nothing.
    const allowAll = doc([allow('s3:*', '*')])
    assert.equal(evaluate({ identity: [allowAll, kept] }, req('s3:GetObject', O('a'), { 'aws:SourceIp': '10.1.2.3' })), 'explicit-deny')
    const openAllow = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*', { Condition: { NotIpAddress: { 'aws:SourceIp': '999.1.1.1/99' } } })] }), 'identity', { kept: true })
    assert.equal(evaluate({ identity: [openAllow] }, req('s3:GetObject', O('a'), { 'aws:SourceIp': '8.8.8.8' })), 'implicit-deny')
    const protoAllow = parsePolicy('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"__proto__":"never"}}}]}', 'identity', { kept: true })
    assert.equal(evaluate({ identity: [protoAllow] }, req('s3:GetObject', O('a'))), 'implicit-deny', 'a kept Allow on a __proto__ key allows nothing')
  })

  it('takes condition keys AWS allows: a tag key with a space, a federated provider\'s key with dots', () => {
    const keys = ['s3:RequestObjectTag/Cost Center', 'cognito-identity.amazonaws.com:sub', 'aws:PrincipalTag/team']
    const p = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: [allow('s3:*', '*', { Condition: { StringEquals: Object.fromEntries(keys.map(k => [k, 'x'])) } })] }), 'identity')
    assert.deepEqual(Object.keys(p.statements[0]!.condition!.StringEquals!), keys)
    assert.equal(p.statements[0]!.unreadableCondition, undefined)
  })

  it('accepts a single statement object and string values, and keeps Sids', () => {
    const p = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: { Sid: 'Read', Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::a/*' } }), 'identity')
    assert.deepEqual(p.statements, [{ sid: 'Read', effect: 'Allow', actions: ['s3:GetObject'], resources: ['arn:aws:s3:::a/*'] }])
  })

  it('matches CIDR blocks for IPv4 and IPv6 (mapped addresses included)', () => {
    assert.equal(inCidr('10.1.2.3', '10.0.0.0/8'), true)
    assert.equal(inCidr('10.1.2.3', '10.1.2.3'), true)
    assert.equal(inCidr('172.16.0.1', '10.0.0.0/8'), false)
    assert.equal(inCidr('::1', '::1/128'), true)
    assert.equal(inCidr('::ffff:10.0.0.1', '::ffff:10.0.0.0/104'), true)
    assert.equal(inCidr('10.0.0.1', '::/0'), false, 'IPv4 against an IPv6 block')
    assert.equal(inCidr('300.0.0.1', '0.0.0.0/0'), false, 'not an address')
    assert.equal(lookup({ 'aws:username': 'alice' }, 'constructor'), undefined, 'a request\'s own keys only')
    assert.equal(lookup({ 'aws:username': 'alice' }, 'AWS:UserName'), 'alice', 'keys are matched without case')
    for (const bits of ['', ' ', '0x0', '-1', '33']) assert.equal(inCidr('8.8.8.8', `10.0.0.0/${bits}`), false, `a prefix of ${JSON.stringify(bits)} is none (Number('') is 0, which would match all)`)
  })
})
