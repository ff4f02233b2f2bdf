import type { Page } from 'playwright-core';

/** Page objects: what a person does, in the words of the UI. */

export class AuthPage {
  constructor(private readonly page: Page) {}

  async signUp(name: string, email: string, password: string) {
    await this.page.goto('/signup');
    await this.page.getByLabel('Name').fill(name);
    await this.page.getByLabel('Email').fill(email);
    await this.page.getByLabel('Password').fill(password);
    await this.page.getByRole('button', { name: 'Create account' }).click();
    await this.page.getByRole('heading', { name: 'Projects', exact: true }).waitFor();
  }

  async signIn(email: string, password: string) {
    await this.page.goto('/signin');
    await this.page.getByLabel('Email').fill(email);
    await this.page.getByLabel('Password').fill(password);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
  }

  async signOut() {
    await this.page.getByRole('button', { name: 'Sign out' }).click();
    await this.page.getByRole('heading', { name: 'Welcome back' }).waitFor();
  }
}

export class ProjectsPage {
  constructor(private readonly page: Page) {}

  list() {
    return this.page.getByRole('list', { name: 'Your projects' });
  }

  card(name: string) {
    return this.list().getByRole('listitem').filter({ has: this.page.getByRole('link', { name, exact: true }) });
  }

  /** Names of the listed projects, once the list has loaded (none: the empty state). */
  async names() {
    await this.page.getByRole('list', { name: 'Your projects' }).or(this.page.getByRole('heading', { name: 'No projects yet' })).waitFor();
    if (!(await this.list().isVisible())) return [];
    return this.list().getByRole('heading').allInnerTexts();
  }

  async create(name: string) {
    const button = this.page.getByRole('button', { name: /New project|Create your first project/ });
    await button.first().click();
    const dialog = this.page.getByRole('dialog', { name: 'New project' });
    await dialog.getByLabel('Project name').fill(name);
    await dialog.getByRole('button', { name: 'Create project' }).click();
    await this.page.waitForURL(/\/projects\/[0-9a-f-]{36}$/);
  }

  async rename(from: string, to: string) {
    await this.card(from).hover();
    await this.page.getByRole('button', { name: `Rename ${from}` }).click();
    const dialog = this.page.getByRole('dialog', { name: 'Rename project' });
    await dialog.getByLabel('Project name').fill(to);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await this.card(to).waitFor();
  }

  async delete(name: string, { confirm }: { confirm: boolean }) {
    await this.card(name).hover();
    await this.page.getByRole('button', { name: `Delete ${name}` }).click();
    const dialog = this.page.getByRole('dialog', { name: `Delete “${name}”?` });
    await dialog.waitFor();
    if (confirm) {
      await dialog.getByRole('button', { name: 'Delete project' }).click();
      await this.card(name).waitFor({ state: 'detached' });
    } else {
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });
    }
  }
}

/** The History tab of a project page: versions, a version's changes, restore and undo. */
export class ProjectHistory {
  constructor(private readonly page: Page) {}

  async open() {
    await this.page.getByRole('tab', { name: 'History' }).click();
    await this.region().waitFor();
  }

  region() {
    return this.page.getByRole('region', { name: 'History' });
  }

  versions() {
    return this.region().getByRole('list', { name: 'Versions' }).getByRole('listitem');
  }

  /** The listed version whose message is `message`. */
  version(message: string) {
    return this.versions().filter({ hasText: message });
  }

  async select(message: string) {
    await this.version(message).getByRole('button').click();
  }

  /** The selected version's changes. */
  changes(message: string) {
    return this.page.getByRole('region', { name: `Changes in ${message}` });
  }

  async restore(message: string) {
    await this.changes(message).getByRole('button', { name: 'Restore this version' }).click();
    const dialog = this.page.getByRole('dialog', { name: 'Restore version' });
    await dialog.getByRole('button', { name: 'Restore', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
  }

  async undo() {
    await this.region().getByRole('button', { name: 'Undo last change' }).click();
    const dialog = this.page.getByRole('dialog', { name: 'Undo last change' });
    await dialog.getByRole('button', { name: 'Undo', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
  }
}

/** The Export dialog of a project page: the form, and the project's recent exports. */
export class ProjectExports {
  constructor(private readonly page: Page) {}

  /** The header's Export button (its name gains the percentage while an export renders). */
  button() {
    return this.page.getByRole('banner').getByRole('button', { name: /^Export\b/ });
  }

  dialog() {
    return this.page.getByRole('dialog', { name: 'Export video' });
  }

  async open() {
    await this.button().click();
    await this.dialog().waitFor();
  }

  async close() {
    await this.dialog().getByRole('button', { name: 'Close', exact: true }).click();
    await this.dialog().waitFor({ state: 'hidden' });
  }

  /** Newest first. */
  items() {
    return this.dialog().getByRole('list', { name: 'Recent exports' }).getByRole('listitem');
  }

  latest() {
    return this.items().first();
  }

  status(item = this.latest()) {
    return item.getByTestId('export-status');
  }

  /** Fills the form and starts the export; resolves once it is listed. */
  async start({ format, scale, frame }: { format: 'MP4 (H.264)' | 'WebM' | 'GIF' | 'PNG still'; scale?: '0.5' | '1' | '2'; frame?: number }) {
    const dialog = this.dialog();
    await dialog.getByRole('radio', { name: format, exact: true }).check();
    if (scale) await dialog.getByRole('combobox', { name: 'Resolution' }).selectOption(scale);
    if (frame !== undefined) await dialog.getByRole('spinbutton', { name: 'Frame' }).fill(String(frame));
    const before = await this.items().count();
    await dialog.getByRole('button', { name: 'Start export' }).click();
    for (const deadline = Date.now() + 10_000; (await this.items().count()) === before; ) {
      if (Date.now() > deadline) throw new Error('the export was not listed');
      await this.page.waitForTimeout(50);
    }
  }
}

/** The Import dialog of the projects page: an archive (with its upload's progress) or a git URL. */
export class ProjectImport {
  constructor(private readonly page: Page) {}

  dialog() {
    return this.page.getByRole('dialog', { name: 'Import a Remotion project' });
  }

  async open() {
    await this.page.getByRole('button', { name: /^Import/ }).first().click();
    await this.dialog().waitFor();
  }

  /** Chooses the file and, if given, the name; then Import. */
  async uploadArchive(file: string, name?: string) {
    await this.dialog().getByRole('tab', { name: 'Archive' }).click();
    await this.dialog().locator('input[type="file"]').setInputFiles(file);
    if (name !== undefined) await this.dialog().getByLabel('Project name').fill(name);
    await this.dialog().getByRole('button', { name: 'Import', exact: true }).click();
  }

  async fromGit(url: string) {
    await this.dialog().getByRole('tab', { name: 'Git repository' }).click();
    await this.dialog().getByLabel('Repository URL').fill(url);
    await this.dialog().getByRole('button', { name: 'Import', exact: true }).click();
  }

  progress() {
    return this.dialog().getByRole('progressbar', { name: 'Upload progress' });
  }

  error() {
    return this.dialog().getByRole('alert');
  }
}

/** The project page's preview: the sandboxed iframe that plays the project. */
export const previewFrame = (page: Page) => page.frameLocator('iframe[title="Video preview"]');
/** The project page's composition picker. */
export const compositionPicker = (page: Page) => page.getByRole('combobox', { name: 'Composition' });
