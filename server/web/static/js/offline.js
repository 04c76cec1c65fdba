// Halls on this device: the service worker's registration, the online/offline badge, and the
// objects and manifests the pages store for it (/sw.js only reads them).
//
// A hall is stored when its manifest is in the data cache; its manifest goes in only after every
// object it names, each checked against its hash.  A visit stores the hall the viewer just loaded;
// "keep for offline" downloads one ahead (in plan order) and is remembered here, so a new build
// replaces what changed.  Objects that no stored manifest names are evicted.
import { CACHES, manifestPath, OBJECT_PATH, planPath } from './offline-caches.js';
import { onLangChange, t } from './i18n.js';

const KEPT_KEY = 'halls.offline.kept';
const LOCK = 'halls-offline';
const MARGIN_BYTES = 1 << 20; // left free after a download, for the manifest and the browser's own books
const TYPES = { glb: 'model/gltf-binary', png: 'image/png', jpg: 'image/jpeg', webp: 'image/webp' };

export const supported = () => 'caches' in self && 'serviceWorker' in navigator;

/** Register /sw.js (scope /); quietly nothing where the page is not a secure context. */
export function registerWorker() {
  if (!('serviceWorker' in navigator)) return Promise.resolve(null);
  return navigator.serviceWorker.register('/sw.js', { type: 'module', scope: '/' }).catch((error) => {
    console.warn('service worker not registered:', error.message);
    return null;
  });
}

/** Keep `node` saying 在线 / 离线 (Online / Offline) as the network comes and goes; `onChange(online)` too. */
export function networkBadge(node, onChange = () => {}) {
  const show = () => {
    const online = navigator.onLine;
    node.textContent = t(online ? 'netOnline' : 'netOffline');
    node.classList.toggle('offline', !online);
    node.dataset.online = String(online);
    onChange(online);
  };
  addEventListener('online', show);
  addEventListener('offline', show);
  onLangChange(show);
  show();
}

// --- what is kept -----------------------------------------------------------

export function keptHalls() {
  try { return JSON.parse(localStorage.getItem(KEPT_KEY)) || {}; } catch { return {}; }
}

function setKept(hallId, value) {
  const kept = keptHalls();
  if (value) kept[hallId] = value;
  else delete kept[hallId];
  try { localStorage.setItem(KEPT_KEY, JSON.stringify(kept)); } catch { /* storage blocked */ }
}

/** Whole objects a manifest names: [{url, sha256, size}] (chunk models of the viewer's variant, the thumbnail). */
export function objectsOf(manifest) {
  const found = new Map();
  for (const chunk of manifest.chunks || []) {
    if (chunk.model && chunk.model.url) found.set(absolute(chunk.model.url), chunk.model);
  }
  const thumb = manifest.thumbnail;
  if (thumb && thumb.name && thumb.sha256) found.set(absolute(`/objects/${thumb.name}`), thumb);
  return [...found].filter(([url]) => OBJECT_PATH.test(new URL(url).pathname))
    .map(([url, o]) => ({ url, sha256: o.sha256, size: o.size || 0 }));
}

const absolute = (url) => new URL(url, location.origin).href;

/** The stored manifest of a hall, or null. */
export async function storedManifest(hallId) {
  if (!supported()) return null;
  const response = await (await caches.open(CACHES.data)).match(manifestPath(hallId), { ignoreVary: true });
  return response ? response.json() : null;
}

/**
 * What this device holds: {halls: {id: {kept, complete, bytes}}, bytes (all objects stored),
 * usage, quota (navigator.storage.estimate()), persisted}.
 */
