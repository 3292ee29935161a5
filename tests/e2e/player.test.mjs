// The player (/{tenantId}/play/{player}?flow-id=…) in a real browser: a flow made through the
// API (an input page, a decision, two steps), activated, then run both ways, with a reload that
// joins, the required answer's message, the layout and axe-core at every size, and one run by
// keyboard alone. The flow is for members: the player first asks to sign in, and comes back.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { SCREENSHOTS, VIEWPORTS, launch, posting, signIn } from './browser.mjs';
import { accessibilityProblems, layoutProblems } from './checks.mjs';

let browser;
let page;
let server;
let flow;

before(async () => {
  browser = await launch();
  ({ page, server } = browser);
  mkdirSync(SCREENSHOTS, { recursive: true });
  flow = await buildFlow();
});

after(async () => {
  await browser?.close();
});

/// A call of the API as the administrator; fails unless it answers 200.
async function api(token, method, path, body) {
  const response = await fetch(`${server.base}${path}`, {
    method,
    headers: { authorization: token, manywhotenant: server.tenantId, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.equal(response.status, 200, `${method} ${path}: ${text}`);
  return JSON.parse(text);
}

/// START → "Ask" (a page with a required input bound to Choice) → a decision: Choice is
/// "yes" → the step "Agreed"; else → the step "Declined". For members, activated.
async function buildFlow() {
  const signedIn = await fetch(`${server.base}/api/draw/1/authentication`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: server.email, password: server.password }),
  });
  assert.equal(signedIn.status, 200);
  const token = await signedIn.json();
  const call = (method, path, body) => api(token, method, path, body);
  const choice = await call('POST', '/api/draw/1/element/value', { developerName: 'Choice', contentType: 'ContentString', access: 'PRIVATE' });
  const box = '00000000-0000-4000-8000-00000000b0c5';
  const page = await call('POST', '/api/draw/1/element/page', {
    developerName: 'Ask page', label: 'Your answer',
    pageContainers: [{ id: '00000000-0000-4000-8000-0000000000c1', containerType: 'VERTICAL_FLOW', developerName: 'Main' }],
    pageComponents: [
      { id: '00000000-0000-4000-8000-00000000b0c4', pageContainerId: '00000000-0000-4000-8000-0000000000c1', componentType: 'PRESENTATION',
        developerName: 'Intro', order: 0, content: '<p>Type <b>yes</b> to agree; anything else declines.</p>' },
      { id: box, pageContainerId: '00000000-0000-4000-8000-0000000000c1', componentType: 'INPUT', developerName: 'Choice box',
        label: 'Do you agree?', isRequired: true, order: 1, valueElementValueBindingReferenceId: { id: choice.id } },
    ],
  });
  const created = await call('POST', '/api/draw/1/flow', { developerName: 'Player test' });
  const id = created.id.id;
  const map = async (element) => {
    const { editingToken } = await call('GET', `/api/draw/1/flow/${id}`);
    return (await call('POST', `/api/draw/1/flow/${id}/${editingToken}/element/map`, element)).id;
  };
  const outcome = (oid, name, next, extra = {}) => ({ id: oid, developerName: name, label: name, nextMapElementId: next, order: 0, ...extra });
  const agreed = await map({ elementType: 'STEP', developerName: 'Agreed', title: 'Agreed', x: 500, y: 100, userContent: '<p>You agreed, {![Choice]}.</p>' });
  const declined = await map({ elementType: 'STEP', developerName: 'Declined', title: 'Declined', x: 500, y: 300, userContent: '<p>You declined: {![Choice]}.</p>' });
  const decide = await map({ elementType: 'DECISION', developerName: 'Decide', x: 400, y: 100, outcomes: [
    outcome('00000000-0000-4000-8000-0000000000d1', 'Yes', agreed, { comparison: { comparisonType: 'AND',
      rules: [{ leftValueElementToReferenceId: { id: choice.id }, criteriaType: 'EQUAL', rightValueElementToReferenceId: 'yes' }] } }),
    { ...outcome('00000000-0000-4000-8000-0000000000d2', 'No', declined), order: 1 },
  ] });
  const ask = await map({ elementType: 'INPUT', developerName: 'Ask', title: 'A question', x: 200, y: 100, pageElementId: page.id,
    outcomes: [outcome('00000000-0000-4000-8000-0000000000f1', 'Send', decide)] });
  await map({ id: created.startMapElementId, elementType: 'START', developerName: 'Start', x: 100, y: 100,
    outcomes: [outcome('00000000-0000-4000-8000-0000000000a1', 'Begin', ask)] });
  const header = await call('GET', `/api/draw/1/flow/${id}`);
  header.authorization = { globalAuthenticationType: 'ALL_USERS' };
  const saved = await call('POST', '/api/draw/1/flow', header);
  await call('POST', `/api/draw/1/flow/snap/${id}`, 'player test');
  await call('POST', `/api/draw/1/flow/activation/${id}/${saved.id.versionId}/true/true`);
  return { id, box };
}

const playerPath = () => `/${server.tenantId}/play/default`;
const playerUrl = () => `${playerPath()}?flow-id=${flow.id}`;

