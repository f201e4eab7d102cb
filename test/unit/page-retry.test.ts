import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { askAgain, type FailedAsk } from '../../src/browser/page-retry.js'

const url = 'https://app.example/s3/photos/cat.jpg'
const ask = (o: Partial<FailedAsk>): FailedAsk => ({ method: 'GET', url, headers: new Headers(), bodyGone: false, pageClosed: false, ...o })

describe('the service worker\'s retry of a request its page node failed', () => {
  it('asks a read again, whatever the failure', () => {
    for (const method of ['GET', 'HEAD']) for (const pageClosed of [true, false]) assert.equal(askAgain(ask({ method, pageClosed })), true, `${method} ${pageClosed}`)
  })

  it('asks a write again only when its page closed: never when the page is still open (a timeout: it may yet be made there)', () => {
    for (const method of ['PUT', 'DELETE', 'POST']) {
      assert.equal(askAgain(ask({ method, pageClosed: false })), false, `${method}, page open`)
      assert.equal(askAgain(ask({ method, pageClosed: true })), true, `${method}, page closed`)
    }
  })

  it('never asks again a conditional write, a CreateMultipartUpload, or a write whose body the page took', () => {
    for (const h of ['If-Match', 'If-None-Match', 'If-Modified-Since', 'If-Unmodified-Since']) {
      assert.equal(askAgain(ask({ method: 'PUT', pageClosed: true, headers: new Headers({ [h]: '*' }) })), false, h)
      assert.equal(askAgain(ask({ method: 'DELETE', pageClosed: true, headers: new Headers({ [h]: '"e"' }) })), false, `DELETE ${h}`)
    }
    assert.equal(askAgain(ask({ method: 'POST', url: `${url}?uploads`, pageClosed: true })), false)
    assert.equal(askAgain(ask({ method: 'POST', url: 'https://app.example/s3/photos?delete', pageClosed: true, bodyGone: true })), false)
  })
})
