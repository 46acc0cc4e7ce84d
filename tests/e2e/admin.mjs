// The admin in a real browser: playwright-core (npm, pinned by scripts/node-tools.sh)
// drives Debian's headless Chromium against a real project's `serve` (tests/tests/admin.rs
// starts it, with the `shop` fixture app and `mango.audit`).
//
//   ADMIN_URL=http://127.0.0.1:PORT/admin ADMIN_PASSWORD=… SCREENSHOTS=docs/admin \
//     "$(./scripts/node-tools.sh)" tests/e2e/admin.mjs
//
// Each step prints `ok <what>`; the first failure throws (exit 1) with what the page showed.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

function findPackage() {
  for (let dir = dirname(process.execPath); dir !== dirname(dir); dir = dirname(dir)) {
    const entry = join(dir, 'node_modules', 'playwright-core', 'index.mjs');
    if (existsSync(entry)) return entry;
  }
  throw new Error('playwright-core is not installed: run ./scripts/node-tools.sh');
}
const { chromium } = await import(pathToFileURL(findPackage()).href);

const base = process.env.ADMIN_URL;
const password = process.env.ADMIN_PASSWORD;
const shots = process.env.SCREENSHOTS;
if (!base || !password) throw new Error('set ADMIN_URL and ADMIN_PASSWORD');

