// The worked example "Using API keys" in a real browser: Debian's Chromium, driven by
// playwright-core, against a freshly started keyflow.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import { generate as generateOn, keyField, keyRow as rowOn, launch, posting as postingOn, signIn as signInOn } from './browser.mjs';

let browser;
let server;
let context;
let page;

before(async () => {
  browser = await launch();
  ({ server, context, page } = browser);
});

after(async () => {
  await browser?.close();
});

beforeEach(async () => {
  await context.clearCookies();
});

const signIn = (password) => signInOn(page, server, password);
const posting = (path, action) => postingOn(page, path, action);
const generate = (name, tenant) => generateOn(page, name, tenant);
const keyRow = (name) => rowOn(page, name);

function listFlows(key, tenant) {
  return fetch(`${server.base}/api/draw/1/flow`, {
    headers: { 'x-boomi-flow-api-key': key, manywhotenant: tenant },
  });
}

test('a wrong password shows a clear message and keeps the email', async () => {
  await page.goto('/settings');
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(new URL(page.url()).searchParams.get('next'), '/settings');
  const response = await signIn('not the password');
  assert.equal(response.status(), 422);
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
  assert.match(await page.locator('#new-key').innerText(), /The API key “API Key” for Example was generated/);
  const row = keyRow('API Key');
  assert.equal(await keyField(page, 'API Key', 'Tenant Name').innerText(), 'Example');
  assert.equal((await keyField(page, 'API Key', 'Tenant ID').innerText()).trim(), server.tenantId);

  // A second key, then the page as anyone sees it later: keys listed, their values hidden.
  await generate('Nightly build', 'Example');
  await page.goto('/settings');

  // Show reveals the value in place; Hide hides it again.
  const show = row.getByRole('button', { name: 'Show' });
  await show.click();
  const value = row.locator('.key-value');
  await value.waitFor({ state: 'visible' });
  const key = await value.innerText();
  assert.match(key, /^kf_[0-9A-Za-z]{32}$/);
  assert.equal(await row.getByRole('button', { name: 'Hide' }).count(), 1);

  // Copy puts it on the clipboard.
  await row.getByRole('button', { name: 'Copy the key API Key of Example' }).click();
  await page.locator('#live-status', { hasText: 'copied' }).waitFor();
  const pasted = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(pasted, key);

  // The Tenant ID has a Copy of its own, announced by what it copied.
  await row.getByRole('button', { name: 'Copy the Tenant ID of the key API Key' }).click();
  await page.locator('#live-status', { hasText: 'The Tenant ID of the key API Key was copied.' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), server.tenantId);

  // The copied value and the tenant id list the tenant's flows.
  const listed = await listFlows(pasted, server.tenantId);
  assert.equal(listed.status, 200);
  const names = (await listed.json()).map((flow) => flow.developerName);
  assert.deepEqual(names, ['Hello World']);

  // The Flows page shows the same flows.
  await page.goto('/flows');
  assert.equal(await page.locator('table.flows tbody th').allInnerTexts().then((t) => t.join()), 'Hello World');
  await page.goto('/settings');

  // Delete asks first; Cancel keeps the key.
  const remove = keyRow('API Key').getByRole('link', { name: 'Delete the key API Key of Example' });
  await remove.click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
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
  // Every other scope, one Tab each, in the order the page lists them.
  let scopes = 1;
  await page.keyboard.press('Tab');
  while ((await page.evaluate(() => document.activeElement.name ?? '')).startsWith('scope:')) {
    scopes += 1;
    await page.keyboard.press('Tab');
  }
  assert.equal(scopes, await page.locator('input[name^="scope:"]').count());
  // The rate limit: requests a second, then the burst.
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
  assert.equal(await keyField(page, 'Keyboard', 'Scopes').innerText(), 'flows:read');
  assert.equal(await keyField(page, 'Keyboard', 'Networks').innerText(), '127.0.0.1');
});

test('a failed Show is written beside the key and announced', async () => {
  await page.goto('/settings');
  await signIn();
  await generate('Refused', 'Example');
  // The server refuses the reveal, as it does for a key deleted meanwhile.
  await page.route('**/settings/keys/reveal', (route) => route.fulfill({
    status: 404,
    contentType: 'application/json',
    body: JSON.stringify('There is no API key named Refused for this tenant.'),
  }));
  try {
    const row = keyRow('Refused');
    await row.getByRole('button', { name: 'Show the key Refused of Example' }).click();
    const slot = row.locator('[data-key-error]');
    await slot.waitFor({ state: 'visible' });
    assert.equal(await slot.innerText(), 'There is no API key named Refused for this tenant.');
    await page.locator('#live-status', { hasText: 'There is no API key named Refused' }).waitFor();
    assert.equal(await row.locator('.key-value').isVisible(), false);
    assert.equal(await row.locator('[data-show]').getAttribute('aria-expanded'), 'false');
  } finally {
    await page.unroute('**/settings/keys/reveal');
  }
});
