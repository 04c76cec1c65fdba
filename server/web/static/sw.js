// The viewer's service worker: a hall visited or kept once opens and can be walked when the
// training room's Wi-Fi drops.
//
//   /objects/<sha256>.<ext>   cache first (immutable, named by hash); a Range request is cut from the stored file
//   /vendor/three/...         cache first (the cache name carries three's version)
//   pages, /js, /css, icons   network first, else the stored copy
//   /api/halls, manifests     network first, else the stored copy
//
// The worker writes the shell, three.js and the catalog.  Objects and manifests are written by the
// pages (js/offline.js), which hold whole files and check their hashes: a manifest is stored only
// once every object it names is, so a stored hall is a whole hall.
import { CACHES, OBJECT_PATH, SHELL_FILES, VENDOR_FILES } from './js/offline-caches.js';

const WAIT_MS = 4000; // a page or manifest slower than this, with a stored copy at hand, comes from the cache

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    await (await caches.open(CACHES.shell)).addAll(SHELL_FILES);
    await (await caches.open(CACHES.vendor)).addAll(VENDOR_FILES);
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const current = new Set(Object.values(CACHES));
    for (const name of await caches.keys()) {
      if (name.startsWith('halls-') && !current.has(name)) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (OBJECT_PATH.test(path)) {
    event.respondWith(fromObjects(request));
  } else if (path.startsWith('/vendor/three/')) {
    event.respondWith(cacheFirst(CACHES.vendor, request));
  } else if (request.mode === 'navigate' || path === '/' || /^\/halls\/[^/]+$/.test(path)) {
    event.respondWith(networkFirst(CACHES.shell, request, url.origin + path, { wait: true })); // ?name= aside
  } else if (/^\/(js|css|icons)\//.test(path) || path === '/manifest.webmanifest') {
    event.respondWith(networkFirst(CACHES.shell, request, request.url));
  } else if (path === '/api/halls') {
    event.respondWith(networkFirst(CACHES.data, request, request.url, { wait: true }));
  } else if (/^\/api\/halls\/[^/]+$/.test(path)) {
    event.respondWith(networkFirst(CACHES.data, request, request.url, { wait: true, store: false }));
  }
});

/** The network's answer (stored when `store`), else the stored copy; with `wait`, the copy when the network is slow. */
async function networkFirst(name, request, key, { wait = false, store = true } = {}) {
  const cache = await caches.open(name);
  const network = fetch(request).then((response) => {
    if (store && response.ok && response.status === 200 && !response.redirected) {
      cache.put(key, response.clone()).catch(() => {});
    }
    return response;
  });
  const stored = () => cache.match(key, { ignoreVary: true });
  try {
    if (!wait) return await network;
    const copy = await stored();
    if (!copy) return await network;
    let timer;
    const slow = new Promise((resolve) => { timer = setTimeout(() => resolve(copy), WAIT_MS); });
    network.catch(() => {});
    return await Promise.race([network, slow]).finally(() => clearTimeout(timer));
  } catch (error) {
    const copy = await stored();
    if (copy) return copy;
    throw error;
  }
}

async function cacheFirst(name, request) {
  const cache = await caches.open(name);
  const copy = await cache.match(request, { ignoreVary: true });
  if (copy) return copy;
  const response = await fetch(request);
  if (response.status === 200) await cache.put(request, response.clone());
  return response;
}

/** A stored object (all of it, or the part a Range header asks for); the network when it is not stored. */
async function fromObjects(request) {
  const cache = await caches.open(CACHES.objects);
  const copy = await cache.match(request.url, { ignoreVary: true });
  if (!copy) return fetch(request);
  const range = request.headers.get('Range');
  if (!range) return copy;
  const body = await copy.blob();
  const span = byteRange(range, body.size);
  if (!span) return new Response(null, { status: 416, headers: { 'Content-Range': `bytes */${body.size}` } });
  const [first, last] = span;
  return new Response(body.slice(first, last + 1), {
    status: 206,
    headers: {
      'Content-Type': copy.headers.get('Content-Type') || 'application/octet-stream',
      'Content-Range': `bytes ${first}-${last}/${body.size}`,
      'Content-Length': String(last - first + 1),
    },
  });
}

/** [first, last] of one `bytes=a-b`, `bytes=a-` or `bytes=-n` range within `size` bytes, or null. */
function byteRange(header, size) {
  const found = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!found || (found[1] === '' && found[2] === '')) return null;
  let first;
  let last;
  if (found[1] === '') {
    first = Math.max(0, size - Number(found[2]));
    last = size - 1;
  } else {
    first = Number(found[1]);
    last = found[2] === '' ? size - 1 : Math.min(Number(found[2]), size - 1);
  }
  return first <= last && first < size ? [first, last] : null;
}
