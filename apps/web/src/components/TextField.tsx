import { useId, type InputHTMLAttributes } from 'react';

export function TextField({
  label,
  error,
  hint,
  className = '',
  ...props
}: InputHTMLAttributes<HTMLInputElement> & { label: string; error?: string; hint?: string }) {
  const id = useId();
  const describedBy = error ? `${id}-error` : hint ? `${id}-hint` : undefined;
  return (
    <div className={className}>
      <label htmlFor={id} className="mb-1.5 block text-sm font-medium text-zinc-300">
        {label}
      </label>
      <input
        id={id}
        {...props}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy}
        className={`block h-10 w-full rounded-lg bg-ink-900 px-3 text-sm text-zinc-100 ring-1 ring-inset placeholder:text-zinc-500 focus:outline-none focus:ring-2 ${
          error ? 'ring-red-500/80 focus:ring-red-500' : 'ring-ink-600 focus:ring-brand-500'
        }`}
      />
      {error ? (
        <p id={`${id}-error`} className="mt-1.5 text-sm text-red-400">
          {error}
        </p>
      ) : hint ? (
        <p id={`${id}-hint`} className="mt-1.5 text-sm text-zinc-500">
          {hint}
        </p>
      ) : null}
    </div>
  );
}
