// A glb fetched in parts with HTTP ranges: the JSON and the geometry first
// (all a first frame needs: a few per cent of a chunk whose bulk is text
// panel pictures), the pictures once that frame is drawn.  gltfpack puts the
// pictures first and the geometry last, so a head and a tail range usually
// bring everything a first frame needs in one round trip; the viewer page
// starts those two before three.js has even arrived (viewer.html).  A server
// that ignores ranges sends the whole file, which works as well.

export const HEAD_BYTES = 32768;
export const TAIL_BYTES = 32768;
const GLB_MAGIC = 0x46546c67; // 'glTF'
const JSON_CHUNK = 0x4e4f534a;

/** One range request: {status, start, bytes, total}. */
export async function fetchRange(url, spec) {
  const response = await fetch(url, { headers: { Range: `bytes=${spec}` }, priority: 'high' });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  const bytes = await response.arrayBuffer();
  const found = /bytes (\d+)-\d+\/(\d+)/.exec(response.headers.get('Content-Range') || '');
  return response.status === 206 && found
    ? { status: 206, start: Number(found[1]), total: Number(found[2]), bytes }
    : { status: response.status, start: 0, total: bytes.byteLength, bytes };
}

/**
 * Fetch what a parse of the glb at `url` needs; `early` may hold {head, tail} ranges fetched before.
 * Returns {glb: ArrayBuffer to parse, partial: pictures still missing, whenPictures: Promise resolved once they
 * are in, fetchPictures(): starts fetching them, binStart, bytes: the file as far as fetched,
 * fetched: bytes fetched so far, earlyBytes: how many of them came in `early`, onBytes: called with each count
 * fetched here, whole(): the whole file as a Uint8Array (fetching any bytes still missing)}.
 */
export async function fetchGlb(url, { early = null, onBytes = () => {} } = {}) {
  let release;
  const parts = {
    partial: false, fetched: 0, earlyBytes: 0, onBytes,
    whenPictures: new Promise((resolve) => { release = resolve; }),
    fetchPictures: () => { release(); return parts.whenPictures; },
  };
  const pieces = []; // [start, Uint8Array] fetched so far
  const take = (got, before = false) => {
    parts.fetched += got.bytes.byteLength;
    if (before) parts.earlyBytes += got.bytes.byteLength;
    pieces.push([got.start, new Uint8Array(got.bytes)]);
    return got;
  };
  const get = async (spec) => {
    const got = take(await fetchRange(url, spec));
    parts.onBytes(got.bytes.byteLength);
    return got;
  };
  const head = early && early.head ? take(early.head, true) : await get(`0-${HEAD_BYTES - 1}`);
  if (head.status !== 206) return Object.assign(parts, { glb: head.bytes, whole: async () => new Uint8Array(head.bytes) });
  if (early && early.tail && early.tail.status === 206) take(early.tail, true);
  const total = head.total;
  const covered = (first, end) => missing(pieces, first, end).length === 0;
  const fill = async (first, end) => {
    for (const [a, b] of missing(pieces, first, end)) await get(`${a}-${b - 1}`);
  };
  // The whole file, for keeping offline (js/offline.js): what is still missing after the pictures is padding.
  parts.whole = async () => {
    await fill(0, total);
    return assemble(pieces, total);
  };
  const view = new DataView(head.bytes);
  if (view.getUint32(0, true) !== GLB_MAGIC || view.getUint32(16, true) !== JSON_CHUNK) {
    throw new Error(`${url}: not a binary glTF`);
  }
  const jsonEnd = 20 + view.getUint32(12, true);
  await fill(0, Math.min(total, jsonEnd + 8));
  let bytes = assemble(pieces, total);
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(20, jsonEnd)));
  const binStart = jsonEnd + 8;
  const spans = layout(json);
  const whole = async () => {
    await fill(0, total);
    return Object.assign(parts, { glb: assemble(pieces, total).buffer, partial: false });
  };
  if (!spans || !spans.pictures) return whole(); // nothing to put off (or pictures we cannot fill in later)
  if (spans.geometry) await fill(binStart + spans.geometry[0], binStart + spans.geometry[1]);
  bytes = assemble(pieces, total);
  const pictures = [binStart + spans.pictures[0], binStart + spans.pictures[1]];
  let fetching = null;
  return Object.assign(parts, {
    glb: bytes.buffer,
    binStart,
    bytes,
    partial: !covered(...pictures),
    fetchPictures() {
      fetching = fetching || fill(...pictures).then(() => {
        bytes.set(assemble(pieces, total).subarray(pictures[0], pictures[1]), pictures[0]);
      }).finally(release); // a failed fetch leaves blank pictures, not a hall that never finishes loading
      return parts.whenPictures;
    },
  });
}

/** Parts of [first, end) that no piece covers, as [start, end) pairs. */
function missing(pieces, first, end) {
  let gaps = [[first, end]];
  for (const [start, piece] of pieces) {
    const stop = start + piece.byteLength;
    gaps = gaps.flatMap(([a, b]) => (stop <= a || start >= b ? [[a, b]]
      : [[a, Math.max(a, start)], [Math.min(b, stop), b]].filter(([x, y]) => y > x)));
  }
  return gaps;
}

function assemble(pieces, total) {
  const bytes = new Uint8Array(total);
  for (const [start, piece] of pieces) bytes.set(piece.subarray(0, Math.max(0, total - start)), start);
  return bytes;
}

/**
 * Byte spans in the GLB's own buffer (index 0): {geometry: [start, end] | null, pictures: [start, end] | null},
 * or null when an image lives elsewhere or a texture uses an extension (then everything is fetched at once).
 */
function layout(json) {
  const pictures = new Set();
  for (const image of json.images || []) {
    if (image.bufferView === undefined) return null;
    pictures.add(image.bufferView);
  }
  for (const texture of json.textures || []) {
    if (texture.extensions && Object.keys(texture.extensions).length) return null;
  }
  if (!json.buffers || !json.buffers.length || json.buffers[0].uri !== undefined) return null;
  const geometry = [Infinity, -Infinity];
  const picture = [Infinity, -Infinity];
  (json.bufferViews || []).forEach((bufferView, index) => {
    const packed = bufferView.extensions && bufferView.extensions.EXT_meshopt_compression;
    const source = packed || bufferView;
    if (source.buffer !== 0) return;
    const first = source.byteOffset || 0;
    const span = pictures.has(index) ? picture : geometry;
    span[0] = Math.min(span[0], first);
    span[1] = Math.max(span[1], first + source.byteLength);
  });
  return {
    geometry: geometry[0] < geometry[1] ? geometry : null,
    pictures: picture[0] < picture[1] ? picture : null,
  };
}

/** Decode the image of `bufferView` from fetched glb bytes with a three.js image loader. */
export function decodePicture(parts, bufferView, mimeType, loader) {
  const first = parts.binStart + (bufferView.byteOffset || 0);
  const blob = new Blob([parts.bytes.subarray(first, first + bufferView.byteLength)], { type: mimeType || 'image/png' });
  const url = URL.createObjectURL(blob);
  return new Promise((resolve, reject) => {
    loader.load(url, (result) => {
      URL.revokeObjectURL(url);
      resolve(result && result.isTexture ? result.image : result);
    }, undefined, (error) => {
      URL.revokeObjectURL(url);
      reject(error);
    });
  });
}
