// Every page at a phone's, a laptop's and a desktop's size: a screenshot of each, the layout
// checked (nothing wider than the window, every column of a table on screen or labelled in its
// card) and axe-core's audit (no serious or critical violation).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

import { SCREENSHOTS, VIEWPORTS, generate, keyRow, launch, posting, signIn } from './browser.mjs';
import { accessibilityProblems, layoutProblems } from './checks.mjs';

// Set by scripts/screenshot.sh: where to write README.md's picture of the User Settings page.
const README_SCREENSHOT = process.env.KEYFLOW_README_SCREENSHOT;

let browser;
let page;
let server;

before(async () => {
  browser = await launch();
  ({ page, server } = browser);
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
});

/// Screenshots the page as it is at every size, checks its layout and audits it; fails with
/// every problem found at every size (the last size checked is the desktop's).
async function checkEverySize(state, { fullPage = true } = {}) {
  const problems = [];
  for (const viewport of VIEWPORTS) {
    await page.setViewportSize({ width: viewport.width, height: viewport.height });
    await page.screenshot({ path: join(SCREENSHOTS, `${state}-${viewport.width}.png`), fullPage });
    for (const problem of await layoutProblems(page)) {
      problems.push(`${state} at ${viewport.width}×${viewport.height}: ${problem}`);
    }
    const audit = await accessibilityProblems(page);
    for (const problem of audit.serious) {
      problems.push(`${state} at ${viewport.width}×${viewport.height}: axe: ${problem}`);
    }
    for (const note of audit.other) {
      console.log(`# ${state} at ${viewport.width}: axe (minor): ${note}`);
    }
  }
  assert.deepEqual(problems, []);
}

test('the sign-in page, and with a refused password', async () => {
  await page.goto('/login');
  await checkEverySize('login');
  const refused = await signIn(page, server, 'not the password');
  assert.equal(refused.status(), 422);
  await checkEverySize('login-refused');
});

test('User Settings: no keys, a key just generated, keys listed, a key shown', async () => {
  await page.goto('/settings');
  await signIn(page, server);
  await checkEverySize('settings-empty');

  await generate(page, 'API Key', 'Example');
  await checkEverySize('settings-generated');

  // Every field of a row filled, with long values: the row must still fit.
  await page.getByLabel('Key Name').fill('Deployment-pipeline-production-eu-west-1-nightly-build');
  await page.getByLabel('Expires', { exact: true }).selectOption('7');
  await page.getByRole('checkbox', { name: 'flows:read' }).check();
  await page.getByRole('checkbox', { name: 'packages:write' }).check();
  await page.getByLabel('Rate limit: requests a second').fill('5');
  await page.getByLabel('Burst: requests at once').fill('10');
  await page.getByLabel('Allowed networks').fill('203.0.113.0/24, 2001:db8:85a3::/48, 198.51.100.7/32');
  await posting(page, '/settings/keys', () => page.getByRole('button', { name: 'Generate Key' }).click());
  await page.goto('/settings');
  await checkEverySize('settings-keys');

  // The table as it was reported: a key's value shown makes the row no wider than the card.
  const row = keyRow(page, 'API Key');
  await row.getByRole('button', { name: 'Show' }).click();
  await row.locator('.key-value').waitFor({ state: 'visible' });
  await checkEverySize('settings-shown');

  if (README_SCREENSHOT) {
    // README.md's picture: the desktop's size, from the top down to the end of the keys table.
    await page.setViewportSize({ width: 1440, height: 900 });
    const bottom = await page.locator('section[aria-labelledby="keys-title"]')
      .evaluate((keys) => Math.ceil(keys.getBoundingClientRect().bottom + window.scrollY + 24));
    await page.screenshot({ path: resolve(README_SCREENSHOT), clip: { x: 0, y: 0, width: 1440, height: bottom }, fullPage: true });
  }
});

test('Delete: the dialog, and the page that confirms without script', async () => {
  await page.goto('/settings');
  if (new URL(page.url()).pathname === '/login') {
    await signIn(page, server);
  }
  if ((await keyRow(page, 'Delete me').count()) === 0) {
    await generate(page, 'Delete me', 'Example');
  }
  const remove = keyRow(page, 'Delete me').getByRole('link', { name: 'Delete the key Delete me of Example' });
  await remove.click();
  await page.getByRole('dialog').waitFor();
  // A modal dialog sits in the window: the window, not the whole page.
  await checkEverySize('delete-dialog', { fullPage: false });

  await page.goto(await remove.getAttribute('href'));
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Are you sure you want to remove this key?');
  await checkEverySize('delete-page');
});

test('the Flows page, and an error page', async () => {
  await page.goto('/flows');
  if (new URL(page.url()).pathname === '/login') {
    await signIn(page, server);
  }
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Flows');
  await checkEverySize('flows');

  const missing = await page.goto('/flows?tenant=00000000-0000-0000-0000-000000000000');
  assert.equal(missing.status(), 404);
  await checkEverySize('error');
});
