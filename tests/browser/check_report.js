#!/usr/bin/env node
// Opens a page written by `memtrack html` in headless Chromium (playwright-core) and checks that
// it works offline: the uPlot chart has data, the flame graph shows leak_malloc and main, a
// click on main zooms to it, the leaks table has leak_malloc's 300 bytes, the weight choice
// redraws the flame graph; then saves screenshots. Used by tests/integration/test_html.py.
//
//   node check_report.js REPORT.html SCREENSHOT.png [MORE.png...]
//   node check_report.js --threads REPORT.html SCREENSHOT.png   (a report of thread_scope.c:
//       choosing a thread in the flame graph shows what that thread allocated, by any weight)
//   node check_report.js --sampled REPORT.html SCREENSHOT.png   (a sample-mode capture: the
//       page says its call-path figures are estimates, and draws them)
//
// Environment: MT_NODE_MODULES, the node_modules holding playwright-core (default: the build's
// web/node_modules, then web/node_modules); MT_CHROMIUM, the browser (default /usr/bin/chromium).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const {pathToFileURL} = require('url');

function loadPlaywright() {
  const dirs = [process.env.MT_NODE_MODULES, path.join(__dirname, '..', '..', 'web', 'node_modules')]
    .filter(Boolean);
  for (const d of dirs) {
    try { return require(require.resolve('playwright-core', {paths: [d]})); } catch (e) { /* next */ }
  }
  throw new Error('playwright-core not found in ' + dirs.join(', '));
}

const failures = [];
function check(ok, what) {
  console.log((ok ? 'ok   ' : 'FAIL ') + what);
  if (!ok) failures.push(what);
}

// The flame graph's frame width for a name, -1 when there is no such frame.
function frameWidth(page, name) {
  return page.evaluate(n => {
    const g = document.querySelector('#flame g.frame[name="' + n + '"]');
    return g ? parseFloat(g.getAttribute('width')) : -1;
  }, name);
}

// The report of tests/programs/thread_scope.c: main allocated main_alloc's 3000 bytes, the
// worker worker_alloc's 1000 and worker_temp's 640; each freed the other's blocks.
async function checkThreads(page) {
  const options = await page.$$eval('#flame-thread option', os => os.map(o => [o.value, o.text]));
  check(options.length === 3 && options[0][0] === '', 'the thread choice lists all threads and ' +
    'two threads (' + JSON.stringify(options) + ')');
  const visible = await page.isVisible('#flame-thread');
  check(visible, 'the thread choice is shown');
  const shown = async (set, weight) => {
    await page.check('input[name=set][value=' + set + ']');
    await page.check('input[name=weight][value=' + weight + ']');
    await page.waitForTimeout(400);
    return {main: await frameWidth(page, 'main_alloc'),
      worker: await frameWidth(page, 'worker_alloc'), temp: await frameWidth(page, 'worker_temp')};
  };
  for (const [value, text] of options.slice(1)) {
    await page.selectOption('#flame-thread', value);
    const peak = await shown('peak', 'bytes');
    const all = await shown('all', 'allocations');
    const isWorker = all.worker > 0;
    check(isWorker ? peak.worker > 0 && peak.main < 0 : peak.main > 0 && peak.worker < 0,
      text + ': held at the peak shows only its own frames ' + JSON.stringify(peak));
    check(isWorker ? all.temp > 0 && all.main < 0 : all.main > 0 && all.temp < 0,
      text + ': all allocations shows only its own frames ' + JSON.stringify(all));
    check(await page.evaluate(() => window.mtReport.flameThread) === value,
      text + ': the flame graph is drawn for it');
  }
  await page.selectOption('#flame-thread', '');
  const both = await shown('peak', 'bytes');
  check(both.main > 0 && both.worker > 0, 'all threads: both frames ' + JSON.stringify(both));
}

// A sample-mode report: a note says the call paths' figures are estimates; they are drawn.
async function checkSampled(page) {
  const note = await page.evaluate(() => {
    const w = document.getElementById('warnings');
    return w && !w.hidden ? w.textContent : '';
  });
  check(/sample mode/.test(note) && /are estimates/.test(note),
    'the page says the figures are estimates (' + JSON.stringify(note) + ')');
  await page.check('input[name=set][value=all]');
  await page.waitForTimeout(400);
  check(await frameWidth(page, 'main') > 0, 'the sampled call paths are drawn');
}

async function main() {
  let args = process.argv.slice(2);
  const mode = args[0] === '--threads' || args[0] === '--sampled' ? args[0].slice(2) : 'leaks';
  if (mode !== 'leaks') args = args.slice(1);
  const [report, ...shots] = args;
  if (!report || shots.length === 0) {
    console.error('usage: node check_report.js [--threads|--sampled] REPORT.html SCREENSHOT.png...');
    process.exit(2);
  }
  const {chromium} = loadPlaywright();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-chromium-'));
  // A fresh profile each time (this machine's Chromium needs one): launchPersistentContext is
  // how playwright passes --user-data-dir.
  const context = await chromium.launchPersistentContext(profile, {
    viewport: {width: 1400, height: 1000},
    executablePath: process.env.MT_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    const errors = [], requests = [];
    page.on('pageerror', e => errors.push(String(e)));
    page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('request', r => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url()); });
    await page.goto(pathToFileURL(path.resolve(report)).href);
    await page.waitForFunction(() => window.mtReport && window.mtReport.ready, null, {timeout: 15000});
    await {threads: checkThreads, sampled: checkSampled, leaks: checkLeaks}[mode](page);
    check(errors.length === 0, 'no errors on the page ' + JSON.stringify(errors));
    check(requests.length === 0, 'no network requests ' + JSON.stringify(requests));
    for (const s of shots) await page.screenshot({path: s, fullPage: true});
  } finally {
    await context.close();
    fs.rmSync(profile, {recursive: true, force: true});
  }
  if (failures.length) {
    console.error(failures.length + ' check(s) failed');
    process.exit(1);
  }
}

