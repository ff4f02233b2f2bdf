import { Link } from 'react-router';

export function NotFoundPage() {
  return (
    <main className="flex h-full flex-col items-center justify-center px-4 text-center">
      <p className="text-sm font-semibold text-brand-400">404</p>
      <h1 className="mt-2 text-2xl font-semibold tracking-tight">This page does not exist</h1>
      <Link to="/" className="mt-6 text-sm font-medium text-brand-400 hover:text-brand-500">
        Go to your projects
      </Link>
    </main>
  );
}
