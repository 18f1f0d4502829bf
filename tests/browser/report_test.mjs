// parley report in a real browser (Debian's chromium, driven by playwright-core): the numbers
// shown equal results.json / metrics.json, filters and sibling expansion work, GPQA text stays out
// of the default report, and a 100,000-conversation report opens. Screenshots and the measured
// figures go to SHOTS_DIR. Run by tests/browser/report_browser.sh (CTest: report_in_browser).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

const env = (k) => { if (!process.env[k]) throw new Error(`${k} is not set`); return process.env[k]; };
const RUN = env('RUN_DIR'), SMALL = env('REPORT_SMALL'), SHOWN = env('REPORT_SHOWN'), LARGE = env('REPORT_LARGE');
const SHOTS = env('SHOTS_DIR');
fs.mkdirSync(SHOTS, { recursive: true });
const lines = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
const fixed = (x) => Number(x).toFixed(3);
let checks = 0;
const check = (cond, what) => { assert.ok(cond, what); checks++; };

// What the run wrote, read here independently of the report.
const nodes = fs.readdirSync(RUN).filter((n) => fs.existsSync(path.join(RUN, n, 'results.json'))).sort();
const expected = { total: 0, byDomain: {}, coralAgreed: 0, coralRows: 0 };
const results = {};
for (const n of nodes) {
  results[n] = JSON.parse(fs.readFileSync(path.join(RUN, n, 'results.json'), 'utf8'));
  for (const d of Object.keys(results[n].results)) {
    const coral = fs.existsSync(path.join(RUN, n, `records_${d}.jsonl`));
    const rows = lines(path.join(RUN, n, `${coral ? 'records' : 'samples'}_${d}.jsonl`));
    expected.total += rows.length;
    expected.byDomain[d] = (expected.byDomain[d] || 0) + rows.length;
    if (coral) {
      expected.coralRows += rows.length;
      for (const r of rows) {
        const k = Object.keys(r.metrics).find((k) => k.endsWith('-agreement'));
        expected.coralAgreed += r.metrics[k] ? 1 : 0;
      }
    }
  }
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
page.on('pageerror', (e) => { throw e; });
const open = async (file) => {
  const t = Date.now();
  await page.goto('file://' + path.resolve(file));
  await page.waitForSelector('body[data-ready="1"]', { timeout: 120000 });
  return { wall_ms: Date.now() - t, timings: await page.evaluate(() => window.parleyTimings) };
};
const count = async () => Number(await page.getAttribute('#count', 'data-count'));

// 1. The numbers shown equal results.json and metrics.json.
await open(SMALL);
for (const n of nodes) {
  const doc = results[n];
  const filter = Object.keys(doc.results[Object.keys(doc.results)[0]]).find((k) => k.startsWith(
    doc.config.evaluation === 'core/coral_eval' ? 'agreement_correctness,' : 'final_success_rate,')).split(',')[1];
  const headline = doc.config.evaluation === 'core/coral_eval' ? 'agreement_correctness' : 'final_success_rate';
  for (const [d, r] of [...Object.entries(doc.results), ['macro_avg', doc.groups.macro_avg]]) {
    const shown = await page.textContent(`#table tr[data-domain="${d}"] td[data-node="${n}"][data-metric="${headline}"] .mean`);
    check(shown === fixed(r[`${headline},${filter}`]), `${n}/${d}: ${headline} shown ${shown}, results.json ${r[`${headline},${filter}`]}`);
    const lo = r[`${headline}_ci_lo,${filter}`];
    if (lo != null) {
      const ci = await page.textContent(`#table tr[data-domain="${d}"] td[data-node="${n}"][data-metric="${headline}"] .ci`);
      check(ci === `[${fixed(lo)}, ${fixed(r[`${headline}_ci_hi,${filter}`])}]`, `${n}/${d}: interval shown ${ci}`);
    }
  }
  if (doc.config.evaluation === 'core/coral_eval') {
    for (const d of Object.keys(doc.results)) {
      const metrics = JSON.parse(fs.readFileSync(path.join(RUN, n, `metrics_${d}.json`), 'utf8'));
      for (const m of ['agreement', 'persuade_rate', 'assert_rate']) {
        const k = Object.keys(metrics).find((k) => k.endsWith('-' + m));
        const shown = await page.textContent(`table.coral-table[data-node="${n}"] tr[data-domain="${d}"] td[data-metric="${m}"] .mean`);
        check(shown === fixed(metrics[k]), `${n}/${d}: ${m} shown ${shown}, metrics.json ${metrics[k]}`);
      }
    }
  }
}
for (const id of ['chart-accuracy', 'chart-agreement', 'chart-social', 'chart-turns', 'chart-tokens', 'chart-throughput'])
  check(await page.$(`#${id} svg *`), `chart ${id} drawn`);
check((await page.$$('#chart-throughput polyline')).length >= 1, 'throughput drawn from timeline.jsonl');
await page.screenshot({ path: path.join(SHOTS, 'report-small.png'), fullPage: true });

// 2. Filters.
check(await count() === expected.total, `all ${expected.total} rows listed (shown ${await count()})`);
for (const [d, n] of Object.entries(expected.byDomain)) {
  await page.selectOption('#filter-domain', { label: d });
  check(await count() === n, `domain ${d}: ${n} rows (shown ${await count()})`);
}
await page.selectOption('#filter-domain', 'all');
await page.selectOption('#filter-node', { label: 'coral' });
check(await count() === expected.coralRows, `coral: ${expected.coralRows} conversations`);
await page.selectOption('#filter-agree', '1');
check(await count() === expected.coralAgreed, `coral agreed: ${expected.coralAgreed} (shown ${await count()})`);
await page.selectOption('#filter-agree', 'all');
await page.selectOption('#filter-correct', '1');
const correct = await count();
await page.selectOption('#filter-correct', '0');
check(correct + await count() === expected.coralRows, 'correct + incorrect = all');
await page.selectOption('#filter-correct', 'all');

// 3. Tree-sampling siblings expand; turns carry role, belief, score colour.
await page.selectOption('#filter-siblings', '1');
check(await count() > 0, 'tree-sampled conversations are listed');
await page.click('#list tr.conv >> nth=0');
await page.waitForSelector('#detail .turn');
const sib = page.locator('#detail details.siblings').first();
check(!(await sib.locator('.turn').first().isVisible()), 'siblings start collapsed');
await sib.locator('summary').click();
check(await sib.locator('.turn').first().isVisible(), 'siblings expand');
check(await page.$('#detail .turn .role'), 'turn roles shown');
await page.screenshot({ path: path.join(SHOTS, 'report-siblings.png'), fullPage: false });
await page.selectOption('#filter-siblings', 'all');

// 4. GPQA text: hidden in the default report, present with --show-sensitive (never printed here).
const gpqaTexts = async () => {
  await page.selectOption('#filter-node', { label: 'coral' });
  await page.selectOption('#filter-domain', { label: 'gpqa' });
  await page.click('#list tr.conv >> nth=0');
  await page.waitForSelector('#detail .turn pre');
  return page.$$eval('#detail .turn pre', (ps) => ps.map((p) => p.textContent));
};
const hiddenTexts = await gpqaTexts();
check(hiddenTexts.every((t) => t.startsWith('[text hidden')), 'GPQA turns hidden by default');
await page.screenshot({ path: path.join(SHOTS, 'report-gpqa-hidden.png') });
await open(SHOWN);
const question = (await gpqaTexts())[0];
check(question && !question.startsWith('[text hidden') && question.length > 20, 'GPQA text shown with --show-sensitive');
await open(SMALL);
const leaked = await page.evaluate(async (q) => {
  const gunzip = async (b64) => {
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).text();
  };
  let all = document.documentElement.outerHTML;
  for (const s of document.querySelectorAll('script[id^="parley-chunk-"], #parley-index')) all += await gunzip(s.textContent);
  return all.includes(q.slice(0, 60));
}, question);
check(!leaked, 'no GPQA question text anywhere in the default report (chunks decompressed)');

