import { useState, type FormEvent, type ReactNode } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { ApiError } from '../api/client';
import { useAuth } from '../auth/auth-context';
import { Button } from '../components/Button';
import { Logo } from '../components/Logo';
import { TextField } from '../components/TextField';

function AuthShell({ title, subtitle, children, footer }: { title: string; subtitle: string; children: ReactNode; footer: ReactNode }) {
  return (
    <main className="relative flex min-h-full items-center justify-center overflow-hidden px-4 py-12">
      <div
        aria-hidden="true"
        className="pointer-events-none absolute -top-40 left-1/2 h-[32rem] w-[48rem] -translate-x-1/2 rounded-full bg-brand-500/10 blur-3xl"
      />
      <div className="relative w-full max-w-sm">
        <Logo className="mb-8 text-lg" />
        <h1 className="text-2xl font-semibold tracking-tight">{title}</h1>
        <p className="mt-1.5 text-sm text-zinc-400">{subtitle}</p>
        <div className="mt-8 rounded-2xl bg-ink-900/80 p-6 ring-1 ring-ink-700 backdrop-blur">{children}</div>
        <p className="mt-6 text-center text-sm text-zinc-400">{footer}</p>
      </div>
    </main>
  );
}

function FormError({ error }: { error: ApiError | null }) {
  if (!error || error.issues.length > 0) return null;
  return (
    <p role="alert" className="rounded-lg bg-red-500/10 px-3 py-2.5 text-sm text-red-300 ring-1 ring-inset ring-red-500/30">
      {error.message}
    </p>
  );
}

/** Where to go after signing in: the page that sent the user here, if it is ours. */
function useNextPath() {
  const location = useLocation();
  const next = new URLSearchParams(location.search).get('next');
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

/**
 * A sign-in or sign-up form: runs `action` with the form's fields, shows its error, and
 * on success goes where the user was headed.
 */
function useAuthForm(action: (field: (name: string) => string) => Promise<void>) {
  const navigate = useNavigate();
  const next = useNextPath();
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      await action((name) => String(form.get(name) ?? ''));
      navigate(next, { replace: true });
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(0, 'internal', 'Something went wrong. Try again.'));
      setBusy(false);
    }
  }

  return { next, error, busy, submit };
}

export function SignInPage() {
  const { signIn } = useAuth();
  const { next, error, busy, submit } = useAuthForm((form) => signIn(form('email'), form('password')));

  return (
    <AuthShell
      title="Welcome back"
      subtitle="Sign in to keep making videos."
      footer={
        <>
          New to Cutroom?{' '}
          <Link to={`/signup${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`} className="font-medium text-brand-400 hover:text-brand-500">
            Create an account
          </Link>
        </>
      }
    >
      <form onSubmit={submit} className="space-y-4" noValidate>
        <FormError error={error} />
        <TextField label="Email" name="email" type="email" autoComplete="email" required autoFocus error={error?.fieldError('email')} />
        <TextField label="Password" name="password" type="password" autoComplete="current-password" required error={error?.fieldError('password')} />
        <Button type="submit" busy={busy} className="w-full">
          Sign in
        </Button>
      </form>
    </AuthShell>
  );
}

export function SignUpPage() {
  const { signUp } = useAuth();
  const { error, busy, submit } = useAuthForm((form) => signUp(form('name'), form('email'), form('password')));

  return (
    <AuthShell
      title="Create your account"
      subtitle="Describe a video in chat and watch it come to life."
      footer={
        <>
          Already have an account?{' '}
          <Link to="/signin" className="font-medium text-brand-400 hover:text-brand-500">
            Sign in
          </Link>
        </>
      }
    >
      <form onSubmit={submit} className="space-y-4" noValidate>
        <FormError error={error} />
        <TextField label="Name" name="name" autoComplete="name" required autoFocus error={error?.fieldError('name')} />
        <TextField label="Email" name="email" type="email" autoComplete="email" required error={error?.fieldError('email')} />
        <TextField
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          hint="At least 8 characters."
          error={error?.fieldError('password')}
        />
        <Button type="submit" busy={busy} className="w-full">
          Create account
        </Button>
      </form>
    </AuthShell>
  );
}
