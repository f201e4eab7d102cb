export { createS3Handler, type S3Handler, type S3HandlerOptions, type RequestInfo } from './handler.js'
export { route, rawPathProblem, type Operation, type Route, type RouterOptions } from './router.js'
export { errorResponse } from './respond.js'
export type { CredentialProvider } from './auth/sigv4.js'
