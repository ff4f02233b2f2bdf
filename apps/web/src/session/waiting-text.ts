/** What the preview says while its sandbox waits in line (`position` 1 is the next to start). */
export function waitingText(queued: { position: number; reason: 'slots' | 'memory' }): string {
  const ahead = queued.position - 1;
  const line = ahead <= 0 ? 'you are next' : `${ahead} ahead of you`;
  return queued.reason === 'memory' ? `Waiting for memory on the server: ${line}` : `Waiting for a sandbox: ${line}`;
}