export async function storageReport() {
  const report = { halls: {}, bytes: 0, usage: null, quota: null, persisted: null };
  if (!supported()) return report;
  const present = await storedObjects();
  const sizes = new Map();
  const kept = keptHalls();
  const data = await caches.open(CACHES.data);
  for (const request of await data.keys()) {
    const hallId = hallOfManifest(request.url);
    if (!hallId) continue;
    const manifest = await (await data.match(request, { ignoreVary: true })).json();
    const objects = objectsOf(manifest);
    for (const o of objects) sizes.set(o.url, o.size);
    report.halls[hallId] = { kept: Boolean(kept[hallId]), complete: objects.every((o) => present.has(o.url)),
      bytes: objects.filter((o) => present.has(o.url)).reduce((sum, o) => sum + o.size, 0) };
  }
  for (const hallId of Object.keys(kept)) {
    report.halls[hallId] = report.halls[hallId] || { kept: true, complete: false, bytes: 0 };
  }
  for (const url of present) report.bytes += sizes.get(url) || 0;
  if (navigator.storage && navigator.storage.estimate) Object.assign(report, pickEstimate(await navigator.storage.estimate()));
  if (navigator.storage && navigator.storage.persisted) report.persisted = await navigator.storage.persisted();
  return report;
}

const pickEstimate = ({ usage, quota }) => ({ usage, quota });

function hallOfManifest(url) {
  const found = /^\/api\/halls\/([^/?]+)$/.exec(new URL(url).pathname);
  return found ? decodeURIComponent(found[1]) : null;
}

async function storedObjects() {
  const cache = await caches.open(CACHES.objects);
  return new Set((await cache.keys()).map((request) => request.url));
}

// --- storing ------------------------------------------------------------------

/** Store one whole object after checking it is the file its name promises. */
export async function storeObject(url, sha256, bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const hex = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (hex !== sha256) throw new Error(`${url}: the bytes do not match their hash`);
  const ext = new URL(url, location.origin).pathname.split('.').pop();
  const headers = { 'Content-Type': TYPES[ext] || 'application/octet-stream', 'Content-Length': String(bytes.byteLength) };
  await (await caches.open(CACHES.objects)).put(absolute(url), new Response(bytes, { headers }));
}

async function putManifest(hallId, manifest) {
  const body = JSON.stringify(manifest);
  await (await caches.open(CACHES.data)).put(absolute(manifestPath(hallId)),
    new Response(body, { headers: { 'Content-Type': 'application/json' } }));
}

/** The hall's page and the catalog, unless stored (a first visit loads them before the worker runs). */
async function putPage(hallId) {
  const shell = await caches.open(CACHES.shell);
  const page = absolute(`/halls/${encodeURIComponent(hallId)}`);
  if (!(await shell.match(page))) await shell.add(page).catch(() => {}); // offline: it came from the cache
  const data = await caches.open(CACHES.data);
  if (!(await data.match(absolute('/api/halls'), { ignoreVary: true }))) await data.add('/api/halls').catch(() => {});
}

/** Run `work` while no eviction may run (eviction skips its turn while any page stores). */
function storing(work) {
  return navigator.locks ? navigator.locks.request(LOCK, { mode: 'shared' }, work) : work();
}

/**
 * After a visit: the viewer loaded `manifest` and hands over `files` (url -> () => Promise of the whole bytes).
 * Objects go in, then the manifest and the page, then what no stored hall names goes out.
 */
export async function rememberVisit(hallId, manifest, files) {
  if (!supported()) return;
  await storing(async () => {
    const present = await storedObjects();
    for (const o of objectsOf(manifest)) {
      if (present.has(o.url)) continue;
      const whole = files.get(o.url); // () => Promise of the bytes (js/stream.js)
      const bytes = whole && await whole();
      if (!bytes) return; // a chunk was not fetched whole (a failed picture): the hall is not stored this time
      await storeObject(o.url, o.sha256, bytes);
    }
    await putManifest(hallId, manifest);
    await putPage(hallId);
  });
  await evictUnused();
}

/**
 * Download a hall ahead: its manifest, then every object (in plan order) not stored yet.
 * `onProgress({done, total, bytes, bytesTotal})`.  Refuses with an Error (`.code = 'quota'`, `.need`, `.free`)
 * before fetching anything when the objects would not fit.
 */
