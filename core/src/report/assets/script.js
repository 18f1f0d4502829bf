// parley report: renders the embedded data. Charts are SVG drawn here (no library); the
// conversation index is decoded once, conversations chunk by chunk when one is shown.
(function () {
  'use strict';
  const t0 = performance.now();
  const S = JSON.parse(document.getElementById('parley-summary').textContent);
  const PAGE = 50;
  const COLORS = ['#3056d3', '#e8590c', '#2f9e44', '#ae3ec9', '#1098ad', '#f08c00', '#c2255c', '#5c940d'];
  const SVGNS = 'http://www.w3.org/2000/svg';

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  }
  function sv(tag, attrs, ...kids) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
    for (const k of kids) if (k != null) e.append(k);
    return e;
  }
  const fmt = (x, d = 3) => (x == null || Number.isNaN(Number(x)) ? '–' : Number(x).toFixed(d));
  const nodeLabel = (n) => (S.runs.length > 1 ? S.runs[n.run].label + '/' : '') + n.name;
  const isCoral = (n) => n.evaluation === 'core/coral_eval' || n.headline === 'agreement_correctness';
  const key = (n, metric, suffix) => metric + (suffix || '') + ',' + n.filter;

  async function gunzip(b64) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).text();
  }

  // ---- header and tables -----------------------------------------------------------------------
  const domains = [];
  for (const n of S.nodes) for (const d of Object.keys(n.results)) if (!domains.includes(d)) domains.push(d);
  document.getElementById('meta').textContent =
    `${S.runs.map((r) => r.dir).join(', ')} — ${S.nodes.length} evaluation node(s), ${S.conversations} conversations/samples` +
    ` · Parley ${S.parley_version}` + (Object.keys(S.sensitive).length
      ? ` · text of ${Object.keys(S.sensitive).filter((d) => S.sensitive[d]).join(', ') || 'no domain'} hidden` : '');
  const stat = S.nodes.map((n) => n.statistics).find((s) => s);
  document.getElementById('results-note').textContent =
    'Mean [95% interval] where results.json has one' + (stat ? ` (${stat.interval}, ${stat.resamples} resamples, seed ${stat.seed})` : '') +
    ', else mean ± standard error; macro average = mean of the domains.';

  function cell(n, r, metric) {
    const td = el('td', { class: 'num', 'data-node': nodeLabel(n), 'data-metric': metric });
    const m = r ? r[key(n, metric)] : undefined;
    if (m == null) { td.textContent = '–'; return td; }
    td.setAttribute('data-value', m);
    td.append(el('span', { class: 'mean', text: fmt(m) }));
    const lo = r[key(n, metric, '_ci_lo')], hi = r[key(n, metric, '_ci_hi')], se = r[key(n, metric, '_stderr')];
    if (lo != null && hi != null) td.append(' ', el('span', { class: 'ci', text: `[${fmt(lo)}, ${fmt(hi)}]` }));
    else if (se != null) td.append(' ', el('span', { class: 'ci', text: `± ${fmt(se)}` }));
    return td;
  }
  function table(nodes, metricOf, title) {
    const head = el('tr', {}, el('th', { text: 'domain' }), ...nodes.map((n) => el('th', { text: title(n) })));
    const t = el('table', {}, el('thead', {}, head));
    const body = el('tbody');
    for (const d of domains) {
      const tr = el('tr', { 'data-domain': d }, el('td', { text: d }));
      for (const n of nodes) tr.append(cell(n, n.results[d], metricOf(n)));
      body.append(tr);
    }
    const macro = el('tr', { class: 'macro', 'data-domain': 'macro_avg' }, el('td', { text: 'macro average' }));
    for (const n of nodes) macro.append(cell(n, n.groups.macro_avg, metricOf(n)));
    body.append(macro);
    t.append(body);
    return t;
  }
  document.getElementById('table').append(table(S.nodes, (n) => n.headline, (n) => `${nodeLabel(n)} (${n.headline})`));
  const coralMetrics = ['agreement', 'final_success_rate', 'persuade_rate', 'assert_rate', 'total_turns'];
  for (const n of S.nodes.filter(isCoral)) {
    const box = document.getElementById('coral-tables');
    box.append(el('h3', { text: `${nodeLabel(n)}: Coral's conversation metrics` }));
    const head = el('tr', {}, el('th', { text: 'domain' }), ...coralMetrics.map((m) => el('th', { text: m })));
    const body = el('tbody');
    for (const d of [...Object.keys(n.results), 'macro_avg']) {
      const r = d === 'macro_avg' ? n.groups.macro_avg : n.results[d];
      const tr = el('tr', { 'data-domain': d, class: d === 'macro_avg' ? 'macro' : '' },
        el('td', { text: d === 'macro_avg' ? 'macro average' : d }));
      for (const m of coralMetrics) tr.append(cell(n, r, m));
      body.append(tr);
    }
    box.append(el('table', { 'data-node': nodeLabel(n), class: 'coral-table' }, el('thead', {}, head), body));
  }

  // ---- charts ----------------------------------------------------------------------------------
  const charts = document.getElementById('charts');
  function chartBox(title, id, svg, legend) {
    const box = el('div', { class: 'chart', id }, el('h3', { text: title }), svg);
    if (legend) box.append(el('div', { class: 'legend' }, ...legend.map(([name, c]) =>
      el('span', {}, el('i', { style: `background:${c}` }), name))));
    charts.append(box);
  }
  // Grouped bars with interval whiskers: groups x series, value(g, s) -> {m, lo, hi} or null.
  function bars(groups, series, value, ymax) {
    const W = 440, H = 220, L = 36, B = 40, T = 8, gw = (W - L - 8) / Math.max(1, groups.length);
    const bw = Math.max(3, (gw - 10) / Math.max(1, series.length));
    const y = (v) => T + (H - T - B) * (1 - v / ymax);
    const s = sv('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
    for (let i = 0; i <= 4; i++) {
      const v = (ymax * i) / 4;
      s.append(sv('line', { x1: L, x2: W - 4, y1: y(v), y2: y(v), stroke: '#e5e8ef' }),
        sv('text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#667085', text: v.toFixed(2) }));
    }
    groups.forEach((g, gi) => {
      const x0 = L + gi * gw + 5;
      series.forEach((se, si) => {
        const v = value(g, se);
        if (!v || v.m == null) return;
        const x = x0 + si * bw;
        const bar = sv('rect', { x, y: y(v.m), width: bw - 2, height: Math.max(0, y(0) - y(v.m)), fill: COLORS[si % COLORS.length],
          'data-group': g, 'data-series': si, 'data-value': v.m });
        bar.append(sv('title', { text: `${g} · ${se.label}: ${fmt(v.m)}` + (v.lo != null ? ` [${fmt(v.lo)}, ${fmt(v.hi)}]` : '') }));
        s.append(bar);
        if (v.lo != null) {
          const cx = x + (bw - 2) / 2;
          s.append(sv('line', { x1: cx, x2: cx, y1: y(v.lo), y2: y(v.hi), stroke: '#1d2433' }),
            sv('line', { x1: cx - 3, x2: cx + 3, y1: y(v.lo), y2: y(v.lo), stroke: '#1d2433' }),
            sv('line', { x1: cx - 3, x2: cx + 3, y1: y(v.hi), y2: y(v.hi), stroke: '#1d2433' }));
        }
      });
      s.append(sv('text', { x: x0 + (gw - 10) / 2, y: H - B + 14, 'text-anchor': 'middle', 'font-size': 10, fill: '#1d2433',
        text: g.length > 14 ? g.slice(0, 13) + '…' : g }));
    });
    return s;
  }
  const est = (n, r, metric) => (r && r[key(n, metric)] != null
    ? { m: r[key(n, metric)], lo: r[key(n, metric, '_ci_lo')], hi: r[key(n, metric, '_ci_hi')] } : null);
  const groupsWithMacro = [...domains, 'macro_avg'];
  const rOf = (n, g) => (g === 'macro_avg' ? n.groups.macro_avg : n.results[g]);
  const series = S.nodes.map((n, i) => ({ n, label: `${nodeLabel(n)} (${n.headline})`, color: COLORS[i % COLORS.length] }));
  chartBox('Accuracy by domain and protocol', 'chart-accuracy',
    bars(groupsWithMacro, series, (g, s) => est(s.n, rOf(s.n, g), s.n.headline), 1), series.map((s) => [s.label, s.color]));
  const coral = series.filter((s) => isCoral(s.n));
  if (coral.length) {
    chartBox('Agreement rate', 'chart-agreement', bars(groupsWithMacro, coral, (g, s) => est(s.n, rOf(s.n, g), 'agreement'), 1),
      coral.map((s) => [nodeLabel(s.n), s.color]));
    // Persuasion / assertion: rate per turn split by the outcome of the belief it carried.
    const splitSeries = [];
    for (const s of coral) for (const kind of ['persuade', 'assert']) splitSeries.push({ n: s.n, kind, label: `${nodeLabel(s.n)} ${kind}` });
    const W = 440, H = 220, L = 36, B = 40, T = 8, gw = (W - L - 8) / Math.max(1, domains.length);
    const bw = Math.max(3, (gw - 10) / splitSeries.length);
    let ymax = 0.05;
    const metricOf = (n, d, name) => {
      const m = n.metrics[d] || {};
      const k = Object.keys(m).find((k) => k === name || k.endsWith('-' + name));
      return k ? m[k] : null;
    };
    for (const s of splitSeries) for (const d of domains) ymax = Math.max(ymax, metricOf(s.n, d, `${s.kind}_rate`) || 0);
    const y = (v) => T + (H - T - B) * (1 - v / ymax);
    const svg = sv('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
    const parts = [['correct', '#2f9e44'], ['incorrect', '#e03131'], ['unsure', '#f08c00']];
    for (let i = 0; i <= 4; i++) svg.append(sv('text', { x: L - 4, y: y((ymax * i) / 4) + 4, 'text-anchor': 'end', 'font-size': 10,
      fill: '#667085', text: ((ymax * i) / 4).toFixed(2) }));
    domains.forEach((d, di) => {
      const x0 = L + di * gw + 5;
      splitSeries.forEach((s, si) => {
        const rate = metricOf(s.n, d, `${s.kind}_rate`);
        if (rate == null) return;
        let acc = 0;
        for (const [part, color] of parts) {
          const h = rate * (metricOf(s.n, d, `${part}_${s.kind}_rate`) || 0);
          const r = sv('rect', { x: x0 + si * bw, y: y(acc + h), width: bw - 2, height: Math.max(0, y(acc) - y(acc + h)), fill: color,
            opacity: s.kind === 'assert' ? 0.6 : 1 });
          r.append(sv('title', { text: `${d} · ${s.label} · ${part}: ${fmt(h)}` }));
          svg.append(r);
          acc += h;
        }
      });
      svg.append(sv('text', { x: x0 + (gw - 10) / 2, y: H - B + 14, 'text-anchor': 'middle', 'font-size': 10, text: d.slice(0, 14) }));
    });
    chartBox('Persuade / assert rates per turn, split by correctness (solid: persuade, light: assert)', 'chart-social', svg,
      parts.map(([p, c]) => [p, c]));
  }

  function histogram(values, bins, label) { // values: [{series, v}]
    const W = 440, H = 200, L = 36, B = 30, T = 8;
    const svg = sv('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
    if (!values.length) return svg;
    let lo = Infinity, hi = -Infinity;
    for (const { v } of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    const integer = values.every(({ v }) => Number.isInteger(v)) && hi - lo < 40;
    const nb = integer ? hi - lo + 1 : bins, width = integer ? 1 : (hi - lo || 1) / nb;
    const counts = series.map(() => new Array(nb).fill(0));
    for (const { s, v } of values) counts[s][Math.min(nb - 1, Math.floor((v - lo) / width))]++;
    let ymax = 1;
    for (const c of counts) for (const x of c) ymax = Math.max(ymax, x);
    const bw = (W - L - 8) / nb, used = counts.map((c, i) => i).filter((i) => counts[i].some((x) => x));
    const y = (v) => T + (H - T - B) * (1 - v / ymax);
    for (let b = 0; b < nb; b++) {
      used.forEach((si, k) => {
        const c = counts[si][b];
        if (!c) return;
        const r = sv('rect', { x: L + b * bw + (k * (bw - 2)) / used.length, y: y(c), width: Math.max(1, (bw - 2) / used.length),
          height: y(0) - y(c), fill: COLORS[si % COLORS.length] });
        r.append(sv('title', { text: `${series[si].label}: ${c} with ${label} ${integer ? lo + b : fmt(lo + b * width, 0) + '–' + fmt(lo + (b + 1) * width, 0)}` }));
        svg.append(r);
      });
      if (integer || b % Math.ceil(nb / 8) === 0)
        svg.append(sv('text', { x: L + b * bw + bw / 2, y: H - B + 12, 'text-anchor': 'middle', 'font-size': 10,
          text: integer ? lo + b : fmt(lo + b * width, 0) }));
    }
    svg.append(sv('text', { x: L - 4, y: y(ymax) + 8, 'text-anchor': 'end', 'font-size': 10, fill: '#667085', text: ymax }));
    return svg;
  }

  function throughput() {
    const W = 440, H = 200, L = 44, B = 28, T = 8;
    const lines = S.nodes.map((n, i) => {
      const pts = [];
      const tl = n.timeline || [];
      for (let k = 1; k < tl.length; k++) {
        const dt = tl[k][0] - tl[k - 1][0];
        if (dt > 0) pts.push([tl[k][0], (tl[k][3] - tl[k - 1][3]) / dt]);
      }
      return { i, pts };
    }).filter((l) => l.pts.length);
    const svg = sv('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
    if (!lines.length) { svg.append(sv('text', { x: 20, y: 40, text: 'no timeline.jsonl in these runs' })); return svg; }
    let xmax = 1, ymax = 1;
    for (const l of lines) for (const [t, r] of l.pts) { xmax = Math.max(xmax, t); ymax = Math.max(ymax, r); }
    const x = (t) => L + (W - L - 8) * (t / xmax), y = (r) => T + (H - T - B) * (1 - r / ymax);
    for (const l of lines)
      svg.append(sv('polyline', { points: l.pts.map(([t, r]) => `${x(t).toFixed(1)},${y(r).toFixed(1)}`).join(' '), fill: 'none',
        stroke: COLORS[l.i % COLORS.length], 'stroke-width': 1.5 }));
    svg.append(sv('text', { x: L - 4, y: y(ymax) + 8, 'text-anchor': 'end', 'font-size': 10, fill: '#667085', text: ymax.toFixed(0) }),
      sv('text', { x: L - 4, y: y(0), 'text-anchor': 'end', 'font-size': 10, fill: '#667085', text: '0' }),
      sv('text', { x: W - 8, y: H - 8, 'text-anchor': 'end', 'font-size': 10, fill: '#667085', text: `${xmax.toFixed(0)} s` }),
      sv('text', { x: L, y: H - 8, 'font-size': 10, fill: '#667085', text: 'completion tokens/s over time' }));
    return svg;
  }
  chartBox('Throughput over time (tokens/s)', 'chart-throughput', throughput(), series.map((s) => [nodeLabel(s.n), s.color]));

  // ---- conversation viewer ---------------------------------------------------------------------
  let X = null; // the index, columnar
  const chunks = new Map(); // chunk number -> Promise of its conversations (a few kept)
  function chunk(c) {
    if (!chunks.has(c)) {
      if (chunks.size >= 8) chunks.delete(chunks.keys().next().value);
      chunks.set(c, gunzip(document.getElementById('parley-chunk-' + c).textContent).then(JSON.parse));
    }
    return chunks.get(c);
  }
  const F = { node: 'all', domain: 'all', outcome: 'all', agree: 'all', correct: 'all', siblings: 'all', id: '' };
  let matches = new Int32Array(0), page = 0, selected = -1;
  const outcomeOf = (i) => (X.err[i] ? 'error' : X.agree[i] === 1 ? 'agreed' : X.agree[i] === 0 ? 'max turns' : 'answered');

  function select(name, label, options) {
    const s = el('select', { id: 'filter-' + name, onchange: (e) => { F[name] = e.target.value; refilter(); } },
      ...options.map(([v, t]) => el('option', { value: v, text: t })));
    return el('label', {}, label, s);
  }
  function buildFilters() {
    const f = document.getElementById('filters');
    f.append(
      select('node', 'evaluation', [['all', 'all'], ...S.nodes.map((n, i) => [String(i), nodeLabel(n)])]),
      select('domain', 'domain', [['all', 'all'], ...X.domains.map((d, i) => [String(i), d])]),
      select('outcome', 'outcome', [['all', 'all'], ['agreed', 'agreed'], ['max turns', 'no agreement (max turns)'],
        ['answered', 'answered (single agent)'], ['error', 'error']]),
      select('agree', 'agreement', [['all', 'all'], ['1', 'agreed'], ['0', 'not agreed']]),
      select('correct', 'correctness', [['all', 'all'], ['1', 'correct'], ['0', 'incorrect']]),
      select('siblings', 'tree sampling', [['all', 'all'], ['1', 'with siblings']]),
      el('label', {}, 'item id contains', el('input', { id: 'filter-id', type: 'search',
        oninput: (e) => { F.id = e.target.value; refilter(); } })));
  }
  function refilter() {
    const n = X.n, out = new Int32Array(n);
    let k = 0;
    const node = F.node === 'all' ? -1 : +F.node, dom = F.domain === 'all' ? -1 : +F.domain;
    for (let i = 0; i < n; i++) {
      if (node >= 0 && X.node[i] !== node) continue;
      if (dom >= 0 && X.domain[i] !== dom) continue;
      if (F.outcome !== 'all' && outcomeOf(i) !== F.outcome) continue;
      if (F.agree !== 'all' && X.agree[i] !== +F.agree) continue;
      if (F.correct !== 'all' && (X.correct[i] >= 0.5 ? 1 : 0) !== +F.correct) continue;
      if (F.siblings === '1' && !X.sib[i]) continue;
      if (F.id && !X.id[i].includes(F.id)) continue;
      out[k++] = i;
    }
    matches = out.subarray(0, k);
    page = 0;
    renderList();
  }
  const mark = (v) => (v == null || v < 0 ? el('span', { text: '–' }) : v >= 0.5 ? el('span', { class: 'yes', text: '✓' }) : el('span', { class: 'no', text: '✗' }));
  function renderList() {
    const pages = Math.max(1, Math.ceil(matches.length / PAGE));
    document.getElementById('count').textContent = `${matches.length} of ${X.n} shown by the filters`;
    document.getElementById('count').setAttribute('data-count', matches.length);
    const body = el('tbody');
    for (let k = page * PAGE; k < Math.min(matches.length, (page + 1) * PAGE); k++) {
      const i = matches[k];
      const tr = el('tr', { class: 'conv' + (i === selected ? ' selected' : ''), 'data-index': i, onclick: () => show(i) },
        el('td', { text: nodeLabel(S.nodes[X.node[i]]) }), el('td', { text: X.domains[X.domain[i]] }), el('td', { text: X.id[i] }),
        el('td', { class: 'num', text: X.trial[i] }), el('td', { class: 'num', text: X.turns[i] }),
        el('td', { class: 'num', text: X.tokens[i] < 0 ? '–' : X.tokens[i] }), el('td', {}, mark(X.agree[i])),
        el('td', {}, mark(X.correct[i])), el('td', { class: 'num', text: X.sib[i] || '' }));
      body.append(tr);
    }
    const head = el('tr', {}, ...['evaluation', 'domain', 'item', 'trial', 'turns', 'tokens', 'agreed', 'correct', 'siblings']
      .map((h) => el('th', { text: h })));
    document.getElementById('list').replaceChildren(el('table', {}, el('thead', {}, head), body));
    const pager = document.getElementById('pager');
    pager.replaceChildren(
      el('button', { id: 'prev', onclick: () => { if (page > 0) { page--; renderList(); } } }, '‹ previous'),
      el('span', { id: 'page', text: `page ${page + 1} of ${pages}` }),
      el('button', { id: 'next', onclick: () => { if (page + 1 < pages) { page++; renderList(); } } }, 'next ›'));
  }
  function scoreClass(s) { return s == null ? '' : s >= 1 ? 'score-good' : s <= 0 ? 'score-bad' : 'score-mid'; }
  function turnView(t, i, hidden) {
    const head = el('div', { class: 'head' }, el('span', { class: 'role', text: t.r || '?' }), el('span', { text: `turn ${i}` }));
    if (t.b != null) head.append(el('span', { class: 'badge belief', text: `belief: ${t.b}` }));
    if (t.s != null) head.append(el('span', { class: 'badge score', text: `score ${fmt(t.s, 2)}` }));
    if (t.n != null && i > 0) head.append(el('span', { class: 'badge', text: `${t.n} tokens` }));
    if (t.a) head.append(el('span', { class: 'badge agree', text: '⇄ agreement reached' }));
    if (t.e) head.append(el('span', { class: 'badge err', text: 'request failed' }));
    const box = el('div', { class: `turn ${scoreClass(t.s)}${t.a ? ' agreed' : ''}`, 'data-turn': i }, head,
      el('pre', { class: hidden ? 'hidden-text' : '', text: t.c || '' }));
    if (t.x && t.x.length) {
      const d = el('details', { class: 'siblings' }, el('summary', { text: `${t.x.length} other candidate(s) of this turn (tree sampling)` }));
      t.x.forEach((sib) => d.append(turnView(sib, i, hidden)));
      box.append(d);
    }
    return box;
  }
  async function show(i) {
    selected = i;
    for (const tr of document.querySelectorAll('tr.conv')) tr.classList.toggle('selected', +tr.dataset.index === i);
    const detail = document.getElementById('detail');
    detail.replaceChildren(el('p', { class: 'note', text: 'loading…' }));
    const conv = (await chunk(Math.floor(i / S.chunk)))[i % S.chunk];
    if (selected !== i) return;
    const n = S.nodes[X.node[i]];
    const info = el('p', { class: 'note', id: 'detail-info' },
      `${nodeLabel(n)} · ${X.domains[X.domain[i]]} · item ${X.id[i]} · trial ${X.trial[i]} · ${outcomeOf(i)} · gold `,
      el('b', { text: conv.gold == null ? '–' : String(conv.gold) }), ' · ', mark(X.correct[i]));
    detail.replaceChildren(info, ...conv.turns.map((t, k) => turnView(t, k, conv.hidden)));
    detail.setAttribute('data-shown', i);
  }

  (async () => {
    X = JSON.parse(await gunzip(document.getElementById('parley-index').textContent));
    const tIndex = performance.now();
    const turnValues = [], tokenValues = [];
    for (let i = 0; i < X.n; i++) {
      turnValues.push({ s: X.node[i], v: X.turns[i] });
      if (X.tokens[i] >= 0) tokenValues.push({ s: X.node[i], v: X.tokens[i] });
    }
    chartBox('Turns per conversation', 'chart-turns', histogram(turnValues, 20, 'turns'), series.map((s) => [nodeLabel(s.n), s.color]));
    chartBox('Conversation length (completion tokens)', 'chart-tokens', histogram(tokenValues, 20, 'tokens'),
      series.map((s) => [nodeLabel(s.n), s.color]));
    buildFilters();
    refilter();
    window.parleyTimings = { index_ms: tIndex - t0, ready_ms: performance.now() - t0 };
    window.parleyReady = true;
    document.body.setAttribute('data-ready', '1');
  })().catch((e) => {
    document.getElementById('count').textContent = 'could not read the embedded data: ' + e;
    window.parleyError = String(e);
  });
})();
