/**
 * What the preview's bootstrap page does in a browser: exchanges the preview link's
 * short-lived token for the preview cookie (`POST /s/<sandbox>/__cutroom/grant`).
 * Returns the `Cookie` header value that every later preview request must carry.
 */
export async function grantPreviewCookie(previewUrl: string): Promise<string> {
  const url = new URL(previewUrl);
  const response = await fetch(`${url.origin}${url.pathname}__cutroom/grant`, { method: 'POST', body: url.searchParams.get('t') ?? '' });
  if (response.status !== 204) throw new Error(`the preview grant answered ${response.status}`);
  return response.headers.get('set-cookie')!.split(';')[0]!;
}
