import { useState, type ReactNode } from 'react';
import { Link, useNavigate } from 'react-router';
import { useAuth } from '../auth/auth-context';
import { Logo } from './Logo';
import { useToast } from './Toasts';

export function AppShell({ children, center }: { children: ReactNode; center?: ReactNode }) {
  const { user, signOut } = useAuth();
  const navigate = useNavigate();
  const toast = useToast();
  const [signingOut, setSigningOut] = useState(false);

  async function handleSignOut() {
    setSigningOut(true);
    try {
      await signOut();
      navigate('/signin', { replace: true });
    } catch {
      toast('Could not sign out. Try again.', 'error');
      setSigningOut(false);
    }
  }

  return (
    <div className="flex h-full flex-col">
      <header className="flex h-14 shrink-0 items-center gap-4 border-b border-ink-800 bg-ink-950/80 px-4 backdrop-blur sm:px-6">
        <Link to="/" className="rounded-md" aria-label="Cutroom: all projects">
          <Logo />
        </Link>
        <div className="min-w-0 flex-1">{center}</div>
        {user && (
          <div className="flex items-center gap-3">
            <span className="hidden text-sm text-zinc-400 sm:inline" title={user.email}>
              {user.name}
            </span>
            <span aria-hidden="true" className="flex size-8 items-center justify-center rounded-full bg-ink-700 text-sm font-semibold text-zinc-200">
              {user.name.trim().charAt(0).toUpperCase() || '?'}
            </span>
            <button
              type="button"
              onClick={handleSignOut}
              disabled={signingOut}
              className="rounded-md px-2 py-1 text-sm text-zinc-400 hover:bg-ink-800 hover:text-zinc-100 disabled:opacity-60"
            >
              Sign out
            </button>
          </div>
        )}
      </header>
      {children}
    </div>
  );
}
