import { StrictMode, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router';
import { AuthProvider, useAuth } from './auth/auth-context';
import { Spinner } from './components/Spinner';
import { ToastProvider } from './components/Toasts';
import { SignInPage, SignUpPage } from './pages/AuthPages';
import { NotFoundPage } from './pages/NotFoundPage';
import { ProjectPage } from './pages/ProjectPage';
import { ProjectsPage } from './pages/ProjectsPage';
import './index.css';

function FullPageSpinner() {
  return (
    <div className="flex h-full items-center justify-center text-zinc-500" role="status" aria-label="Loading">
      <Spinner />
    </div>
  );
}

/** Pages for signed-in users; others are sent to sign in, and come back afterwards. */
function RequireUser({ children }: { children: ReactNode }) {
  const { user } = useAuth();
  const location = useLocation();
  if (user === undefined) return <FullPageSpinner />;
  if (user === null) {
    const next = location.pathname + location.search;
    return <Navigate to={next === '/' ? '/signin' : `/signin?next=${encodeURIComponent(next)}`} replace />;
  }
  return children;
}

/** Sign-in pages; a signed-in user goes straight to the projects. */
function GuestOnly({ children }: { children: ReactNode }) {
  const { user } = useAuth();
  if (user === undefined) return <FullPageSpinner />;
  if (user) return <Navigate to="/" replace />;
  return children;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <BrowserRouter>
      <AuthProvider>
        <ToastProvider>
          <Routes>
            <Route path="/signin" element={<GuestOnly><SignInPage /></GuestOnly>} />
            <Route path="/signup" element={<GuestOnly><SignUpPage /></GuestOnly>} />
            <Route path="/" element={<RequireUser><ProjectsPage /></RequireUser>} />
            <Route path="/projects/:projectId" element={<RequireUser><ProjectPage /></RequireUser>} />
            <Route path="*" element={<NotFoundPage />} />
          </Routes>
        </ToastProvider>
      </AuthProvider>
    </BrowserRouter>
  </StrictMode>,
);
