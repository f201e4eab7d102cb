/** IAM's and STS's error codes, with their HTTP statuses (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html). */
const STATUS = {
  AccessDenied: 403,
  DeleteConflict: 409,
  EntityAlreadyExists: 409,
  ExpiredToken: 400,
  IncompleteSignature: 400,
  InvalidAction: 400,
  InvalidClientTokenId: 403,
  InvalidInput: 400,
  InvalidParameterValue: 400,
  LimitExceeded: 409,
  MalformedPolicyDocument: 400,
  MissingParameter: 400,
  NoSuchEntity: 404,
  PackedPolicyTooLarge: 400,
  SignatureDoesNotMatch: 403,
  ValidationError: 400,
  InternalFailure: 500,
} as const

export type IamErrorCode = keyof typeof STATUS

/** An error of the IAM or STS API, rendered as its ErrorResponse XML. */
export class IamError extends Error {
  override name = 'IamError'
  readonly status: number
  constructor (readonly code: IamErrorCode, message: string) {
    super(message)
    this.status = STATUS[code]
  }
}
