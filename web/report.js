// The interactive part of the page `memtrack html` writes: summary cards, the memory-over-time
// chart (uPlot), the flame graph (d3-flame-graph) and sortable, filterable tables, all drawn
// from the JSON embedded in #mt-data ({report: `memtrack report --format json`, folded: the
// folded stacks of each weight, as [path, weight] pairs}).
(function () {
  'use strict';

  const data = JSON.parse(document.getElementById('mt-data').textContent);
  const R = data.report;
  const T = R.totals;

  // --- formatting

  function fmtBytes(b) {
    if (b === null || b === undefined) return '';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = b, u = 0;
    while (Math.abs(v) >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return (u === 0 ? String(v) : v.toFixed(1)) + ' ' + units[u];
  }
  function fmtCount(n) {
    return n === null || n === undefined ? '' : Number(n).toLocaleString('en-US');
  }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return '';
    if (ms >= 1000) return (ms / 1000).toFixed(3) + ' s';
    return (Math.round(ms * 1000) / 1000) + ' ms';
  }
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const k of kids) if (k !== null && k !== undefined)
      e.append(typeof k === 'string' ? document.createTextNode(k) : k);
    return e;
  }
  function frameText(f) {
    let s = f.function || (f.module ? f.module.split('/').pop() + '+' + f.offset : f.address);
    if (f.file) s += ' (' + f.file.split('/').pop() + (f.line ? ':' + f.line : '') + ')';
    if (f.inlined) s += ' [inlined]';
    return s;
  }
  // The frame that says where a path allocates: its innermost one with a function name.
  function where(stack) {
    if (!stack || stack.length === 0) return '[no call path]';
    const f = stack.find(x => x.function && !x.function.startsWith('[class ')) || stack[0];
    return frameText(f);
  }

  // --- header and cards

  const progName = R.program.split('/').pop();
  document.getElementById('program').textContent = progName + ' (pid ' + R.pid + ')';
  const endText = R.end.reason === 'exit' ? 'exited with status ' + R.end.value
    : R.end.reason === 'signal' ? 'killed by signal ' + R.end.value
    : R.end.reason === 'snapshot' ? 'snapshot taken while running' : 'ended by ' + R.end.reason;
  document.getElementById('meta').textContent = R.cmdline.join(' ') + ' — ran ' +
    fmtMs(R.duration_ms) + ', ' + endText + ', ' + R.mode + ' mode, depth ' + R.depth;
  const warnings = [];
  if (R.degraded) warnings.push('the tracker ran out of memory and lost ' +
    fmtCount(R.dropped_events) + ' events: figures are incomplete');
  if (R.truncated_stacks) warnings.push('some call paths were cut at depth ' + R.depth);
  if (R.stackless) warnings.push('this capture has no call paths (count mode)');
  if (R.estimated) warnings.push('sample mode, a call path per ' + fmtBytes(R.sample_mean_bytes) +
    ' allocated on average (' + fmtCount(R.sampled_allocations) + ' allocations sampled): ' +
    'the figures of call paths (flame graph, leaks and peak tables) are estimates; totals, ' +
    'threads and classes are exact');
  if (warnings.length) {
    const w = document.getElementById('warnings');
    w.textContent = 'Note: ' + warnings.join('; ') + '.';
    w.hidden = false;
  }

  function card(title, big, ...lines) {
    return el('div', {class: 'card'}, el('h3', {text: title}), el('div', {class: 'big', text: big}),
      ...lines.map(l => el('div', {class: 'small', text: l})));
  }
  document.getElementById('cards').append(
    card('Allocated', fmtBytes(T.allocated_bytes), fmtCount(T.allocations) + ' allocations',
      fmtCount(T.frees) + ' frees (' + fmtBytes(T.freed_bytes) + ')'),
    card('Peak', fmtBytes(T.peak_bytes), fmtCount(T.peak_blocks) + ' blocks',
      'at ' + fmtMs(T.peak_time_ms) + ', ' + fmtCount(R.peak.call_paths) + ' call paths'),
    card('Leaked', fmtBytes(T.live_bytes), fmtCount(T.live_blocks) + ' blocks live at the end',
      fmtCount(R.leak_call_paths) + ' call paths'),
    card('Other', fmtCount(T.temporary) + ' temporary', fmtCount(T.unknown_frees) + ' unknown frees',
      fmtCount(T.threads) + ' threads'));

  // --- memory over time (uPlot)

  const mt = window.mtReport = {};
  (function timeline() {
    const box = document.getElementById('timeline');
    // The samples, plus what the capture knows exactly: nothing live at the start of tracking,
    // the peak, and what was live at the end (short runs may have no sample of their own).
    const s = R.timeline.samples.map(r => r.slice());
    s.push([0, 0, 0, null], [T.peak_time_ms, T.peak_bytes, T.peak_blocks, null],
      [R.duration_ms, T.live_bytes, T.live_blocks, null]);
    s.sort((a, b) => a[0] - b[0]);
    if (s.length < 2 || !R.duration_ms) {
      box.append(el('p', {class: 'empty', text: 'The capture has no timeline samples.'}));
      return;
    }
    const xs = s.map(r => r[0]), live = s.map(r => r[1]), blocks = s.map(r => r[2]);
    const hasRss = R.timeline.samples.some(r => r[3] > 0);
    const cols = [xs, live];
    const series = [
      {label: 'time', value: (u, v) => v === null ? '' : fmtMs(v)},
      {label: 'live bytes', stroke: '#1f6feb', width: 2, fill: 'rgba(31,111,235,0.12)',
        points: {show: s.length < 60},
        value: (u, v) => v === null ? '' : fmtBytes(v)},
    ];
    if (hasRss) {
      cols.push(s.map(r => r[3]));
      // Hidden at first (a click on its legend shows it): RSS dwarfs what is tracked.
      series.push({label: 'RSS', stroke: '#8b949e', width: 1, dash: [4, 4], spanGaps: true, show: false,
        value: (u, v) => v === null ? '' : fmtBytes(v)});
    }
    cols.push(blocks);
    series.push({label: 'live blocks', stroke: '#2da44e', width: 1, scale: 'blocks',
      value: (u, v) => v === null ? '' : fmtCount(v)});
    const peakX = T.peak_time_ms;
    const peakLine = {
      hooks: {
        draw: [u => {
          const x = u.valToPos(peakX, 'x', true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = '#d1242f';
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.fillStyle = '#d1242f';
          ctx.font = (12 * devicePixelRatio) + 'px sans-serif';
          ctx.fillText('peak ' + fmtBytes(T.peak_bytes), x + 4 * devicePixelRatio,
            u.bbox.top + 14 * devicePixelRatio);
          ctx.restore();
        }],
      },
    };
    const opts = {
      width: Math.max(400, box.clientWidth), height: 320,
      plugins: [peakLine],
      scales: {x: {time: false}},
      cursor: {drag: {x: true, y: false}},
      axes: [
        {label: 'time (ms)', values: (u, vals) => vals.map(v => fmtMs(v))},
        {label: 'live', size: 80, values: (u, vals) => vals.map(v => fmtBytes(v))},
        {scale: 'blocks', side: 1, label: 'blocks', size: 70, grid: {show: false},
          values: (u, vals) => vals.map(v => fmtCount(v))},
      ],
      series,
    };
    mt.plot = new uPlot(opts, cols, box);
    // A peak between two samples would not show on the line: the marker and legend say it.
    window.addEventListener('resize', () =>
      mt.plot.setSize({width: Math.max(400, box.clientWidth), height: 320}));
  })();

  // --- flame graph (d3-flame-graph)

  // The folded stacks of one weight as the nested {name, value, children} tree the flame graph
  // draws, where a frame's value is its total (its own plus its children's).
  function buildTree(lines) {
    const root = {name: 'all', value: 0, children: []};
    const index = new Map();
    index.set(root, new Map());
    for (const [path, w] of lines) {
      root.value += w;
      let node = root;
      for (const name of path.split(';')) {
        const kids = index.get(node);
        let child = kids.get(name);
        if (!child) {
          child = {name, value: 0, children: []};
          kids.set(name, child);
          index.set(child, new Map());
          node.children.push(child);
        }
        child.value += w;
        node = child;
      }
    }
    return root;
  }
  const WEIGHTS = {
    'all/allocations': ['allocations', 'allocations'], 'all/bytes': ['bytes', 'bytes'],
    'live/allocations': ['live-blocks', 'blocks'], 'live/bytes': ['live-bytes', 'bytes'],
    'peak/allocations': ['peak-blocks', 'blocks'], 'peak/bytes': ['peak-bytes', 'bytes'],
  };
  const flameBox = document.getElementById('flame');
  const details = document.getElementById('flame-details');
  let unit = 'bytes';
  function fmtWeight(v) { return unit === 'bytes' ? fmtBytes(v) : fmtCount(v) + ' ' + unit; }
  // One thread's flame graphs (the threads that allocated most; see html.c), or all threads'.
  const threadSelect = document.getElementById('flame-thread');
  const threadFolded = new Map();
  for (const t of data.threads || []) {
    threadFolded.set(String(t.thread), t.folded);
    threadSelect.append(el('option', {value: String(t.thread),
      text: 'tid ' + t.tid + (t.name ? ' (' + t.name + ')' : '')}));
  }
  document.getElementById('flame-thread-box').hidden = threadFolded.size === 0;
  function drawFlame() {
    const weight = document.querySelector('input[name=weight]:checked').value;
    const set = document.querySelector('input[name=set]:checked').value;
    const [key, u] = WEIGHTS[set + '/' + weight];
    unit = u;
    const folded = threadSelect.value === '' ? data.folded : threadFolded.get(threadSelect.value);
    const lines = folded[key] || [];
    const tree = buildTree(lines);
    flameBox.textContent = '';
    document.getElementById('flame-unknown').hidden = key in folded;
    document.getElementById('flame-empty').hidden = tree.value > 0 || !(key in folded);
    mt.flameWeight = key;
    mt.flameThread = threadSelect.value;
    if (tree.value === 0) { mt.flame = null; return; }
    const chart = flamegraph()
      .width(Math.max(400, flameBox.clientWidth))
      .cellHeight(18)
      .minFrameSize(2)
      .transitionDuration(300)
      .sort(true)
      .tooltip(false)
      .title('')
      .setDetailsElement(details)
      .label(d => d.data.name + ': ' + fmtWeight(d.value) + ' (' +
        (100 * d.value / tree.value).toFixed(2) + ' %)')
      .setDetailsHandler(function (d) {
        details.textContent = d ? d : '\u00a0';
      });
    chart.onClick(d => { mt.zoomed = d ? d.data.name : null; });
    d3.select(flameBox).datum(tree).call(chart);
    mt.flame = chart;
    mt.flameTotal = tree.value;
  }
  for (const r of document.querySelectorAll('input[name=weight], input[name=set], #flame-thread'))
    r.addEventListener('change', drawFlame);
  document.getElementById('flame-search').addEventListener('input', e => {
    if (mt.flame) e.target.value ? mt.flame.search(e.target.value) : mt.flame.clear();
  });
  document.getElementById('flame-reset').addEventListener('click', () => {
    if (mt.flame) mt.flame.resetZoom();
  });
  // Leaks first when there are some: that is what people open the report for.
  const startSet = T.live_bytes > 0 ? 'live' : 'all';
  document.querySelector('input[name=set][value=' + startSet + ']').checked = true;
  drawFlame();
  mt.drawFlame = drawFlame;

  // --- tables

  // A table of `rows` with `cols` ({label, get, fmt, num}); clicking a header sorts by it
  // (again: the other way), the box above filters rows by their text. `detail(row)` may give a
  // node shown under a row (a stack) when the row is clicked.
  function table(boxId, cols, rows, detail, sortCol) {
    const box = document.getElementById(boxId);
    if (!rows.length) {
      box.append(el('p', {class: 'empty', text: 'None.'}));
      return;
    }
    const filter = el('input', {type: 'search', placeholder: 'filter…', class: 'filter'});
    const count = el('span', {class: 'count'});
    const tbl = el('table', {class: 'data'});
    const head = el('tr');
    const tbody = el('tbody');
    tbl.append(el('thead', {}, head), tbody);
    box.append(el('div', {class: 'controls'}, filter, count), tbl);
    let sortBy = sortCol, desc = true;
    const text = rows.map(r => (cols.map(c => String(c.fmt ? c.fmt(c.get(r)) : c.get(r))).join(' ') +
      ' ' + (r.stack ? r.stack.map(frameText).join(' ') : '')).toLowerCase());
    cols.forEach((c, i) => {
      const th = el('th', {class: c.num ? 'num' : '', title: 'sort'}, c.label);
      th.addEventListener('click', () => {
        desc = sortBy === i ? !desc : !!c.num;
        sortBy = i;
        render();
      });
      head.append(th);
    });
    function render() {
      const f = filter.value.trim().toLowerCase();
      const c = cols[sortBy];
      const idx = rows.map((r, i) => i).filter(i => !f || text[i].includes(f));
      idx.sort((a, b) => {
        const x = c.get(rows[a]), y = c.get(rows[b]);
        const d = c.num ? x - y : String(x).localeCompare(String(y));
        return (desc ? -d : d) || a - b;
      });
      for (const [i, th] of [...head.children].entries())
        th.className = (cols[i].num ? 'num' : '') + (i === sortBy ? (desc ? ' desc' : ' asc') : '');
      tbody.textContent = '';
      for (const i of idx) {
        const r = rows[i];
        const tr = el('tr');
        for (const col of cols) {
          const v = col.get(r);
          tr.append(el('td', {class: col.num ? 'num' : '', 'data-value': v === null ? '' : v,
            text: col.fmt ? col.fmt(v) : (v === null ? '' : String(v))}));
        }
        tbody.append(tr);
        if (detail) {
          tr.classList.add('expandable');
          tr.addEventListener('click', () => {
            const next = tr.nextSibling;
            if (next && next.classList && next.classList.contains('detail')) { next.remove(); return; }
            tr.after(el('tr', {class: 'detail'}, el('td', {colspan: cols.length}, detail(r))));
          });
        }
      }
      count.textContent = idx.length + ' of ' + rows.length;
    }
    filter.addEventListener('input', render);
    render();
  }
  function stackList(r) {
    const ol = el('ol', {class: 'stack'});
    for (const f of r.stack || []) ol.append(el('li', {class: f.inlined ? 'inlined' : '',
      text: frameText(f) + (f.module ? '  — ' + f.module : '')}));
    if (r.names && r.names.length)
      ol.append(el('li', {class: 'names', text: 'named: ' + r.names.map(n => n.name).join(', ')}));
    return ol;
  }
  const num = (label, get, fmt) => ({label, get, fmt, num: true});
  const txt = (label, get) => ({label, get, num: false});

  table('leaks', [txt('where', r => where(r.stack)), txt('class', r => r.class || ''),
    num('blocks', r => r.live_blocks, fmtCount), num('bytes', r => r.live_bytes, fmtBytes),
    num('frames', r => (r.stack || []).length)], R.leaks, stackList, 3);
  table('peak', [txt('where', r => where(r.stack)), txt('class', r => r.class || ''),
    num('blocks', r => r.blocks, fmtCount), num('bytes', r => r.bytes, fmtBytes),
    num('share %', r => T.peak_bytes ? Math.round(1000 * r.bytes / T.peak_bytes) / 10 : 0)],
    R.peak.contributors, stackList, 3);
  table('threads', [num('tid', r => r.tid), txt('name', r => r.name || ''),
    num('allocations', r => r.allocations, fmtCount),
    num('allocated', r => r.allocated_bytes, fmtBytes), num('frees', r => r.frees, fmtCount),
    num('live blocks', r => r.live_blocks, fmtCount), num('live bytes', r => r.live_bytes, fmtBytes),
    num('own peak', r => r.peak_bytes, fmtBytes), num('peak at', r => r.peak_time_ms, fmtMs),
    num('temporary', r => r.temporary, fmtCount)], R.threads, null, 3);
  table('classes', [txt('class', r => r.name), num('new', r => r.new_count, fmtCount),
    num('new bytes', r => r.new_bytes, fmtBytes), num('freed', r => r.free_count, fmtCount),
    num('live', r => r.live_count, fmtCount), num('live bytes', r => r.live_bytes, fmtBytes)],
    R.classes, null, 2);
  if (R.stages.length) {
    document.getElementById('stages-section').hidden = false;
    table('stages', [txt('stage', r => r.name || '(unnamed)'), num('start', r => r.start_ms, fmtMs),
      num('end', r => r.end_ms, fmtMs), num('peak', r => r.peak_bytes, fmtBytes),
      num('peak at', r => r.peak_time_ms, fmtMs)], R.stages, r => {
      const ul = el('ul', {class: 'stack'});
      for (const c of r.contributors) ul.append(el('li', {text: fmtBytes(c.bytes) + ' in ' +
        fmtCount(c.blocks) + ' blocks: ' + where(c.stack)}));
      return ul;
    }, 3);
  }
  mt.ready = true;
})();
