import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Prometheus metrics for one server: a registry of its own, so several servers in one process do not collide. */
export class ServerMetrics {
  readonly registry = new Registry()
  private readonly requests = new Counter({
    name: 's3mesh_http_requests_total', help: 'S3 requests by operation and HTTP status.', labelNames: ['operation', 'status'], registers: [this.registry],
  })
  private readonly duration = new Histogram({
    name: 's3mesh_http_request_duration_seconds', help: 'Time from request to the last byte of the response, by operation.', labelNames: ['operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry],
  })
  private readonly bytesIn = new Counter({ name: 's3mesh_http_received_bytes_total', help: 'Request body bytes received.', registers: [this.registry] })
  private readonly bytesOut = new Counter({ name: 's3mesh_http_sent_bytes_total', help: 'Response body bytes sent.', registers: [this.registry] })

  constructor () {
    collectDefaultMetrics({ register: this.registry, prefix: 's3mesh_' })
  }

  observe (operation: string, status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    this.requests.inc({ operation, status: String(status) })
    this.duration.observe({ operation }, seconds)
    if (bytesIn > 0) this.bytesIn.inc(bytesIn)
    if (bytesOut > 0) this.bytesOut.inc(bytesOut)
  }

  async render (): Promise<{ body: string, contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType }
  }
}
