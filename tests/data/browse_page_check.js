// Runs the browsable results page's script (dnn_manifolds.report.browse) under node with a
// minimal stand-in for the DOM, filters it (network "democnn", α_c > 0.6), sorts by α_c both
// ways, clears the filters, and prints what the page showed as JSON (tests/test_report_figures.py).
const fs = require('fs');
const html = fs.readFileSync(process.argv[2], 'utf8');
class El {
  constructor(tag) { this.tagName = tag; this.children = []; this.textContent = ''; this.value = ''; this.className = ''; this.title = ''; }
  appendChild(c) { if (c.tagName === '#frag') { this.children.push(...c.children); } else { this.children.push(c); } return c; }
  replaceChildren(...cs) { this.children = []; cs.forEach(c => this.appendChild(c)); }
}
const data = html.match(/<script id="data" type="application\/json">([\s\S]*?)<\/script>/)[1];
const ids = { data: Object.assign(new El('script'), { textContent: data }) };
for (const id of ['q', 'prev', 'next', 'info', 'clear']) ids[id] = new El(id);
ids.ps = Object.assign(new El('select'), { value: '2000' });
const thead = new El('thead'), tbody = new El('tbody');
global.document = {
  getElementById: id => ids[id],
  querySelector: s => (s === '#t thead' ? thead : s === '#t tbody' ? tbody : null),
  querySelectorAll: s => (s === 'th.f input' ? thead.children[1].children.map(th => th.children[0]) : []),
  createElement: t => new El(t),
  createDocumentFragment: () => new El('#frag'),
};
eval(html.match(/<script>\n([\s\S]*?)<\/script>/)[1]);
const header = () => thead.children[0].children.map(th => th.textContent.replace(/ [\u25B2\u25BC]$/, ''));
const col = name => header().indexOf(name);
const inputs = thead.children[1].children.map(th => th.children[0]);
const rows = () => tbody.children.map(tr => tr.children.map(td => td.textContent));
inputs[col('network')].value = 'democnn'; inputs[col('network')].oninput();
inputs[col('α_c')].value = '>0.6'; inputs[col('α_c')].oninput();
const out = { networks: [...new Set(rows().map(r => r[col('network')]))], filtered: ids.info.textContent };
thead.children[0].children[col('α_c')].onclick();
out.sorted = rows().map(r => parseFloat(r[col('α_c')]));
thead.children[0].children[col('α_c')].onclick();
out.descending = rows().map(r => parseFloat(r[col('α_c')]));
ids.clear.onclick();
out.cleared = ids.info.textContent;
console.log(JSON.stringify(out));
