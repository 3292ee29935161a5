// The worked example with the keyboard alone: sign in, generate, Show, Copy, delete, each
// reached with Tab and done with Enter, Space or Escape; and the focus order of the User Settings
// page, which follows its reading order and reaches every control.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { VIEWPORTS, launch } from './browser.mjs';

let browser;
let page;
let server;

before(async () => {
  browser = await launch();
  ({ page, server } = browser);
});

after(async () => {
  await browser?.close();
});

const focused = () => page.evaluate(() => {
  const el = document.activeElement;
  return { tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute('aria-label') || el.innerText || el.name || '' };
});

/// Presses Tab until the focused element matches `selector`; fails after `limit` presses.
async function tabTo(selector, limit = 120) {
  for (let i = 0; i < limit; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) {
      return;
    }
    await page.keyboard.press('Tab');
  }
  assert.fail(`${selector} was not reached with ${limit} presses of Tab; the focus is on ${JSON.stringify(await focused())}`);
}

/// Presses `key` and waits for the page the form post it causes answers with.
async function pressPosting(key, path) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === path && r.request().method() === 'POST'),
    page.waitForEvent('domcontentloaded'),
    page.keyboard.press(key),
  ]);
  return response;
}

function listFlows(key) {
  return fetch(`${server.base}/api/draw/1/flow`, {
    headers: { 'x-boomi-flow-api-key': key, manywhotenant: server.tenantId },
  });
}