/// The layout and axe-core's audit at every size (as pages.test.mjs checks every page).
async function checkEverySize(state) {
  const problems = [];
  for (const viewport of VIEWPORTS) {
    await page.setViewportSize({ width: viewport.width, height: viewport.height });
    await page.screenshot({ path: join(SCREENSHOTS, `${state}-${viewport.width}.png`), fullPage: true });
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

/// Opens the player on `tab`, signing in first when it asks (a test run on its own).
async function openPlayer(tab) {
  const opened = await tab.goto(`${server.base}${playerUrl()}`);
  if (opened.status() === 401) {
    await tab.getByRole('link', { name: 'Sign in to run it' }).click();
    await signIn(tab, server);
  }
  assert.ok(new URL(tab.url()).searchParams.get('join'), `${opened.status()} ${tab.url()}`);
}

const joinedState = () => new URL(page.url()).searchParams.get('join');
const submit = (name) => posting(page, playerPath(), () => page.getByRole('button', { name }).click());

test('signed out, the player asks to sign in and comes back to start the flow', async () => {
  const refused = await page.goto(playerUrl());
  assert.equal(refused.status(), 401);
  await checkEverySize('player-sign-in');
  await page.getByRole('link', { name: 'Sign in to run it' }).click();
  await page.waitForURL((url) => url.pathname === '/login');
  await signIn(page, server);
  await page.waitForURL((url) => url.pathname === playerPath() && url.searchParams.get('join'));
  assert.equal(new URL(page.url()).searchParams.get('flow-id'), flow.id);
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Player test');
});

test('both outcomes of the decision, a reload that joins, the required answer', async () => {
  await openPlayer(page);
  const state = joinedState();
  assert.match(state, /^[0-9a-f-]{36}$/);
  assert.equal(await page.getByRole('heading', { level: 2 }).innerText(), 'A question');
  assert.match(await page.locator('.presentation').innerText(), /Type yes to agree/);
  const input = page.getByLabel('Do you agree?');
  assert.equal(await input.getAttribute('aria-required'), 'true');
  await checkEverySize('player-page');

  // A reload joins the state rather than starting another.
  await page.reload();
  assert.equal(joinedState(), state);

  // Sent without the required answer: the engine's message, tied to the input.
  const missing = await submit('Send');
  assert.equal(missing.status(), 422);
  const error = page.locator('.field-error');
  assert.equal(await error.innerText(), 'Do you agree? is required.');
  assert.equal(await page.getByLabel('Do you agree?').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getByLabel('Do you agree?').getAttribute('aria-describedby'), await error.getAttribute('id'));
  await checkEverySize('player-missing');

  // Answered "yes": the decision's first outcome, its step, and the run is over.
  await page.getByLabel('Do you agree?').fill('yes');
  const agreed = await submit('Send');
  assert.equal(agreed.status(), 303);
  assert.equal(joinedState(), state);
  assert.equal(await page.getByRole('heading', { level: 2 }).innerText(), 'Agreed');
  assert.match(await page.locator('main').innerText(), /You agreed, yes\./);
  assert.match(await page.locator('#player-over').innerText(), /This flow is over/);
  await checkEverySize('player-over');
  await page.reload();
  assert.equal(await page.getByRole('heading', { level: 2 }).innerText(), 'Agreed');

  // Run it again: a new state, and the other way.
  await page.getByRole('link', { name: 'Run it again' }).click();
  await page.waitForURL((url) => url.searchParams.get('join') && url.searchParams.get('join') !== state);
  await page.getByLabel('Do you agree?').fill('not today');
  await submit('Send');
  assert.equal(await page.getByRole('heading', { level: 2 }).innerText(), 'Declined');
  assert.match(await page.locator('main').innerText(), /You declined: not today\./);
});

test('the page works without script: the same run with JavaScript off', async () => {
  // The persistent context shares the session; script is turned off on a page of its own.
  const plain = await page.context().newPage();
  try {
    const session = await page.context().newCDPSession(plain);
    await session.send('Emulation.setScriptExecutionDisabled', { value: true });
    await openPlayer(plain);
    await plain.getByLabel('Do you agree?').fill('yes');
    const sent = await posting(plain, playerPath(), () => plain.getByRole('button', { name: 'Send' }).click());
    assert.equal(sent.status(), 303);
    assert.match(await plain.locator('main').innerText(), /You agreed, yes\./);
  } finally {
    await plain.close();
  }
});

test('one run by keyboard alone', async () => {
  await page.setViewportSize({ width: 1440, height: 900 });
  await openPlayer(page);
  const state = joinedState();
  // From the top of the page: the skip link, then Tab on to the answer.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip-link');
  for (let i = 0; i < 10; i++) {
    if (await page.evaluate((id) => document.activeElement.id === id, `c-${flow.box}`)) break;
    await page.keyboard.press('Tab');
  }
  assert.equal(await page.evaluate(() => document.activeElement.id), `c-${flow.box}`);
  await page.keyboard.type('yes');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'Send');
  const sent = await posting(page, playerPath(), () => page.keyboard.press('Enter'));
  assert.equal(sent.status(), 303);
  assert.equal(joinedState(), state);
  assert.equal(await page.getByRole('heading', { level: 2 }).innerText(), 'Agreed');
});
