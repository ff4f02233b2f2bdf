import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, launchBrowser, newPerson, screenshot, startServer } from './harness.js';
import { AuthPage, ProjectsPage } from './pages.js';

describe('accounts and projects in the browser', () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('a person signs up, creates, renames, reloads, and deletes a project', async () => {
    const context = await newPerson(browser, server.baseUrl);
    const page = await context.newPage();
    const auth = new AuthPage(page);
    const projects = new ProjectsPage(page);

    await page.goto('/');
    await page.waitForURL(/\/signin$/);
    await screenshot(page, '01-sign-in');

    await auth.signUp('Ada Lovelace', 'ada@example.com', 'analytical engine');
    await page.getByRole('heading', { name: 'No projects yet' }).waitFor();
    await screenshot(page, '02-empty-projects');

    await projects.create('Launch teaser');
    await page.getByRole('heading', { name: 'Launch teaser' }).waitFor();
    await page.getByText('No messages yet').waitFor();
    await screenshot(page, '03-project-page');
    const projectId = page.url().split('/').pop()!;
    expect(existsSync(path.join(server.dataDir, 'repos', `${projectId}.git`))).toBe(true);

    await page.getByRole('link', { name: 'Projects', exact: true }).click();
    await projects.create('Product demo');
    await page.goto('/');
    expect(await projects.names()).toEqual(['Product demo', 'Launch teaser']);
    await screenshot(page, '04-project-list');

    await projects.rename('Launch teaser', 'Launch teaser v2');
    await page.getByRole('status').filter({ hasText: 'Project renamed' }).waitFor();
    await page.reload();
    await projects.card('Launch teaser v2').waitFor();
    expect(await projects.names()).toEqual(expect.arrayContaining(['Launch teaser v2', 'Product demo']));

    await projects.delete('Product demo', { confirm: false });
    expect(await projects.names()).toContain('Product demo');
    await projects.card('Product demo').hover();
    await page.getByRole('button', { name: 'Delete Product demo' }).click();
    await screenshot(page, '05-delete-confirmation');
    await page.getByRole('dialog').getByRole('button', { name: 'Delete project' }).click();
    await projects.card('Product demo').waitFor({ state: 'detached' });
    await page.reload();
    await projects.card('Launch teaser v2').waitFor();
    expect(await projects.names()).toEqual(['Launch teaser v2']);

    await auth.signOut();
    await page.goto('/');
    await page.waitForURL(/\/signin$/);
    await context.close();
  });

  it('shows errors a person can act on', async () => {
    const context = await newPerson(browser, server.baseUrl);
    const page = await context.newPage();
    const auth = new AuthPage(page);

    await page.goto('/signup');
    await page.getByLabel('Name').fill('Short');
    await page.getByLabel('Email').fill('not-an-email');
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Enter a valid email address.').waitFor();
    await page.getByText('Use at least 8 characters.').waitFor();
    await screenshot(page, '06-sign-up-errors');

    await auth.signIn('ada@example.com', 'wrong password');
    await page.getByRole('alert').filter({ hasText: 'That email and password do not match an account.' }).waitFor();

    await auth.signIn('ada@example.com', 'analytical engine');
    await page.getByRole('heading', { name: 'Projects', exact: true }).waitFor();

    await page.getByRole('button', { name: 'New project' }).click();
    const dialog = page.getByRole('dialog', { name: 'New project' });
    await dialog.getByLabel('Project name').fill('   ');
    await dialog.getByRole('button', { name: 'Create project' }).click();
    await dialog.getByText('Give the project a name.').waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });

    await page.goto('/projects/00000000-0000-0000-0000-000000000000');
    await page.getByRole('heading', { name: 'Project not found' }).waitFor();
    await context.close();
  });

  it('works from the keyboard alone', async () => {
    const context = await newPerson(browser, server.baseUrl);
    const page = await context.newPage();
    await new AuthPage(page).signUp('Kay Board', 'kay@example.com', 'only the keys');

    await page.getByRole('button', { name: 'Create your first project' }).focus();
    await page.keyboard.press('Enter');
    await page.keyboard.type('Typed only');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/projects\//);
    await page.getByRole('heading', { name: 'Typed only' }).waitFor();

    await page.goto('/');
    // Tab from the top of the page reaches the project, then its rename button.
    await page.getByRole('link', { name: 'Typed only' }).focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Rename Typed only');
    await page.keyboard.press('Enter');
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('Renamed by keys');
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: 'Renamed by keys' }).waitFor();
    await screenshot(page, '07-keyboard-rename');
    await context.close();
  });

  it("a second user can neither see nor touch the first user's project, in the UI or the API", async () => {
    const owner = await newPerson(browser, server.baseUrl);
    const ownerPage = await owner.newPage();
    await new AuthPage(ownerPage).signUp('Owner', 'owner@example.com', 'owner password');
    await new ProjectsPage(ownerPage).create('Secret plans');
    const projectUrl = ownerPage.url();
    const projectId = projectUrl.split('/').pop()!;

    const intruder = await newPerson(browser, server.baseUrl);
    const page = await intruder.newPage();
    await new AuthPage(page).signUp('Intruder', 'intruder@example.com', 'intruder password');
    await page.getByRole('heading', { name: 'No projects yet' }).waitFor();

    await page.goto(new URL(projectUrl).pathname);
    await page.getByRole('heading', { name: 'Project not found' }).waitFor();
    await screenshot(page, '08-not-yours');

    const statuses = await page.evaluate(async (id: string) => {
      const call = async (method: string, body?: unknown) =>
        (
          await fetch(`/api/projects/${id}`, {
            method,
            headers: body ? { 'content-type': 'application/json' } : {},
            body: body ? JSON.stringify(body) : undefined,
          })
        ).status;
      return {
        get: await call('GET'),
        messages: (await fetch(`/api/projects/${id}/messages`)).status,
        rename: await call('PATCH', { name: 'Pwned' }),
        remove: await call('DELETE'),
      };
    }, projectId as string);
    expect(statuses).toEqual({ get: 404, messages: 404, rename: 404, remove: 404 });

    await ownerPage.goto('/');
    await new ProjectsPage(ownerPage).card('Secret plans').waitFor();
    await owner.close();
    await intruder.close();
  });

  it('stops cleanly on SIGTERM and keeps accounts, sessions and projects across a restart', async () => {
    const context = await newPerson(browser, server.baseUrl);
    const page = await context.newPage();
    await new AuthPage(page).signIn('ada@example.com', 'analytical engine');
    await new ProjectsPage(page).card('Launch teaser v2').waitFor();

    expect(await server.restart()).toBe(0);
    expect(server.output.join('')).not.toMatch(/"level":(50|60)/);

    await page.reload();
    await new ProjectsPage(page).card('Launch teaser v2').waitFor();
    await context.close();
  });
});