function check(cond, what, detail = '') {
  if (!cond) throw new Error(`FAILED: ${what}${detail ? `\n${detail}` : ''}`);
  console.log(`ok ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // Any script the admin runs that was not its own (an injected <script>) would call this.
  await page.exposeFunction('mangoInjected', () => errors.push('an injected script ran'));
  const text = async () => (await page.textContent('main')) || '';
  const shot = async (name) => {
    if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  };

  // Without a session: to the login page, which remembers where we were going.
  let r = await page.goto(`${base}/apps`);
  check(page.url().startsWith(`${base}/login?next=`), 'a page without a session redirects to the login', page.url());

  // A wrong password is refused.
  await page.fill('input[name=password]', 'not the password');
  await page.click('button[type=submit]');
  check((await text()).includes('wrong name or password'), 'a wrong password is refused', await text());

  // Log in.
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  check(page.url() === `${base}/apps`, 'logging in goes where we were going', page.url());
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'mango_admin');
  check(session && session.httpOnly && session.sameSite === 'Strict', 'the session cookie is HttpOnly and SameSite=Strict', JSON.stringify(cookies));

  // The apps, with everything the shop app serves.
  const apps = await text();
  for (const what of ['shop', 'shop_order', 'shop_refuse', 'shop://orders/{id}', 'shop_pitch', 'applied']) {
    check(apps.includes(what), `the apps page shows ${what}`, apps);
  }
  await shot('apps');

  // The overview.
  await page.goto(`${base}/`);
  const overview = await text();
  check(overview.includes('2025-11-25') && overview.includes('2026-07-28') && overview.includes('reachable'),
    'the overview shows the protocol eras and the database', overview);
  // Every card's text stays inside its card (the Server card's endpoint once ran out of it).
  const clipped = await page.$$eval('.card dd', (els) => els
    .filter((e) => e.scrollWidth > e.clientWidth + 1
      || e.getBoundingClientRect().right > e.closest('.card').getBoundingClientRect().right + 1)
    .map((e) => e.textContent));
  check(clipped.length === 0, 'the overview\'s cards hold their text at 1280 px', JSON.stringify(clipped));

  // A tool's form, from its input schema: fill it and call the tool.
  await page.goto(`${base}/tools/shop_order`);
  check(await page.locator('select[name=size]').count() === 1, 'an enum is a select');
  check(await page.locator('input[type=checkbox][name=express]').count() === 1, 'a boolean is a checkbox');
  check(await page.locator('textarea[name=tags]').count() === 1, 'a list is a text box, one item a line');
  check(await page.locator('input[name="address.street"]').count() === 1, 'a nested object has fields of its own');
  const hostile = '<img src=x onerror="window.mangoInjected()"><script>window.mangoInjected()</script>';
  await page.fill('input[name=item]', hostile);
  await page.fill('input[name=quantity]', '2');
  await page.selectOption('select[name=size]', 'large');
  await page.check('input[name=express]');
  await page.fill('textarea[name=tags]', 'gift\nfragile');
  await page.fill('input[name="address.street"]', '1 Main St');
  await page.fill('input[name="address.city"]', 'Springfield');
  await Promise.all([page.waitForNavigation(), page.click('form.try button[type=submit]')]);
  let result = (await page.textContent('#result')) || '';
  check(result.includes('order 1: 2 × <img src=x') && result.includes('large, express') && result.includes('tags [gift, fragile]')
    && result.includes('to 1 Main St, Springfield'), 'the form calls the tool and shows its result', result);
  check(await page.locator('#result img[src=x], #result script').count() === 0, 'HTML in arguments and results is shown as text');
  await shot('tool');

  // A value that does not fit the schema: the field's error, and nothing called.
  await page.goto(`${base}/tools/shop_order`);
  await page.fill('input[name=item]', 'tea');
  await page.fill('input[name=quantity]', 'lots');
  r = await Promise.all([page.waitForNavigation(), page.click('form.try button[type=submit]')]);
  check(r[0].status() === 422, 'an invalid form is answered 422', String(r[0].status()));
  const invalid = await text();
  check(invalid.includes('`lots` is not a whole number') && invalid.includes('nothing was called'),
    "the field's error is shown", invalid);
  check(await page.locator('#result').count() === 0, 'and nothing was called');

  // A failing tool, and one that panics: their errors, and the server goes on.
  await page.goto(`${base}/tools/shop_refuse`);
  await page.fill('input[name=item]', 'plums');
  await Promise.all([page.waitForNavigation(), page.click('form.try button[type=submit]')]);
  result = (await page.textContent('#result')) || '';
  check(result.includes('Failed') && result.includes('out of stock: plums'), 'a failed call shows its error', result);
  await page.goto(`${base}/tools/shop_explode`);
  await Promise.all([page.waitForNavigation(), page.click('form.try button[type=submit]')]);
  result = (await page.textContent('#result')) || '';
  check(result.includes('Failed') && result.includes('panicked'), 'a tool that panics shows the panic', result);

  // An image result is shown as an image.
  await page.goto(`${base}/tools/shop_logo`);
  await Promise.all([page.waitForNavigation(), page.click('form.try button[type=submit]')]);
  const width = await page.locator('#result img').evaluate((img) => img.naturalWidth);
  check(width === 2, 'an image result is shown as an image', String(width));

  // The whole call as JSON.
  await page.goto(`${base}/tools/shop_order`);
  await page.click('summary:has-text("as JSON")');
  await page.fill('textarea[name=__json]', '{"item": "jam", "quantity": 1, "size": "small", "express": false, "tags": []}');
  await Promise.all([page.waitForNavigation(), page.click('form.try button[type=submit]')]);
  result = (await page.textContent('#result')) || '';
  check(result.includes('order 2: 1 × jam'), 'the arguments can be given as JSON (the failed call wrote nothing)', result);

  // A resource template and a prompt.
  await page.goto(`${base}/resources?uri=${encodeURIComponent('shop://orders/{id}')}`);
  await page.fill('input[name="var.id"]', '2');
  await Promise.all([page.waitForNavigation(), page.click('form.try button[type=submit]')]);
  result = (await page.textContent('#result')) || '';
  check(result.includes('jam') && result.includes('shop://orders/2'), 'a resource template is read with its variables', result);
  await page.goto(`${base}/prompts/shop_pitch`);
  await page.fill('input[name="arg.item"]', 'jam');
  await Promise.all([page.waitForNavigation(), page.click('form.try button[type=submit]')]);
  result = (await page.textContent('#result')) || '';
  check(result.includes('Write one sentence that sells jam.'), 'a prompt is got with its arguments', result);

  // The calls log: every call above, newest first, the failures with their errors.
  await page.goto(`${base}/calls`);
  const calls = await text();
  for (const what of ['shop_order', 'shop_refuse', 'out of stock: plums', 'tool_error', 'one_order', 'shop_pitch']) {
    check(calls.includes(what), `the log shows ${what}`, calls);
  }
  // (Besides the two `run call`s that enqueued the jobs, the run of the job, and the
  // two tasks started over MCP.)
  const admins = page.locator('tbody tr').filter({ hasNotText: 'in-process' }).filter({ hasNotText: 'worker' })
    .filter({ hasNotText: 'shop_stocktake' });
  check(await admins.count() === 7, 'one row per call (the invalid form called nothing)', calls);
  check(calls.includes('job restock') && calls.includes('the supplier has no pears'), 'a job\'s run is in the log, with its error', calls);
  // Filtered by outcome.
  await page.goto(`${base}/calls?outcome=tool_error`);
  check(await page.locator('tbody tr').filter({ hasNotText: 'worker' }).count() === 2, 'the log filters by outcome', await text());
  // Live: a call made elsewhere appears without reloading.
  await page.goto(`${base}/calls`);
  const other = await context.newPage();
  await other.goto(`${base}/tools/shop_refuse`);
  await other.fill('input[name=item]', 'live <i>figs</i>');
  await Promise.all([other.waitForNavigation(), other.click('form.try button[type=submit]')]);
  await page.waitForSelector('tbody tr.fresh', { timeout: 10000 });
  check((await text()).includes('out of stock: live <i>figs</i>'), 'a new call appears in the log without reloading', await text());
  check(await page.locator('tbody i').count() === 0, 'HTML in an error is shown as text, in the rows the script adds too');
  await page.reload();
  check((await text()).includes('out of stock: live <i>figs</i>') && await page.locator('tbody i').count() === 0,
    'and in the rows the server renders', await text());
  await shot('calls');
  // One call's full record.
  await Promise.all([page.waitForNavigation(), page.click('tbody tr:has-text("shop_order") >> nth=-1 >> a')]);
  const record = await text();
  check(record.includes('"street": "1 Main St"') && record.includes('admin'), "a call's full record has its arguments and caller", record);
  check(record.includes('<img src=x') && await page.locator('main img[src=x], main script').count() === 0,
    "HTML in a call's arguments is shown as text", record);

  // The data: the shop's table, its rows (the failed call's row was rolled back).
  await page.goto(`${base}/data`);
  await Promise.all([page.waitForNavigation(), page.click('a:has-text("shop_orders")')]);
  const table = await text();
  check(table.includes('2 rows') && table.includes('jam') && table.includes('<img src=x') && !table.includes('plums'),
    'a table shows its rows, read-only', table);
  check(await page.locator('main img[src=x], main script').count() === 0, 'HTML in the data is shown as text');
  await shot('data');

  // The models: first on the Data page, then Django's ModelAdmin: a list searched,
  // filtered, sorted and paged; add, edit and delete, each through the model's tools.
  await page.goto(`${base}/data`);
  const data = await text();
  check(data.indexOf('Product') >= 0 && data.indexOf('Product') < data.indexOf('shop_orders'),
    'the Data page lists the models first', data);
  await Promise.all([page.waitForNavigation(), page.click('ul.models a:has-text("Product")')]);
  let list = await text();
  check(list.includes('60 rows') && list.includes('product 01') && !list.includes('product 51'),
    "a model's list shows its first page and the count", list);
  check(await page.locator('tbody tr').count() === 50, 'fifty rows a page');
  await Promise.all([page.waitForNavigation(), page.click('a[rel=next]')]);
  check(await page.locator('tbody tr').count() === 10 && (await text()).includes('product 60'),
    'the next page has the rest', await text());
  const products = `${base}/models/shop_product`;
  await page.goto(products);
  await page.fill('input[name=q]', 'PRODUCT 1');
  await Promise.all([page.waitForNavigation(), page.click('form.filters button[type=submit]')]);
  check(await page.locator('tbody tr').count() === 10 && (await text()).includes('10 rows'),
    'the search matches text whatever its case', await text());
  await page.goto(products);
  await page.selectOption('select[name=field]', 'price');
  await page.selectOption('select[name=op]', 'gt');
  await page.fill('input[name=value]', '5000');
  await Promise.all([page.waitForNavigation(), page.click('form.filters button[type=submit]')]);
  check(await page.locator('tbody tr').count() === 10 && (await text()).includes('product 51'),
    'a filter on a number field', await text());
  await Promise.all([page.waitForNavigation(), page.click('th a:has-text("price")')]);
  await Promise.all([page.waitForNavigation(), page.click('th a:has-text("price")')]);
  check(((await page.textContent('tbody tr:first-child')) || '').includes('product 60') && (await text()).includes('10 rows'),
    'sorted by a column, largest first, the filter kept', await text());
  await page.fill('input[name=value]', 'lots');
  r = await Promise.all([page.waitForNavigation(), page.click('form.filters button[type=submit]')]);
  check(r[0].status() === 422 && (await text()).includes('`lots` is not a number'), 'a filter value of the wrong type is refused, saying why', await text());
  await page.goto(products);
  await shot('model-list');

  // Add: refused by the model's clean (the error on its field, nothing written), then added.
  await Promise.all([page.waitForNavigation(), page.click('a.add')]);
  check(await page.locator('input[name=name]').count() === 1 && await page.locator('input[name=id]').count() === 0,
    "the add form has the model's writable fields", await text());
  await page.fill('input[name=name]', '  jam jar ');
  await page.fill('input[name=price]', '-5');
  await page.fill('input[name=stock]', '3');
  await page.fill('input[name=note]', hostile);
  r = await Promise.all([page.waitForNavigation(), page.click('form.model button[type=submit]')]);
  check(r[0].status() === 422 && ((await page.textContent('.field.invalid')) || '').includes('a price cannot be negative'),
    "clean's refusal is shown on its field", await text());
  await shot('model-invalid');
  await page.fill('input[name=price]', '250');
  await Promise.all([page.waitForNavigation(), page.click('form.model button[type=submit]')]);
  let row = await text();
  check(row.includes('jam jar') && !row.includes('  jam jar ') && row.includes('250') && row.includes('<img src=x'),
    'an added row is shown as stored (cleaned)', row);
  check(await page.locator('main img[src=x], main script').count() === 0, 'HTML in a row is shown as text');
  const rowUrl = page.url();
  // A unique name, refused by the database, on its field.
  await page.goto(`${products}/add`);
  await page.fill('input[name=name]', 'product 01');
  await page.fill('input[name=price]', '1');
  await page.fill('input[name=stock]', '1');
  r = await Promise.all([page.waitForNavigation(), page.click('form.model button[type=submit]')]);
  check(r[0].status() === 422 && ((await page.textContent('.field.invalid')) || '').includes('another Product has this value already'),
    'a unique violation is shown on its field', await text());

  // Edit: a value of the wrong type refused before any call; then saved, a note cleared.
  await page.goto(rowUrl);
  await Promise.all([page.waitForNavigation(), page.click('a:has-text("Edit")')]);
  check(await page.inputValue('input[name=name]') === 'jam jar', 'the edit form holds the row', await text());
  await page.fill('input[name=stock]', 'many');
  r = await Promise.all([page.waitForNavigation(), page.click('form.model button[type=submit]')]);
  check(r[0].status() === 422 && (await text()).includes('`many` is not a whole number'), 'an edit of the wrong type is refused', await text());
  await page.fill('input[name=stock]', '9');
  await page.fill('input[name=note]', '');
  await Promise.all([page.waitForNavigation(), page.click('form.model button[type=submit]')]);
  row = await text();
  check(page.url() === rowUrl && row.includes('9') && row.includes('NULL') && !row.includes('<img'),
    'an edit is saved, an emptied note cleared', row);
  await shot('model-row');

  // Delete: asked first; kept when declined, gone when confirmed.
  await Promise.all([page.waitForNavigation(), page.click('a:has-text("Delete")')]);
  check((await text()).includes('It cannot be undone'), 'a delete asks first', await text());
  await shot('model-delete');
  await Promise.all([page.waitForNavigation(), page.click('a:has-text("No, keep it")')]);
  check(page.url() === rowUrl, 'declined, the row stays', page.url());
  await Promise.all([page.waitForNavigation(), page.click('a:has-text("Delete")')]);
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Yes, delete it")')]);
  check((await text()).includes('was deleted') && (await text()).includes('60 rows'), 'confirmed, the row is deleted', await text());
  r = await page.goto(rowUrl);
  check(r.status() === 404 && (await text()).includes('there is no Product with id 61'), 'and is not found after', await text());
  // A model's form without its CSRF token is refused.
  r = await page.request.post(`${products}/add`, { form: { name: 'forged', price: '1', stock: '1' }, maxRedirects: 0 });
  check(r.status() === 403, "a model's form without its CSRF token is refused", String(r.status()));

  // A form without its CSRF token is refused (the browser's own session cookie goes with it).
  r = await page.request.post(`${base}/tools/shop_order`, {
    form: { item: 'forged', quantity: '1', size: 'small' }, maxRedirects: 0,
  });
  check(r.status() === 403 && (await r.text()).includes('CSRF token is missing or wrong'), 'a form without its CSRF token is refused', String(r.status()));
  r = await page.request.post(`${base}/tools/shop_order`, {
    form: { item: 'forged', quantity: '1', size: 'small', csrf: 'guessed' }, maxRedirects: 0,
  });
  check(r.status() === 403, 'a form with a wrong CSRF token is refused', String(r.status()));
  // An oversized form is refused.
  r = await page.request.post(`${base}/tools/shop_order`, { data: 'x'.repeat(2 * 1024 * 1024), maxRedirects: 0,
    headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  check(r.status() === 413, 'an oversized form is refused', String(r.status()));

  check(errors.length === 0, 'no script error and no injected script ran', errors.join('\n'));

  // The overview, counted, for the screenshot; then log out.
  await page.goto(`${base}/`);
  await shot('overview');
  await Promise.all([page.waitForNavigation(), page.click('header button[type=submit]')]);
  check(page.url().startsWith(`${base}/login`), 'logging out goes to the login page', page.url());
  await page.goto(`${base}/calls`);
  check(page.url().startsWith(`${base}/login`), 'and the session is gone', page.url());
  await shot('login');

  // Users of the database ([auth] users): a user who is not staff is refused; a staff
  // user logs in with its own password and has no Users page; a superuser makes a
  // token (shown once, then only its prefix) and revokes it.
  const login = async (user, pw) => {
    await page.goto(`${base}/login`);
    await page.fill('input[name=user]', user);
    await page.fill('input[name=password]', pw);
    return Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  };
  r = await login('plain', 'plain password');
  check(r[0].status() === 401 && (await text()).includes('wrong name or password'), 'a user who is not staff cannot log in', await text());
  await login('staffer', 'staff password');
  check(page.url() === `${base}/` && (await page.textContent('header')).includes('staffer'), 'a staff user logs in with its own password', page.url());
  check(await page.locator('nav a:has-text("Users")').count() === 0, 'a staff user has no Users page in the menu');
  r = await page.goto(`${base}/users`);
  check(r.status() === 403 && (await text()).includes('only a superuser'), 'nor at its address', await text());
  r = await page.goto(`${base}/jobs`);
  check(r.status() === 200 && await page.locator('tbody button').count() === 0, 'a staff user sees the jobs, without their buttons', await text());
  await Promise.all([page.waitForNavigation(), page.click('header button[type=submit]')]);
  await login('boss', 'boss password');
  await Promise.all([page.waitForNavigation(), page.click('nav a:has-text("Users")')]);
  const people = await text();
  check(people.includes('boss') && people.includes('staffer') && people.includes('plain'), 'the Users page lists the users', people);
  await page.selectOption('form.make-token select[name=user]', 'plain');
  await page.fill('form.make-token input[name=name]', 'laptop');
  await page.fill('form.make-token input[name=scopes]', 'shop_products:read');
  await page.fill('form.make-token input[name=days]', '30');
  await Promise.all([page.waitForNavigation(), page.click('form.make-token button[type=submit]')]);
  const made = ((await page.textContent('#new-token')) || '').trim();
  check(/^mango_[0-9a-f]{8}_[0-9a-f]{40}$/.test(made), 'a new token is shown once, whole', made);
  const prefix = made.slice(6, 14);
  await shot('users');
  await page.goto(`${base}/users`);
  const after = await text();
  check(!after.includes(made) && after.includes(`mango_${prefix}_…`) && after.includes('laptop'), 'then only its prefix', after);
  await Promise.all([page.waitForNavigation(), page.click(`tr.token:has-text("${prefix}") button:has-text("Revoke")`)]);
  check((await text()).includes(`Token ${prefix} revoked`) && (await page.textContent(`tr.token:has-text("${prefix}")`)).includes('revoked'),
    'a token is revoked from the page', await text());
  // The Jobs page: the failed job with its error, followed live; a queued one
  // cancelled; the failed one retried (queued again, then failed again as the workers
  // run it, without a reload).
  await Promise.all([page.waitForNavigation(), page.click('nav a:has-text("Jobs")')]);
  await page.waitForSelector('tr.job-failed:has-text("pears")', { timeout: 15000 });
  check((await page.textContent('tr:has-text("pears")')).includes('the supplier has no pears'), 'the Jobs page shows a failed job\'s error', await text());
  check((await page.textContent('tr:has-text("quinces")')).includes('queued'), 'and a job due later as queued', await text());
  await Promise.all([page.waitForNavigation(), page.click('tr:has-text("quinces") button:has-text("Cancel")')]);
  check((await text()).includes('cancelled') && (await page.textContent('tr:has-text("quinces")')).includes('cancelled'), 'a queued job is cancelled from the page', await text());
  await Promise.all([page.waitForNavigation(), page.click('tr:has-text("pears") button:has-text("Retry")')]);
  check((await text()).includes('queued again'), 'a failed job is retried from the page', await text());
  await page.waitForSelector('tr.job-failed:has-text("pears")', { timeout: 15000 });
  await shot('jobs');
  r = await page.request.post(`${base}/jobs`, { form: { do: 'cancel', id: 'x' }, maxRedirects: 0 });
  check(r.status() === 403, 'the Jobs page\'s forms need their CSRF token', String(r.status()));
  // The Tasks page: the task counting shelves (started over MCP as a task), its
  // progress followed live; the one done, with its result; the first cancelled from
  // the page (stopped, shown cancelled without a reload).
  await Promise.all([page.waitForNavigation(), page.click('nav a:has-text("Tasks")')]);
  await page.waitForSelector('tr.task-working:has-text("counting shelves")', { timeout: 15000 });
  check((await page.textContent('tr.task-completed')).includes('1 shelves counted'), 'the Tasks page shows a completed task\'s result', await text());
  const said = await page.textContent('tr.task-working');
  const address = page.url();
  await page.waitForFunction((before) => {
    const row = document.querySelector('tr.task-working');
    return row && row.textContent !== before;
  }, said, { timeout: 15000 });
  check(page.url() === address && /\d+\/600: counting shelves/.test(await page.textContent('tr.task-working')),
    'a working task\'s progress changes on the page without a reload', await page.textContent('tr.task-working'));
  // (The row is redrawn as the task reports progress, so it is never still for the
  // click's stability check: its form is submitted as the click would.)
  await Promise.all([page.waitForNavigation(),
    page.evaluate(() => document.querySelector('tr.task-working form').requestSubmit())]);
  check((await text()).includes('asked to stop'), 'a working task is cancelled from the page', await text());
  await page.waitForSelector('tr.task-cancelled:has-text("stocktake")', { timeout: 15000 });
  check(await page.locator('tr.task-working').count() === 0, 'and is shown cancelled', await text());
  await shot('tasks');
  r = await page.request.post(`${base}/tasks`, { form: { do: 'cancel', id: 'x' }, maxRedirects: 0 });
  check(r.status() === 403, 'the Tasks page\'s forms need their CSRF token', String(r.status()));
  r = await page.request.post(`${base}/users`, { form: { do: 'add_user', name: 'forged' }, maxRedirects: 0 });
  check(r.status() === 403, 'the Users page\'s forms need their CSRF token', String(r.status()));
  check(errors.length === 0, 'no script error on the users\' pages', errors.join('\n'));
} catch (e) {
  failed = true;
  console.error(String(e && e.stack ? e.stack : e));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
