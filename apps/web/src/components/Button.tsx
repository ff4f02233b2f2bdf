import type { ButtonHTMLAttributes } from 'react';
import { Spinner } from './Spinner';

export type Variant = 'primary' | 'secondary' | 'ghost' | 'danger';

const variants: Record<Variant, string> = {
  primary: 'bg-brand-500 text-white hover:bg-brand-400 active:bg-brand-600 shadow-sm shadow-brand-500/20',
  secondary: 'bg-ink-800 text-zinc-100 ring-1 ring-inset ring-ink-600 hover:bg-ink-700',
  ghost: 'text-zinc-300 hover:bg-ink-800 hover:text-zinc-100',
  danger: 'bg-red-600 text-white hover:bg-red-500 active:bg-red-700',
};

/** A button's look, for elements that act as one without being one (a download link). */
export function buttonClasses(variant: Variant = 'primary', className = '') {
  return `inline-flex h-9 items-center justify-center gap-2 rounded-lg px-3.5 text-sm font-medium transition-colors disabled:cursor-not-allowed disabled:opacity-60 ${variants[variant]} ${className}`;
}

export function Button({
  variant = 'primary',
  busy = false,
  className = '',
  children,
  disabled,
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; busy?: boolean }) {
  return (
    <button
      {...props}
      disabled={disabled || busy}
      aria-busy={busy || undefined}
      className={buttonClasses(variant, className)}
    >
      {busy && <Spinner className="size-4" />}
      {children}
    </button>
  );
}
