/** s3mesh has one owner (the root user); S3 responses that name an owner name this one. */
export const OWNER = { ID: 's3mesh', DisplayName: 's3mesh' }
