// The worked example "Using API keys" in a real browser: Debian's Chromium, driven by
// playwright-core, against a freshly started keyflow.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { chromium } from 'playwright-core';

import { startServer } from './server.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? join(import.meta.dirname, 'screenshots');

let server;
let context;
let profile;
let page;

before(async () => {
  server = await startServer();
  profile = mkdtempSync(join(tmpdir(), 'keyflow-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
    baseURL: server.base,
    viewport: { width: 1440, height: 900 },
  });
  // Copy writes to the clipboard and the test reads it back, as a person would paste it.
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await context?.close();
  await server?.stop();
  if (profile) {
    rmSync(profile, { recursive: true, force: true });
  }
});

beforeEach(async () => {
  await context.clearCookies();
});

async function signIn(password = server.password) {
  await page.getByLabel('Email').fill(server.email);
  await page.getByLabel('Password').fill(password);
  return posting('/login', () => page.getByRole('button', { name: 'Sign in' }).click());
}

function listFlows(key, tenant) {
  return fetch(`${server.base}/api/draw/1/flow`, {
    headers: { 'x-boomi-flow-api-key': key, manywhotenant: tenant },
  });
}

function keyRow(name) {
  return page.locator(`tr[data-key-name="${name}"]`);
}

// Runs `action` and waits for the page that the form post it causes answers with.
async function posting(path, action) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === path && r.request().method() === 'POST'),
    // The new document's, not the one the form was on.
    page.waitForEvent('domcontentloaded'),
    action(),
  ]);
  return response;
}

async function generate(name, tenant) {
  await page.getByLabel('Key Name').fill(name);
  await page.getByLabel('Tenant', { exact: true }).selectOption({ label: tenant });
  const response = await posting('/settings/keys', () => page.getByRole('button', { name: 'Generate Key' }).click());
  assert.equal(response.status(), 200);
}

test('a wrong password shows a clear message and keeps the email', async () => {
  await page.goto('/settings');
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(new URL(page.url()).searchParams.get('next'), '/settings');
  const response = await signIn('not the password');
  assert.equal(response.status(), 422);
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, 'login-refused-1440.png') });
  const alert = page.getByRole('alert');
  assert.match(await alert.innerText(), /Wrong email or password/);
  assert.equal(await page.getByLabel('Email').inputValue(), server.email);
  assert.equal(await page.getByLabel('Password').inputValue(), '');
});

test('the worked example: generate, Show, Copy, call the API, delete', async () => {
  await page.goto('/settings');
  await signIn();
  assert.equal(new URL(page.url()).pathname, '/settings');
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'User Settings');

  await generate('API Key', 'Example');
  await page.screenshot({ path: join(SCREENSHOTS, 'generated-1440.png'), fullPage: true });
  assert.match(await page.locator('#new-key').innerText(), /The API key “API Key” for Example was generated/);
  const row = keyRow('API Key');
  assert.equal(await row.locator('td[data-label="Tenant Name"]').innerText(), 'Example');
  assert.equal(await row.locator('td[data-label="Tenant ID"]').innerText(), server.tenantId);

  // A second key, then the page as anyone sees it later: keys listed, their values hidden.
  await generate('Nightly build', 'Example');
  await page.goto('/settings');
  await page.screenshot({ path: join(SCREENSHOTS, 'settings-1440.png'), fullPage: true });
  await page.setViewportSize({ width: 375, height: 812 });
  await page.screenshot({ path: join(SCREENSHOTS, 'settings-375.png'), fullPage: true });
  await page.setViewportSize({ width: 1440, height: 900 });

  // Show reveals the value in place; Hide hides it again.
  const show = row.getByRole('button', { name: 'Show' });
  await show.click();
  const value = row.locator('.key-value');
  await value.waitFor({ state: 'visible' });
  const key = await value.innerText();
  assert.match(key, /^kf_[0-9A-Za-z]{32}$/);
  assert.equal(await row.getByRole('button', { name: 'Hide' }).count(), 1);

  // Copy puts it on the clipboard.
  await row.getByRole('button', { name: 'Copy' }).click();
  await page.locator('#live-status', { hasText: 'copied' }).waitFor();
  const pasted = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(pasted, key);

  // The copied value and the tenant id list the tenant's flows.
  const listed = await listFlows(pasted, server.tenantId);
  assert.equal(listed.status, 200);
  const names = (await listed.json()).map((flow) => flow.developerName);
  assert.deepEqual(names, ['Hello World']);

  // The Flows page shows the same flows.
  await page.goto('/flows');
  await page.screenshot({ path: join(SCREENSHOTS, 'flows-1440.png') });
  assert.equal(await page.locator('table.flows tbody th').allInnerTexts().then((t) => t.join()), 'Hello World');
  await page.goto('/settings');

  // Delete asks first; Cancel keeps the key.
  const remove = keyRow('API Key').getByRole('link', { name: 'Delete the key API Key of Example' });
  await remove.click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, 'delete-dialog-1440.png') });
  assert.equal(await dialog.getByRole('heading').innerText(), 'Are you sure you want to remove this key?');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await keyRow('API Key').count(), 1);

  await remove.click();
  const deleted = await posting('/settings/keys/delete', () => dialog.getByRole('button', { name: 'Delete' }).click());
  assert.equal(deleted.status(), 200);
  assert.equal(await page.locator('#notice').innerText(), 'The API key “API Key” was deleted.');
  assert.equal(await keyRow('API Key').count(), 0);

  // The key stops working at once.
  assert.equal((await listFlows(pasted, server.tenantId)).status, 401);
});

test('a form posted without its CSRF token is refused with 403', async () => {
  await page.goto('/settings');
  await signIn();
  await page.getByLabel('Key Name').fill('Forged');
  await page.locator('form.generate input[name="csrf"]').evaluate((input) => input.remove());
  const response = await posting('/settings/keys', () => page.getByRole('button', { name: 'Generate Key' }).click());
  assert.equal(response.status(), 403);
  assert.match(await page.locator('main').innerText(), /security token/);
  await page.goto('/settings');
  assert.equal(await keyRow('Forged').count(), 0);
});

test('the generate form is reachable by keyboard alone', async () => {
  await page.goto('/settings');
  await signIn();
  await page.getByLabel('Key Name').focus();
  await page.keyboard.type('Keyboard');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'key-tenant');
  // The expiry: its select, then the date (Chromium stops at each part of a date input).
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'key-expires');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'key-expires-on');
  for (let i = 0; i < 4; i++) {
    if ((await page.evaluate(() => document.activeElement.id)) !== 'key-expires-on') break;
    await page.keyboard.press('Tab');
  }
  // The scopes' checkboxes, each in turn: Space checks the first.
  assert.equal(await page.evaluate(() => document.activeElement.name), 'scope:flows:read');
  await page.keyboard.press('Space');
  for (let i = 1; i < 8; i++) await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.name), 'scope:admin:write');
  // The rate limit: requests a second, then the burst.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'key-rate');
  await page.keyboard.type('5');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'key-burst');
  await page.keyboard.type('10');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'key-networks');
  await page.keyboard.type('127.0.0.1');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'Generate Key');
  await posting('/settings/keys', () => page.keyboard.press('Enter'));
  assert.equal(await keyRow('Keyboard').count(), 1);
  assert.equal(await keyRow('Keyboard').locator('td[data-label="Scopes"]').innerText(), 'flows:read');
  assert.equal(await keyRow('Keyboard').locator('td[data-label="Networks"]').innerText(), '127.0.0.1');
});
