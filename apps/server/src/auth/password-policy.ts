import { COMMON_PASSWORDS } from './common-passwords.js';

/**
 * Why a new password is too easy to guess, or null when it is fine. Sign-in backoff
 * slows guessing down; it cannot help when the first guesses of every attacker's list
 * (the common passwords, the account's own email or name) are right. The protocol has
 * already checked its length.
 */
export function passwordWeakness(password: string, account: { email: string; name: string }): string | null {
  if (password.trim() === '') return 'A password of only spaces is easy to guess. Choose another one.';
  const folded = password.normalize('NFKC').toLowerCase();
  if (new Set(folded).size <= 2) return 'That password repeats one or two characters. Choose another one.';
  // `Password1!`, `monkey2024`: a common word with digits or symbols added at its ends is still common.
  const core = folded.replace(/^[\d\W_]+|[\d\W_]+$/g, '');
  if (COMMON_PASSWORDS.has(folded) || (core.length >= 4 && COMMON_PASSWORDS.has(core))) {
    return 'That is one of the most common passwords, the first ones attackers try. Choose another one.';
  }
  const email = account.email.trim().toLowerCase();
  const localPart = email.split('@', 1)[0] ?? '';
  const name = account.name.normalize('NFKC').trim().toLowerCase();
  const bare = folded.trim();
  if (bare === email || bare === localPart || bare === name || bare.replace(/\s+/g, '') === name.replace(/\s+/g, '')) {
    return 'A password must not be your email address or your name. Choose another one.';
  }
  return null;
}
