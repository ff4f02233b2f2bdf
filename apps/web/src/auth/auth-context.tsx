import type { User } from '@cutroom/protocol';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError, api, setUnauthenticatedHandler } from '../api/client';

type AuthState = {
  /** undefined while the first check runs; null when signed out. */
  user: User | null | undefined;
  signIn(email: string, password: string): Promise<void>;
  signUp(name: string, email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
};

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);

  useEffect(() => {
    setUnauthenticatedHandler(() => setUser(null));
    const controller = new AbortController();
    api('GET /api/auth/me', { signal: controller.signal })
      .then(({ user }) => setUser(user))
      .catch((error: unknown) => {
        if ((error as Error).name === 'AbortError') return;
        if (error instanceof ApiError && error.status !== 401) console.warn('could not check the session', error);
        setUser(null);
      });
    return () => controller.abort();
  }, []);

  const signIn = useCallback(async (email: string, password: string) => {
    setUser((await api('POST /api/auth/login', { body: { email, password } })).user);
  }, []);
  const signUp = useCallback(async (name: string, email: string, password: string) => {
    setUser((await api('POST /api/auth/signup', { body: { name, email, password } })).user);
  }, []);
  const signOut = useCallback(async () => {
    await api('POST /api/auth/logout');
    setUser(null);
  }, []);

  const value = useMemo(() => ({ user, signIn, signUp, signOut }), [user, signIn, signUp, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth outside AuthProvider');
  return value;
}
