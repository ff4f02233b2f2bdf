import type { AnchorHTMLAttributes } from 'react';
import { type Variant, buttonClasses } from './Button';

/** A file to download (an export, a version's zip), looking like a button with a download icon. */
export function DownloadLink({
  variant = 'primary',
  className = '',
  children,
  ...props
}: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string; variant?: Variant }) {
  return (
    <a {...props} download className={buttonClasses(variant, className)}>
      <svg viewBox="0 0 20 20" fill="none" stroke="currentColor" strokeWidth={1.7} strokeLinecap="round" strokeLinejoin="round" aria-hidden className="size-4">
        <path d="M10 3.5v9M6.5 9L10 12.5 13.5 9M4 16h12" />
      </svg>
      {children}
    </a>
  );
}