test('the worked example by keyboard alone', async () => {
  // Sign in: the email field has the focus, Tab goes to the password, Enter signs in.
  await page.goto('/settings');
  assert.equal((await focused()).id, 'email');
  await page.keyboard.type(server.email);
  await page.keyboard.press('Tab');
  assert.equal((await focused()).id, 'password');
  await page.keyboard.type(server.password);
  assert.equal((await pressPosting('Enter', '/login')).status(), 303);
  assert.equal(new URL(page.url()).pathname, '/settings');

  // The skip link is the first stop, and leads to the content.
  await page.keyboard.press('Tab');
  assert.equal((await focused()).name, 'Skip to the content');
  await page.keyboard.press('Enter');
  assert.equal((await focused()).id, 'main');

  // Generate: the Key Name, then Enter submits the form.
  await tabTo('#key-name');
  await page.keyboard.type('API Key');
  assert.equal((await pressPosting('Enter', '/settings/keys')).status(), 200);
  assert.match(await page.locator('#new-key').innerText(), /The API key “API Key” for Example was generated/);

  // Show: Enter on the row's Show reveals the value; the button, still focused, is now Hide.
  const row = 'tr[data-key-name="API Key"]';
  await tabTo(`${row} [data-show]`);
  assert.equal((await focused()).name, 'Show the key API Key of Example');
  await page.keyboard.press('Enter');
  await page.locator(`${row} .key-value`).waitFor({ state: 'visible' });
  const key = await page.locator(`${row} .key-value`).innerText();
  assert.match(key, /^kf_[0-9A-Za-z]{32}$/);
  assert.equal((await focused()).name, 'Hide the key API Key of Example');
  assert.equal(await page.locator(`${row} [data-show]`).getAttribute('aria-expanded'), 'true');

  // Copy: the next stop; Space copies, and the live region says so.
  await page.keyboard.press('Tab');
  assert.equal((await focused()).name, 'Copy the key API Key of Example');
  await page.keyboard.press('Space');
  await page.locator('#live-status', { hasText: 'The key “API Key” was copied.' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
  assert.equal((await listFlows(key)).status, 200);

  // Delete: Enter on the row's Delete opens the dialog with the focus on Cancel; Escape closes
  // it and gives the focus back.
  await tabTo(`${row} [data-delete]`);
  assert.equal((await focused()).name, 'Delete the key API Key of Example');
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  assert.equal((await focused()).name.trim(), 'Cancel');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal((await focused()).name, 'Delete the key API Key of Example');
  await page.keyboard.press('Enter');
  await dialog.waitFor();
  // Shift+Tab from Cancel is the dialog's Delete.
  await page.keyboard.press('Shift+Tab');
  assert.equal((await focused()).name.trim(), 'Delete');
  assert.equal((await pressPosting('Enter', '/settings/keys/delete')).status(), 200);
  assert.equal(await page.locator('#notice').innerText(), 'The API key “API Key” was deleted.');
  assert.equal(await page.locator(row).count(), 0);
  assert.equal((await listFlows(key)).status, 401);
});

test('Rotate by keyboard alone: the overlap chosen with the arrows, then Enter', async () => {
  await page.goto('/settings');
  if (new URL(page.url()).pathname === '/login') {
    await page.getByLabel('Email').fill(server.email);
    await page.getByLabel('Password').fill(server.password);
    await Promise.all([page.waitForEvent('domcontentloaded'), page.getByRole('button', { name: 'Sign in' }).click()]);
  }
  await page.getByLabel('Key Name').fill('Rotated');
  await Promise.all([page.waitForEvent('domcontentloaded'), page.getByRole('button', { name: 'Generate Key' }).click()]);
  const row = 'tr[data-key-name="Rotated"]';
  const old = await page.locator('#new-key-value').innerText();
  await page.locator('#key-name').focus();
  await tabTo(`${row} select[name="overlap"]`);
  assert.equal(await page.getByLabel('Old value works (the key Rotated of Example)').count(), 1);
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.locator(`${row} select[name="overlap"]`).inputValue(), '3600');
  await page.keyboard.press('Tab');
  assert.equal((await focused()).name, 'Rotate the key Rotated of Example');
  assert.equal((await pressPosting('Enter', '/settings/keys/rotate')).status(), 200);
  assert.match(await page.locator('#new-key').innerText(), /“Rotated” for Example was rotated: this is its new value\. The old value works until/);
  const fresh = await page.locator('#new-key-value').innerText();
  assert.notEqual(fresh, old);
  // Both work for the hour of overlap.
  assert.equal((await listFlows(fresh)).status, 200);
  assert.equal((await listFlows(old)).status, 200);
});

test('the focus on User Settings follows the reading order and reaches every control', async () => {
  await page.goto('/settings');
  if (new URL(page.url()).pathname === '/login') {
    await page.getByLabel('Email').fill(server.email);
    await page.getByLabel('Password').fill(server.password);
    await Promise.all([page.waitForEvent('domcontentloaded'), page.getByRole('button', { name: 'Sign in' }).click()]);
  }
  for (const name of ['Focus one', 'Focus two']) {
    await page.getByLabel('Key Name').fill(name);
    await Promise.all([page.waitForEvent('domcontentloaded'), page.getByRole('button', { name: 'Generate Key' }).click()]);
  }
  for (const viewport of [VIEWPORTS[0], VIEWPORTS[2]]) {
    await page.setViewportSize({ width: viewport.width, height: viewport.height });
    await page.goto('/settings');
    // Every control a person can reach, in the document's order, numbered.
    const expected = await page.evaluate(() => {
      const controls = [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
        .filter((el) => el.tabIndex >= 0 && !el.disabled && el.type !== 'hidden' && !el.closest('dialog, [hidden]')
          && el.getClientRects().length > 0);
      controls.forEach((el, i) => { el.dataset.order = String(i); });
      return controls.length;
    });
    // The identity's Copy buttons, the generate form, two rows of keys, the password form.
    assert.ok(expected > 30, `only ${expected} controls`);
    const reached = [];
    await page.evaluate(() => document.activeElement?.blur());
    for (let i = 0; i < expected * 4 && reached.length < expected; i++) {
      await page.keyboard.press('Tab');
      const order = await page.evaluate(() => document.activeElement?.dataset.order ?? null);
      // A date input takes several presses (day, month, year): one stop.
      if (order !== null && reached.at(-1) !== Number(order)) {
        reached.push(Number(order));
      }
    }
    assert.deepEqual(reached, [...Array(expected).keys()], `at ${viewport.width} px`);
  }
  await page.setViewportSize({ width: 1440, height: 900 });
});
