// What the service worker (/sw.js) and the pages (js/offline.js) agree on: cache names, the
// files a viewer needs before any hall, and which manifest variant the viewer reads.
// Bump a name's version when what it holds changes shape; objects are named by their hash and
// never need it (bumping `objects` would throw away every hall a member kept).

export const CACHES = Object.freeze({
  shell: 'halls-shell-v1', // pages, /js, /css, icons, the web app manifest
  data: 'halls-data-v1', // the catalog and the manifests of halls whose objects are all stored
  objects: 'halls-objects-v1', // /objects/<sha256>.<ext>, whole files
  vendor: 'halls-vendor-three-0.187.0', // /vendor/three/: its version, checked against node_modules by a test
});

/** The manifest variant the viewer streams (viewer.html's prefetch and api.js ask for it too). */
export const VARIANT = 'meshopt';
export const manifestPath = (hallId) => `/api/halls/${encodeURIComponent(hallId)}?variant=${VARIANT}`;
export const planPath = (hallId) => `/api/halls/${encodeURIComponent(hallId)}/plan?variant=${VARIANT}`;
export const OBJECT_PATH = /^\/objects\/([0-9a-f]{64})\.[a-z0-9.]+$/;

/** Stored at install: every page needs them, and a first visit fetched them before the worker ran. */
export const SHELL_FILES = Object.freeze([
  '/', '/manifest.webmanifest', '/css/halls.css', '/icons/icon.svg', '/icons/icon-192.png', '/icons/icon-512.png',
  '/js/api.js', '/js/avatars.js', '/js/catalog.js', '/js/contract.js', '/js/coords.js', '/js/dom.js',
  '/js/exhibits.js', '/js/glb.js', '/js/i18n.js', '/js/input.js', '/js/offline-caches.js', '/js/offline.js',
  '/js/presence.js', '/js/quiz.js', '/js/rooms.js', '/js/settings.js', '/js/signin.js', '/js/stream.js',
  '/js/tour.js', '/js/viewer.js', '/js/walls.js', '/js/xr.js', '/js/xrpanel.js',
]);

/** three.js as the viewer imports it (viewer.html's modulepreload list; a test keeps the two alike). */
export const VENDOR_FILES = Object.freeze([
  '/vendor/three/build/three.module.js', '/vendor/three/build/three.core.js',
  '/vendor/three/examples/jsm/loaders/GLTFLoader.js', '/vendor/three/examples/jsm/utils/BufferGeometryUtils.js',
  '/vendor/three/examples/jsm/utils/SkeletonUtils.js', '/vendor/three/examples/jsm/libs/meshopt_decoder.module.js',
]);