// 5. A 100,000-conversation report opens and stays responsive.
const size = fs.statSync(LARGE).size;
const large = await open(LARGE);
const n = await count();
check(n >= 100000, `large report lists ${n} conversations`);
const synthetic = JSON.parse(fs.readFileSync(path.join(env('LARGE_RUN'), 'results.json'), 'utf8'));
for (const [d, r] of Object.entries(synthetic.results)) {
  const sel = `#table tr[data-domain="${d}"] td[data-node="coral"][data-metric="agreement_correctness"]`;
  check(await page.textContent(`${sel} .mean`) === fixed(r['agreement_correctness,none']), `large: ${d} agreement correctness`);
  check(await page.textContent(`${sel} .ci`) ===
    `[${fixed(r['agreement_correctness_ci_lo,none'])}, ${fixed(r['agreement_correctness_ci_hi,none'])}]`, `large: ${d} interval`);
  const metrics = JSON.parse(fs.readFileSync(path.join(env('LARGE_RUN'), `metrics_${d}.json`), 'utf8'));
  const k = Object.keys(metrics).find((k) => k.endsWith('-persuade_rate'));
  check(await page.textContent(`table.coral-table tr[data-domain="${d}"] td[data-metric="persuade_rate"] .mean`) === fixed(metrics[k]),
    `large: ${d} persuade rate equals metrics.json`);
}
await page.screenshot({ path: path.join(SHOTS, 'report-100k-top.png'), fullPage: false });
let t = Date.now();
await page.selectOption('#filter-domain', { label: 'math' });
const filterMs = Date.now() - t;
check(await count() === n / 5, 'large report: domain filter');
t = Date.now();
await page.click('#next');
await page.click('#list tr.conv >> nth=3');
await page.waitForSelector('#detail .turn');
const openConvMs = Date.now() - t;
await page.screenshot({ path: path.join(SHOTS, 'report-100k.png'), fullPage: false });
await browser.close();

const figures = { large_report_bytes: size, large_conversations: n, large_load_wall_ms: large.wall_ms,
  large_ready_ms_in_page: Math.round(large.timings.ready_ms), large_index_ms_in_page: Math.round(large.timings.index_ms),
  large_filter_ms: filterMs, large_next_page_and_open_ms: openConvMs, small_report_bytes: fs.statSync(SMALL).size };
fs.writeFileSync(path.join(SHOTS, 'figures.json'), JSON.stringify(figures, null, 2) + '\n');
console.log(JSON.stringify(figures));
console.log(`report_in_browser: ${checks} checks passed; screenshots in ${SHOTS}`);
