"""The results table as one self-contained HTML page that can be browsed in the report: sort
by any column, filter each column (text, or ``>0.5``, ``<=3``, ``1..4`` for numbers), page
through the rows. No network access and no external script: the page carries its data.

The page shows the table's principal measures side by side (:func:`browse_frame`): one row
per result — (network, manifold set and replicate, layer, transform, study, variant) — with
α_c, N_c, α_M, R_M, D_M, ρ_c (and the standard errors of the repeated-neuron-subset sweeps)
as columns, and whether any of its values is flagged. Every other measure is in the CSV.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..data.files import atomic_path

__all__ = ["PRINCIPAL_MEASURES", "browse_frame", "write_browse_html"]

PRINCIPAL_MEASURES: tuple[tuple[str, str, str], ...] = (
    ("capacity", "capacity", "α_c"),
    ("capacity", "critical_n_features", "N_c"),
    ("capacity", "capacity_fit", "α_c (fit)"),
    ("geometry", "capacity", "α_M"),
    ("geometry", "radius", "R_M"),
    ("geometry", "dimension", "D_M"),
    ("geometry", "centre_correlation", "ρ_c"),
    ("geometry", "capacity_sem", "s.e. α_M"),
    ("geometry", "radius_sem", "s.e. R_M"),
    ("geometry", "dimension_sem", "s.e. D_M"),
    ("geometry", "centre_correlation_sem", "s.e. ρ_c"),
)
"""(analysis, measure, column title) of the measures the browsable table shows."""

_LEADING = ("network", "architecture", "weights", "manifold_set", "replicate", "kind", "range_factor", "layer",
            "transform", "study", "variant")
_TRAILING = ("manifold", "n_objects", "n_samples", "layer_index")


def browse_frame(table: pd.DataFrame, measures: Sequence[tuple[str, str, str]] = PRINCIPAL_MEASURES) -> pd.DataFrame:
    """One row per result with the ``measures`` as columns (the identifying columns first,
    then the measures and ``flagged``, then the manifold set's sizes and the variant options).

    ``study`` is ``baseline`` for the baseline analyses (their capacity and geometry values
    of one session share a row) and the experiment's name otherwise; ``flagged`` is true when
    any value of the row is flagged. Measures absent from the table give no column; key
    columns that are empty throughout are left out.
    """
    wanted = {(a, m): title for a, m, title in measures}
    sub = table[[(a, m) in wanted for a, m in zip(table["analysis"], table["measure"])]].copy()
    baseline = sub["experiment"].astype(str) == sub["analysis"].astype(str)
    sub["study"] = np.where(baseline, "baseline", sub["experiment"].astype(str))
    sub["column"] = [wanted[(a, m)] for a, m in zip(sub["analysis"], sub["measure"])]
    variant_cols = sorted(c for c in sub.columns if c.startswith("variant_") and c != "variant_status")
    leading = [c for c in _LEADING if c in sub.columns]
    keys = [*leading, *(c for c in (*_TRAILING, *variant_cols) if c in sub.columns)]
    sub[keys] = sub[keys].astype(object).where(sub[keys].notna(), "")
    if sub.empty:
        return pd.DataFrame(columns=[*keys, "flagged"])
    values = sub.groupby([*keys, "column"], sort=False)["value"].first().unstack("column")
    flagged = sub.groupby(keys, sort=False)["flagged"].agg(lambda f: bool(pd.Series(f).astype(bool).any()))
    out = values.join(flagged).reset_index()
    order = [title for _, _, title in measures if title in out.columns]
    out = out[[*leading, *order, "flagged", *keys[len(leading):]]]
    empty = [c for c in keys if (out[c].astype(str) == "").all()]
    return out.drop(columns=empty)


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _encode(frame: pd.DataFrame) -> dict:
    """Column-wise JSON: numbers as numbers (null for NaN), text dictionary-coded."""
    cols = []
    for name in frame.columns:
        col = frame[name]
        blank = col.map(lambda v: _missing(v) or v == "")
        numeric = pd.to_numeric(col.where(~blank, np.nan), errors="coerce")
        if name != "flagged" and (numeric.notna() | blank).all() and numeric.notna().any():
            vals = [None if not math.isfinite(v) else (int(v) if float(v).is_integer() and abs(v) < 2**53 else float(f"{v:.10g}"))
                    for v in numeric.astype(float)]
            cols.append({"name": str(name), "type": "num", "values": vals})
        else:
            text = ["" if _missing(v) else str(v) for v in col]
            levels = sorted(set(text))
            index = {v: i for i, v in enumerate(levels)}
            cols.append({"name": str(name), "type": "str", "levels": levels, "codes": [index[v] for v in text]})
    return {"n": len(frame), "columns": cols}


def write_browse_html(table: pd.DataFrame, path: str | os.PathLike, *, title: str = "Results") -> None:
    """Write the browsable page of ``table`` (the tidy table) to ``path``, atomically."""
    frame = browse_frame(table)
    data = json.dumps(_encode(frame), separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    page = _PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", data)
    page = page.replace("__NOTE__", html.escape(
        f"{len(frame)} results × {len(table)} table rows. One row per result (network, manifold set, layer, "
        "transform, study, variant) with its principal measures; every measure of every row is in results.csv."))
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(page)


_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{font-family:system-ui,sans-serif;font-size:13px;margin:12px;color:#222}
h1{font-size:17px;margin:0 0 4px}
p.note{color:#555;margin:0 0 8px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:2px 6px;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0;cursor:pointer;user-select:none}
th.f{cursor:default;top:22px;background:#fafafa;padding:1px}
th.f input{width:100%;box-sizing:border-box;font-size:12px;min-width:4em}
td.num{text-align:right}
tr.flag td{background:#fde8e8}
tr:hover td{background:#eef4ff}
#bar{margin:6px 0;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
button{font-size:12px}
</style></head><body>
<h1>__TITLE__</h1>
<p class="note">__NOTE__ Click a heading to sort; type in the box under it to filter (text: part of the value;
numbers: <code>&gt;0.5</code>, <code>&lt;=3</code>, <code>=1</code>, <code>1..4</code>). Red rows hold a flagged value.</p>
<div id="bar"><input id="q" placeholder="search every column" size="30">
<button id="prev">&#9664;</button><span id="info"></span><button id="next">&#9654;</button>
rows per page <select id="ps"><option>50</option><option selected>100</option><option>500</option><option>2000</option></select>
<button id="clear">clear filters</button></div>
<div style="overflow:auto;max-height:85vh"><table id="t"><thead></thead><tbody></tbody></table></div>
<script id="data" type="application/json">__DATA__</script>
<script>
(function(){
const D=JSON.parse(document.getElementById('data').textContent);
const C=D.columns, N=D.n;
const val=(c,i)=>c.type==='num'?c.values[i]:c.levels[c.codes[i]];
const txt=(c,i)=>{const v=val(c,i);if(v===null||v===undefined)return '';if(c.type==='num'){return Number.isInteger(v)?String(v):Number(v.toPrecision(5)).toString();}return v;};
let filters=C.map(()=>''), sortCol=-1, sortDir=1, page=0, rows=[...Array(N).keys()];
const thead=document.querySelector('#t thead'), tbody=document.querySelector('#t tbody');
const h=document.createElement('tr'), f=document.createElement('tr');
C.forEach((c,j)=>{const th=document.createElement('th');th.textContent=c.name;th.title='sort by '+c.name;
 th.onclick=()=>{sortDir=(sortCol===j)?-sortDir:1;sortCol=j;apply();};h.appendChild(th);
 const tf=document.createElement('th');tf.className='f';const inp=document.createElement('input');
 inp.oninput=()=>{filters[j]=inp.value.trim();page=0;apply();};tf.appendChild(inp);f.appendChild(tf);});
thead.appendChild(h);thead.appendChild(f);
function numTest(s){let m=s.match(/^(>=|<=|>|<|=)\s*(-?[\d.eE+-]+)$/);if(m){const x=parseFloat(m[2]);
  return v=>v!==null&&({'>':v>x,'<':v<x,'>=':v>=x,'<=':v<=x,'=':v===x})[m[1]];}
 m=s.match(/^(-?[\d.eE+-]+)\s*\.\.\s*(-?[\d.eE+-]+)$/);if(m){const a=parseFloat(m[1]),b=parseFloat(m[2]);return v=>v!==null&&v>=a&&v<=b;}
 return null;}
function apply(){
 const q=document.getElementById('q').value.trim().toLowerCase();
 const tests=filters.map((s,j)=>{if(!s)return null;const c=C[j];if(c.type==='num'){const t=numTest(s);if(t)return i=>t(c.values[i]);}
  const l=s.toLowerCase();return i=>txt(c,i).toLowerCase().includes(l);});
 rows=[];for(let i=0;i<N;i++){let ok=true;for(let j=0;j<C.length&&ok;j++){if(tests[j]&&!tests[j](i))ok=false;}
  if(ok&&q){ok=C.some(c=>txt(c,i).toLowerCase().includes(q));}if(ok)rows.push(i);}
 if(sortCol>=0){const c=C[sortCol];rows.sort((a,b)=>{const x=val(c,a),y=val(c,b);
  if(x===y)return 0;if(x===null)return 1;if(y===null)return -1;return (x<y?-1:1)*sortDir;});}
 [...h.children].forEach((th,j)=>{th.textContent=C[j].name+(j===sortCol?(sortDir>0?' \u25B2':' \u25BC'):'');});
 render();}
function render(){
 const ps=parseInt(document.getElementById('ps').value),pages=Math.max(1,Math.ceil(rows.length/ps));
 page=Math.min(page,pages-1);const lo=page*ps,hi=Math.min(rows.length,lo+ps);
 const fl=C.findIndex(c=>c.name==='flagged');const frag=document.createDocumentFragment();
 for(let r=lo;r<hi;r++){const i=rows[r],tr=document.createElement('tr');
  if(fl>=0&&txt(C[fl],i)==='True')tr.className='flag';
  C.forEach(c=>{const td=document.createElement('td');td.textContent=txt(c,i);if(c.type==='num'){td.className='num';
   const v=val(c,i);if(v!==null)td.title=String(v);}tr.appendChild(td);});frag.appendChild(tr);}
 tbody.replaceChildren(frag);
 document.getElementById('info').textContent=(rows.length?(lo+1)+'\u2013'+hi:'0')+' of '+rows.length+
  (rows.length<N?' (filtered from '+N+')':'')+' \u00b7 page '+(page+1)+'/'+pages;}
document.getElementById('q').oninput=()=>{page=0;apply();};
document.getElementById('ps').onchange=()=>{page=0;render();};
document.getElementById('prev').onclick=()=>{if(page>0){page--;render();}};
document.getElementById('next').onclick=()=>{page++;render();};
document.getElementById('clear').onclick=()=>{filters=C.map(()=>'');document.querySelectorAll('th.f input').forEach(i=>i.value='');
 document.getElementById('q').value='';page=0;apply();};
apply();
})();
</script></body></html>
"""
