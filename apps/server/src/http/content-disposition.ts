/**
 * An attachment's `Content-Disposition`: `filename*` (RFC 6266/5987) carries the name as
 * it is; `filename` an ASCII stand-in for old clients.
 */
export function contentDisposition(fileName: string, fallback = 'download') {
  const ascii = fileName.normalize('NFKD').replace(/[^\x20-\x7e]/g, '').replace(/["\\]/g, '') || fallback;
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}
