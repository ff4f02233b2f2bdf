import { useId, type KeyboardEvent, type ReactNode } from 'react';

export type Tab<K extends string> = { key: K; label: string; panel: ReactNode };

/**
 * Tabs after the ARIA tabs pattern: one tab stop for the tab list, Left/Right (and Home/End)
 * move between tabs and show them. Inactive panels stay mounted, only hidden, so what they
 * hold (a scroll position, a selection) is still there when they come back.
 */
export function Tabs<K extends string>({
  label,
  tabs,
  active,
  onChange,
  className = '',
}: {
  label: string;
  tabs: Tab<K>[];
  active: K;
  onChange: (key: K) => void;
  className?: string;
}) {
  const baseId = useId();
  const tabId = (key: K) => `${baseId}-tab-${key}`;
  const panelId = (key: K) => `${baseId}-panel-${key}`;

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const index = tabs.findIndex((tab) => tab.key === active);
    const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const tab = tabs[(next + tabs.length) % tabs.length]!;
    onChange(tab.key);
    document.getElementById(tabId(tab.key))?.focus();
  };

  return (
    <div className={`flex min-h-0 flex-col ${className}`}>
      <div role="tablist" aria-label={label} onKeyDown={onKeyDown} className="flex shrink-0 gap-1 border-b border-ink-800 px-3">
        {tabs.map((tab) => {
          const selected = tab.key === active;
          return (
            <button
              key={tab.key}
              type="button"
              role="tab"
              id={tabId(tab.key)}
              aria-selected={selected}
              aria-controls={panelId(tab.key)}
              tabIndex={selected ? 0 : -1}
              onClick={() => onChange(tab.key)}
              className={`-mb-px border-b-2 px-3 py-2.5 text-sm font-medium transition-colors focus-visible:outline-offset-[-2px] ${
                selected ? 'border-brand-500 text-zinc-100' : 'border-transparent text-zinc-400 hover:text-zinc-200'
              }`}
            >
              {tab.label}
            </button>
          );
        })}
      </div>
      {tabs.map((tab) => (
        <div
          key={tab.key}
          role="tabpanel"
          id={panelId(tab.key)}
          aria-labelledby={tabId(tab.key)}
          hidden={tab.key !== active}
          className={tab.key === active ? 'flex min-h-0 flex-1 flex-col' : 'hidden'}
        >
          {tab.panel}
        </div>
      ))}
    </div>
  );
}
