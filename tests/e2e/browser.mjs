// What every browser test shares: Debian's Chromium started by playwright-core against a
// fresh keyflow, and the steps a person takes on the pages (sign in, post a form, generate).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { startServer } from './server.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? join(import.meta.dirname, 'screenshots');

/// The sizes every page is checked at: a phone, a laptop, a desktop.
export const VIEWPORTS = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'laptop', width: 1280, height: 800 },
  { name: 'desktop', width: 1440, height: 900 },
];

/// A server and a browser on it, with the clipboard allowed (Copy is read back as pasted).
export async function launch() {
  const server = await startServer();
  const profile = mkdtempSync(join(tmpdir(), 'keyflow-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
    baseURL: server.base,
    viewport: { width: 1440, height: 900 },
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    server,
    context,
    page,
    async close() {
      await context.close();
      await server.stop();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/// Runs `action` and waits for the page that the form post it causes answers with.
export async function posting(page, path, action) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === path && r.request().method() === 'POST'),
    // The new document's, not the one the form was on.
    page.waitForEvent('domcontentloaded'),
    action(),
  ]);
  return response;
}

export async function signIn(page, server, password = server.password) {
  await page.getByLabel('Email').fill(server.email);
  await page.getByLabel('Password').fill(password);
  return posting(page, '/login', () => page.getByRole('button', { name: 'Sign in' }).click());
}

export async function generate(page, name, tenant) {
  await page.getByLabel('Key Name').fill(name);
  await page.getByLabel('Tenant', { exact: true }).selectOption({ label: tenant });
  const response = await posting(page, '/settings/keys', () => page.getByRole('button', { name: 'Generate Key' }).click());
  assert.equal(response.status(), 200);
}

export function keyRow(page, name) {
  return page.locator(`tr[data-key-name="${name}"]`);
}

/// A field of a key's row, by its label: "Tenant Name", "Tenant ID", "Scopes", "Expires"…
export function keyField(page, name, label) {
  return keyRow(page, name).locator(`[data-field="${label}"] dd`);
}