// The report of tests/programs/leaks_c.c.
async function checkLeaks(page) {
  {

    // The chart: a canvas drawn by uPlot over the capture's samples.
    const chart = await page.evaluate(() => {
      const p = window.mtReport.plot;
      const c = document.querySelector('#timeline canvas');
      return {canvas: !!c && c.width > 0 && c.height > 0, points: p ? p.data[0].length : 0,
        max: p ? Math.max(...p.data[1]) : 0};
    });
    check(chart.canvas, 'the uPlot canvas exists');
    check(chart.points > 0 && chart.max > 0, 'the chart has data (' + chart.points + ' samples)');

    // The flame graph: frames are <g class="frame" name=...> with their width in pixels.
    const width = name => frameWidth(page, name);
    const fullWidth = await page.evaluate(() =>
      parseFloat(document.querySelector('#flame svg').getAttribute('width')));
    await page.waitForSelector('#flame g.frame[name="leak_malloc"]', {timeout: 5000})
      .catch(() => null);
    const leakW = await width('leak_malloc'), mainW = await width('main');
    check(leakW > 0, 'the flame graph has a frame leak_malloc');
    check(mainW > 0, 'the flame graph has a frame main');
    check(leakW > 0 && leakW < fullWidth - 1, 'leak_malloc is narrower than the graph');

    // Zoom: clicking a frame makes it as wide as the graph.
    for (const name of ['main', 'leak_malloc']) {
      // A new frame's rect gets its width only after half the draw animation: a click before
      // that lands on nothing ("outside of the viewport").
      const rect = '#flame g.frame[name="' + name + '"] rect';
      await page.waitForFunction(sel => {
        const r = document.querySelector(sel);
        return r && r.getBoundingClientRect().width >= 1;
      }, rect, {timeout: 15000}).catch(() => null);
      // Where a user clicks: the frame's label sits over its rect, and both are in the frame.
      await page.click('#flame g.frame[name="' + name + '"]');
      // The zoom is animated (750 ms), longer on a busy machine: wait for it to end, then check.
      await page.waitForFunction(([n, full]) => {
        const g = document.querySelector('#flame g.frame[name="' + n + '"]');
        return g && Math.abs(parseFloat(g.getAttribute('width')) - full) < 1.5;
      }, [name, fullWidth], {timeout: 15000}).catch(() => null);
      const w = await width(name);
      check(Math.abs(w - fullWidth) < 1.5, 'clicking ' + name + ' zooms to it (width ' + w +
        ' of ' + fullWidth + ')');
    }
    await page.click('#flame-reset');
    await page.waitForTimeout(800);

    // The leaks table: leak_malloc's row says 300 bytes.
    const row = await page.evaluate(() => {
      const rows = [...document.querySelectorAll('#leaks tbody tr')];
      const tr = rows.find(r => r.cells[0] && r.cells[0].textContent.startsWith('leak_malloc'));
      return tr ? [...tr.cells].map(c => c.getAttribute('data-value')) : null;
    });
    check(row !== null, 'the leaks table has a leak_malloc row');
    check(row !== null && row.includes('300'), 'leak_malloc leaked 300 bytes (' + row + ')');
    // Filtering and sorting.
    await page.fill('#leaks input.filter', 'leak_malloc');
    const shown = await page.$$eval('#leaks tbody tr', rs => rs.length);
    check(shown === 1, 'filtering the leaks table keeps one row (' + shown + ')');
    await page.fill('#leaks input.filter', '');
    await page.click('#leaks th:nth-child(4)');
    const bytes = await page.$$eval('#leaks tbody tr td:nth-child(4)',
      tds => tds.map(td => Number(td.getAttribute('data-value'))));
    check(bytes.length > 1 && bytes.every((b, i) => i === 0 || bytes[i - 1] <= b),
      'sorting the leaks table by bytes ascending');
    check(await page.$$eval('#peak tbody tr', r => r.length) > 0, 'the peak table has rows');
    check(await page.$$eval('#threads tbody tr', r => r.length) > 0, 'the threads table has rows');

    // The weight: allocations instead of bytes redraws with another weight; all / peak too.
    const before = await page.evaluate(() => window.mtReport.flameWeight);
    await page.check('input[name=weight][value=allocations]');
    await page.waitForTimeout(500);
    const after = await page.evaluate(() => window.mtReport.flameWeight);
    check(before === 'live-bytes' && after === 'live-blocks',
      'switching the weight redraws the flame graph (' + before + ' -> ' + after + ')');
    check(await width('leak_malloc') > 0, 'leak_malloc is still there by blocks');
    await page.check('input[name=set][value=all]');
    await page.waitForTimeout(500);
    check(await page.evaluate(() => window.mtReport.flameWeight) === 'allocations' &&
      await width('main') > 0, 'all allocations: main is there');
    await page.check('input[name=set][value=peak]');
    await page.check('input[name=weight][value=bytes]');
    await page.waitForTimeout(500);
    check(await page.evaluate(() => window.mtReport.flameWeight) === 'peak-bytes',
      'held at the peak, by bytes');
    await page.check('input[name=set][value=live]');
    await page.waitForTimeout(800);
    check(await page.isHidden('#flame-thread-box'), 'one thread: no thread choice');
  }
}

main().catch(e => { console.error(e && e.stack || String(e)); process.exit(1); });
