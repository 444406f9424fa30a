// corebridge's API reference: reads this server's /openapi.json and
// renders every operation (path, method, summary, description,
// parameters, request body, responses and their schemas). No library, no
// CDN: it works offline. Each operation is linkable as #operationId.
'use strict';

(() => {
  const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  const MAX_DEPTH = 6; // nested schemas deeper than this are folded behind a link
  let doc = null;

  // el builds an element: attrs are attributes (class, id, href, …);
  // children are nodes or strings (text, never parsed as HTML).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // ---- a small Markdown subset: paragraphs, lists, headings, code ----

  // inline renders `code`, **bold**, *em* and [text](link) into nodes.
  function inline(text) {
    const out = [];
    const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)|(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])/g;
    let last = 0;
    for (let m; (m = re.exec(text));) {
      if (m.index > last) out.push(text.slice(last, m.index));
      if (m[1] !== undefined) out.push(el('code', null, m[1]));
      else if (m[2] !== undefined) out.push(el('strong', null, m[2]));
      else if (m[3] !== undefined) {
        const href = m[4];
        out.push(/^(https?:|#|\/)/.test(href) ? el('a', { href }, m[3]) : m[3]);
      } else out.push(el('em', null, m[5]));
      last = re.lastIndex;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  // markdown renders a description into a fragment.
  function markdown(src) {
    const frag = document.createDocumentFragment();
    if (!src) return frag;
    const lines = String(src).replace(/\r\n/g, '\n').split('\n');
    let para = [];
    let list = null; // {node, indent, item}
    const flushPara = () => {
      if (para.length) frag.append(el('p', null, inline(para.join(' '))));
      para = [];
    };
    const endList = () => { list = null; };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (/^\s*```/.test(line)) {
        flushPara(); endList();
        const code = [];
        for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
        frag.append(el('pre', null, el('code', null, code.join('\n'))));
        continue;
      }
      if (!line.trim()) { flushPara(); if (list) list.item = null; continue; }
      const h = /^(#{1,6})\s+(.*)$/.exec(line);
      if (h) {
        flushPara(); endList();
        frag.append(el('h' + Math.min(6, h[1].length + 2), null, inline(h[2])));
        continue;
      }
      const li = /^(\s*)([*-]|\d+\.)\s+(.*)$/.exec(line);
      if (li) {
        flushPara();
        const indent = li[1].length;
        if (!list) {
          list = { node: el(/\d/.test(li[2]) ? 'ol' : 'ul'), indent, parent: null };
          frag.append(list.node);
        } else if (indent > list.indent && list.item) {
          const sub = { node: el(/\d/.test(li[2]) ? 'ol' : 'ul'), indent, parent: list };
          list.item.append(sub.node);
          list = sub;
        } else {
          while (list.parent && indent < list.indent) list = list.parent;
        }
        list.item = el('li', null, inline(li[3]));
        list.node.append(list.item);
        continue;
      }
      if (list && list.item && /^\s+/.test(line)) { // a list item's continuation
        list.item.append(' ', ...inline(line.trim()));
        continue;
      }
      endList();
      para.push(line.trim());
    }
    flushPara();
    return frag;
  }

  // ---- schemas ----

  function resolve(ref) {
    if (typeof ref !== 'string' || !ref.startsWith('#/')) return null;
    let cur = doc;
    for (const tok of ref.slice(2).split('/')) {
      if (cur === null || typeof cur !== 'object') return null;
      cur = cur[tok.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    return cur === undefined ? null : cur;
  }

  const refName = (ref) => ref.split('/').pop();

  // typeOf says a schema's type in a few characters: string, integer,
  // array of Foo, Foo, one of …
  function typeOf(s) {
    if (!s || typeof s !== 'object') return 'any';
    if (s.$ref) return refName(s.$ref);
    if (s.const !== undefined) return 'const ' + JSON.stringify(s.const);
    let t = Array.isArray(s.type) ? s.type.join(' | ') : s.type;
    if (t === 'array' || (!t && s.items)) t = 'array of ' + typeOf(s.items);
    if (!t && (s.oneOf || s.anyOf)) t = (s.oneOf ? 'one of ' : 'any of ') + (s.oneOf || s.anyOf).map(typeOf).join(', ');
    if (!t && s.allOf) t = s.allOf.map(typeOf).join(' & ');
    if (!t && s.properties) t = 'object';
    if (s.format) t = (t || '') + ' (' + s.format + ')';
    return t || 'any';
  }

  // notes lists a schema's constraints: enum, default, example, bounds.
  function notes(s) {
    const n = [];
    if (!s || typeof s !== 'object') return n;
    if (Array.isArray(s.enum)) n.push('one of ' + s.enum.map((v) => JSON.stringify(v)).join(', '));
    if (s.default !== undefined) n.push('default ' + JSON.stringify(s.default));
    for (const k of ['minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'pattern']) {
      if (s[k] !== undefined) n.push(k + ' ' + s[k]);
    }
    if (s.example !== undefined) n.push('example ' + JSON.stringify(s.example));
    if (s.deprecated) n.push('deprecated');
    return n;
  }

  // schemaNode renders a schema: its type, description and, for objects and
  // arrays, its members; a $ref is shown by name and expanded in place
  // (folded behind <details> once deep, and never into itself).
  function schemaNode(s, depth, seen) {
    const box = el('div', { class: 'schema' });
    fillSchema(box, s, depth, seen);
    return box;
  }

  function fillSchema(box, s, depth, seen) {
    if (!s || typeof s !== 'object') { box.append(el('span', { class: 'type' }, 'any')); return; }
    if (s.$ref) {
      const name = refName(s.$ref);
      const target = resolve(s.$ref);
      if (!target || seen.has(s.$ref) || depth >= MAX_DEPTH) {
        box.append(el('a', { href: '#schema-' + name, class: 'type' }, name));
        return;
      }
      const d = el('details', { open: depth < 2 ? true : null },
        el('summary', null, el('span', { class: 'type' }, name)));
      const inner = el('div');
      d.append(inner);
      const next = new Set(seen).add(s.$ref);
      if (depth < 2) fillSchema(inner, target, depth + 1, next);
      else d.addEventListener('toggle', () => { if (d.open && !inner.childNodes.length) fillSchema(inner, target, depth + 1, next); });
      box.append(d);
      return;
    }
    const head = [el('span', { class: 'type' }, typeOf(s))];
    const n = notes(s);
    if (n.length) head.push(' ', el('span', { class: 'note' }, '— ' + n.join('; ')));
    box.append(el('div', null, head));
    if (s.description) box.append(el('div', { class: 'desc' }, markdown(s.description)));
    for (const key of ['oneOf', 'anyOf', 'allOf']) {
      if (Array.isArray(s[key])) {
        box.append(el('ul', null, s[key].map((sub, i) =>
          el('li', null, el('span', { class: 'note' }, (key === 'allOf' ? 'and ' : 'option ') + (i + 1) + ': '), schemaNode(sub, depth + 1, seen)))));
      }
    }
    if (s.properties) {
      const req = new Set(s.required || []);
      box.append(el('ul', null, Object.entries(s.properties).map(([name, p]) => propItem(name, p, req.has(name), depth, seen))));
    }
    if (s.additionalProperties && typeof s.additionalProperties === 'object') {
      box.append(el('ul', null, propItem('{any key}', s.additionalProperties, false, depth, seen)));
    }
    if (s.items && (s.items.$ref || s.items.properties || s.items.items || s.items.oneOf || s.items.anyOf)) {
      box.append(el('div', { class: 'note' }, 'items:'), schemaNode(s.items, depth + 1, seen));
    }
  }

  function propItem(name, p, required, depth, seen) {
    const li = el('li', null, el('span', { class: 'prop' }, name), ' ', required ? el('span', { class: 'req' }, 'required') : null);
    li.append(schemaNode(p, depth + 1, seen));
    return li;
  }

  // ---- operations ----

  function operations() {
    const ops = [];
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const m of METHODS) {
        const op = item && item[m];
        if (!op) continue;
        const id = op.operationId || (m + path).replace(/[^A-Za-z0-9_-]+/g, '-');
        const params = [...(item.parameters || []), ...(op.parameters || [])].map((p) => (p.$ref ? resolve(p.$ref) || p : p));
        ops.push({ path, method: m, op, id, params, tag: (op.tags && op.tags[0]) || 'other' });
      }
    }
    return ops;
  }

  function access(op) {
    const sec = op.security !== undefined ? op.security : doc.security;
    if (Array.isArray(sec) && sec.length === 0) return 'Open: no token needed.';
    return 'Needs a bearer token (when serve runs with --auth-file).';
  }

  function contentList(content) {
    const frag = document.createDocumentFragment();
    for (const [type, media] of Object.entries(content || {})) {
      frag.append(el('div', { class: 'ctype' }, type));
      if (media && media.schema) frag.append(schemaNode(media.schema, 0, new Set()));
      if (media && media.example !== undefined) frag.append(el('pre', null, el('code', null, JSON.stringify(media.example, null, 2))));
    }
    return frag;
  }

  function paramRows(params) {
    return el('table', null,
      el('thead', null, el('tr', null, el('th', null, 'Name'), el('th', null, 'In'), el('th', null, 'Type'), el('th', null, 'Description'))),
      el('tbody', null, params.map((p) => {
        const s = p.schema || {};
        const n = notes(s);
        if (p.example !== undefined) n.push('example ' + JSON.stringify(p.example));
        return el('tr', null,
          el('td', null, el('code', null, p.name), p.required ? [' ', el('span', { class: 'req' }, 'required')] : null),
          el('td', null, p.in),
          el('td', null, el('span', { class: 'type' }, typeOf(s))),
          el('td', null, markdown(p.description), n.length ? el('div', { class: 'note' }, n.join('; ')) : null));
      })));
  }

  function opNode(o) {
    const { op } = o;
    const sec = el('section', { class: 'op', id: o.id, 'data-method': o.method.toUpperCase(), 'data-path': o.path },
      el('h3', null,
        el('span', { class: 'method m-' + o.method }, o.method.toUpperCase()),
        el('span', { class: 'path' }, o.path),
        el('span', { class: 'summary' }, op.summary || ''),
        el('a', { class: 'anchor', href: '#' + o.id, title: 'Link to this operation' }, '#' + o.id)),
      el('p', { class: 'access' }, access(op), op.deprecated ? ' Deprecated.' : ''));
    if (op.description) sec.append(el('div', { class: 'desc' }, markdown(op.description)));
    if (o.params.length) sec.append(el('h4', null, 'Parameters'), paramRows(o.params));
    let body = op.requestBody;
    if (body && body.$ref) body = resolve(body.$ref) || body;
    if (body) {
      sec.append(el('h4', null, 'Request body', body.required ? [' ', el('span', { class: 'req' }, 'required')] : null));
      if (body.description) sec.append(markdown(body.description));
      sec.append(contentList(body.content));
    }
    const responses = Object.entries(op.responses || {});
    if (responses.length) {
      sec.append(el('h4', null, 'Responses'));
      const tbody = el('tbody');
      for (const [code, r0] of responses) {
        const r = r0 && r0.$ref ? resolve(r0.$ref) || r0 : r0 || {};
        const cell = el('td', null, markdown(r.description));
        if (r.headers && Object.keys(r.headers).length) {
          cell.append(el('div', { class: 'note' }, 'Headers: ', Object.keys(r.headers).map((h, i) => [i ? ', ' : '', el('code', null, h)])));
        }
        cell.append(contentList(r.content));
        tbody.append(el('tr', null, el('td', { class: 'status' }, code), cell));
      }
      sec.append(el('table', null, el('thead', null, el('tr', null, el('th', null, 'Status'), el('th', null, 'Description'))), tbody));
    }
    // What the search box matches: everything the operation says.
    o.text = [o.method, o.path, o.id, op.summary, op.description, (op.tags || []).join(' '),
      o.params.map((p) => p.name + ' ' + (p.description || '')).join(' ')].join(' ').toLowerCase();
    o.node = sec;
    return sec;
  }

  function render() {
    const info = doc.info || {};
    document.title = (info.title || 'API') + ' API reference';
    document.getElementById('title').textContent = (info.title || 'API') + ' API reference';
    document.getElementById('version').textContent = 'version ' + (info.version || '?') + ' · OpenAPI ' + (doc.openapi || '?') +
      (info.summary ? ' · ' + info.summary : '');
    const main = document.getElementById('content');
    main.replaceChildren();
    const intro = el('section', { class: 'intro', id: 'intro' });
    intro.append(el('details', null, el('summary', null, 'About this API'), markdown(info.description)));
    main.append(intro);

    const tagInfo = new Map((doc.tags || []).map((t) => [t.name, t]));
    const ops = operations();
    const byTag = new Map();
    for (const t of tagInfo.keys()) byTag.set(t, []);
    for (const o of ops) {
      if (!byTag.has(o.tag)) byTag.set(o.tag, []);
      byTag.get(o.tag).push(o);
    }
    const toc = document.getElementById('toc');
    toc.replaceChildren();
    const groups = [];
    for (const [tag, list] of byTag) {
      if (!list.length) continue;
      const t = tagInfo.get(tag) || {};
      const head = el('h2', { class: 'tag-title', id: 'tag-' + tag }, tag);
      const desc = t.description ? el('div', { class: 'tag-desc' }, markdown(t.description)) : null;
      main.append(head);
      if (desc) main.append(desc);
      const tocList = el('ul');
      const tocHead = el('h2', null, tag);
      toc.append(tocHead, tocList);
      for (const o of list) {
        main.append(opNode(o));
        o.tocItem = el('li', null, el('a', { href: '#' + o.id, title: o.method.toUpperCase() + ' ' + o.path + ' — ' + (o.op.summary || '') },
          el('span', { class: 'method m-' + o.method }, o.method.toUpperCase()), ' ', o.path));
        tocList.append(o.tocItem);
      }
      groups.push({ list, parts: [head, desc, tocHead, tocList].filter(Boolean) });
    }

    const schemas = (doc.components && doc.components.schemas) || {};
    if (Object.keys(schemas).length) {
      const head = el('h2', { class: 'tag-title', id: 'schemas' }, 'Schemas');
      main.append(head);
      const tocList = el('ul', null, el('li', null, el('a', { href: '#schemas' }, 'All schemas')));
      toc.append(el('h2', null, 'schemas'), tocList);
      for (const [name, s] of Object.entries(schemas)) {
        main.append(el('section', { class: 'op', id: 'schema-' + name },
          el('h3', null, el('span', { class: 'path' }, name),
            el('a', { class: 'anchor', href: '#schema-' + name, title: 'Link to this schema' }, '#' + name)),
          schemaNode(s, 1, new Set(['#/components/schemas/' + name]))));
      }
    }

    const search = document.getElementById('search');
    const count = document.getElementById('count');
    const filter = () => {
      const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const o of ops) {
        const hit = words.every((w) => o.text.includes(w));
        o.node.classList.toggle('hidden', !hit);
        o.tocItem.classList.toggle('hidden', !hit);
        if (hit) shown++;
      }
      for (const g of groups) {
        const any = g.list.some((o) => !o.node.classList.contains('hidden'));
        for (const p of g.parts) p.classList.toggle('hidden', !any);
      }
      count.textContent = words.length ? shown + ' of ' + ops.length + ' operations match' : ops.length + ' operations';
    };
    search.addEventListener('input', filter);
    filter();
    main.dataset.state = 'ready';
    main.dataset.operations = String(ops.length);

    // The page was empty when the browser looked for the #fragment.
    if (location.hash.length > 1) {
      const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target) target.scrollIntoView();
    }
  }

  async function load() {
    const main = document.getElementById('content');
    try {
      const resp = await fetch('openapi.json', { headers: { Accept: 'application/json' } });
      if (!resp.ok) throw new Error('GET /openapi.json answered ' + resp.status);
      doc = await resp.json();
      render();
    } catch (err) {
      main.dataset.state = 'error';
      main.replaceChildren(el('p', { class: 'error' }, 'Could not load the API description: ' + err.message));
    }
  }

  load();
})();