export async function keepHall(hallId, { onProgress = () => {} } = {}) {
  const manifest = await getJSON(manifestPath(hallId));
  const order = await getJSON(planPath(hallId)).then((plan) => plan.chunks.map((c) => c.id)).catch(() => []);
  const rank = (url) => {
    const chunk = manifest.chunks.find((c) => c.model && absolute(c.model.url) === url);
    const at = chunk ? order.indexOf(chunk.id) : -1;
    return at < 0 ? order.length + 1 : at;
  };
  const present = await storedObjects();
  const wanted = objectsOf(manifest).filter((o) => !present.has(o.url)).sort((a, b) => rank(a.url) - rank(b.url));
  const need = wanted.reduce((sum, o) => sum + o.size, 0);
  const space = await freeSpace();
  if (space !== null && need + MARGIN_BYTES > space) {
    throw Object.assign(new Error('quota'), { code: 'quota', need, free: Math.max(0, space - MARGIN_BYTES) });
  }
  if (navigator.storage && navigator.storage.persist) await navigator.storage.persist().catch(() => false);
  setKept(hallId, { since: new Date().toISOString() });
  const progress = { done: 0, total: wanted.length, bytes: 0, bytesTotal: need };
  onProgress(progress);
  await storing(async () => {
    for (const o of wanted) {
      const bytes = await fetchBytes(o.url, (n) => { progress.bytes += n; onProgress(progress); });
      await storeObject(o.url, o.sha256, bytes);
      progress.done += 1;
      onProgress(progress);
    }
    await putManifest(hallId, manifest);
    await putPage(hallId);
  });
  await evictUnused();
  return manifest;
}

/** Kept halls whose build moved: fetch what changed. Returns the ids brought up to date. */
export async function refreshKept({ onProgress = () => {} } = {}) {
  const updated = [];
  for (const hallId of Object.keys(keptHalls())) {
    const stored = await storedManifest(hallId);
    const current = await getJSON(manifestPath(hallId)).catch(() => null);
    if (!current) continue;
    const key = (m) => (m ? JSON.stringify(objectsOf(m).map((o) => o.url)) : '');
    if (stored && key(stored) === key(current) && JSON.stringify(stored) === JSON.stringify(current)) continue;
    await keepHall(hallId, { onProgress: (p) => onProgress(hallId, p) });
    updated.push(hallId);
  }
  return updated;
}

/** Forget a hall on this device: its manifest, page and the objects no other stored hall names. */
export async function removeHall(hallId) {
  setKept(hallId, null);
  if (!supported()) return;
  await (await caches.open(CACHES.data)).delete(absolute(manifestPath(hallId)), { ignoreVary: true });
  await (await caches.open(CACHES.shell)).delete(absolute(`/halls/${encodeURIComponent(hallId)}`));
  await evictUnused();
}

/** Delete objects no stored manifest names; skipped (returns null) while a page is storing. */
export async function evictUnused() {
  if (!supported()) return null;
  const run = async (lock) => {
    if (lock === null) return null;
    const data = await caches.open(CACHES.data);
    const named = new Set();
    for (const request of await data.keys()) {
      if (!hallOfManifest(request.url)) continue;
      for (const o of objectsOf(await (await data.match(request, { ignoreVary: true })).json())) named.add(o.url);
    }
    const objects = await caches.open(CACHES.objects);
    const evicted = [];
    for (const request of await objects.keys()) {
      if (named.has(request.url)) continue;
      await objects.delete(request);
      evicted.push(request.url);
    }
    return evicted;
  };
  return navigator.locks ? navigator.locks.request(LOCK, { ifAvailable: true }, run) : run(true);
}

/** Bytes the browser still lets this site store, or null when it does not say. */
export async function freeSpace() {
  if (!navigator.storage || !navigator.storage.estimate) return null;
  const { usage = 0, quota } = await navigator.storage.estimate();
  return typeof quota === 'number' ? quota - usage : null;
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-cache' });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

/** A whole file, counting bytes as they arrive. */
async function fetchBytes(url, onBytes) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  const reader = response.body.getReader();
  const parts = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    length += value.byteLength;
    onBytes(value.byteLength);
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const part of parts) { bytes.set(part, at); at += part.byteLength; }
  return bytes;
}
