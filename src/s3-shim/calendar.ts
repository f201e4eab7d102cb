/**
 * Whether an ISO 8601 text's date (its leading YYYY-MM-DD) is a day of the
 * calendar: JavaScript's Date reads 2099-02-30 as March 2, where S3 refuses
 * it. The rest (time, zone) is the caller's to check.
 */
export function onCalendar (text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(text.trim())
  if (m === null) return false
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  // setUTCFullYear, not Date.UTC: that reads years 0 to 99 as 1900 to 1999.
  const day = new Date(0)
  day.setUTCFullYear(y, mo - 1, d)
  return day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d
}
