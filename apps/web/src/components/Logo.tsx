export function Logo({ className = '' }: { className?: string }) {
  return (
    <span className={`inline-flex items-center gap-2 font-semibold tracking-tight ${className}`}>
      <svg viewBox="0 0 32 32" className="size-7" aria-hidden="true">
        <rect width="32" height="32" rx="8" className="fill-brand-500" />
        <path d="M11 9.5v13l11-6.5z" fill="#fff" />
      </svg>
      Cutroom
    </span>
  );
}
