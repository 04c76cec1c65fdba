// A glb fetched in parts with HTTP ranges: the JSON and the geometry first
// (all a first frame needs: a few per cent of a chunk whose bulk is text
// panel pictures), the pictures later.  A server that ignores ranges sends
// the whole file, which works as well.  No three.js here: the viewer page's
// prefetch uses it before three.js has arrived.

export const HEAD_BYTES = 32768;
const GLB_MAGIC = 0x46546c67; // 'glTF'
const JSON_CHUNK = 0x4e4f534a;

async function range(url, first, last) {
  const response = await fetch(url, { headers: { Range: `bytes=${first}-${last}` } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return { status: response.status, bytes: await response.arrayBuffer() };
}

/**
 * Fetch the parts of the glb at `url` that a parse needs.  Returns {glb: ArrayBuffer to parse, partial: whether
 * pictures are still missing, fetchPictures(): Promise filling them in, binStart, bytes: the whole file as far
 * as fetched, fetched: byte count so far, onBytes: called with each further count (settable)}.
 */
export async function fetchGlb(url, { onBytes = () => {} } = {}) {
  const parts = { partial: false, fetched: 0, onBytes, fetchPictures: () => Promise.resolve() };
  const get = async (first, last) => {
    const got = await range(url, first, last);
    parts.fetched += got.bytes.byteLength;
    parts.onBytes(got.bytes.byteLength);
    return got;
  };
  const head = await get(0, HEAD_BYTES - 1);
  if (head.status !== 206) return Object.assign(parts, { glb: head.bytes });
  let start = new Uint8Array(head.bytes);
  const view = new DataView(head.bytes);
  if (view.getUint32(0, true) !== GLB_MAGIC || view.getUint32(16, true) !== JSON_CHUNK) {
    throw new Error(`${url}: not a binary glTF`);
  }
  const total = view.getUint32(8, true);
  const jsonEnd = 20 + view.getUint32(12, true);
  if (jsonEnd + 8 > start.byteLength && total > start.byteLength) { // a JSON bigger than the head
    start = concat(start, new Uint8Array((await get(start.byteLength, Math.min(total, jsonEnd + 8) - 1)).bytes));
  }
  if (total <= start.byteLength) return Object.assign(parts, { glb: start.buffer.slice(0, total) });
  const json = JSON.parse(new TextDecoder().decode(start.subarray(20, jsonEnd)));
  const binStart = jsonEnd + 8;
  const spans = layout(json);
  if (!spans) { // pictures the viewer cannot fill in later: fetch everything now
    const rest = await get(start.byteLength, total - 1);
    return Object.assign(parts, { glb: concat(start, new Uint8Array(rest.bytes)).buffer });
  }
  const bytes = new Uint8Array(total);
  bytes.set(start);
  const have = start.byteLength; // bytes [0, have) are in
  const fill = async (first, end) => { // [first, end) of the file; what the head brought is not fetched again
    first = Math.max(first, have);
    if (end > first) bytes.set(new Uint8Array((await get(first, end - 1)).bytes), first);
  };
  if (spans.geometry) await fill(binStart + spans.geometry[0], binStart + spans.geometry[1]);
  let pictures = null;
  return Object.assign(parts, {
    glb: bytes.buffer,
    binStart,
    bytes,
    partial: Boolean(spans.pictures),
    fetchPictures() {
      if (!pictures) pictures = spans.pictures ? fill(binStart + spans.pictures[0], binStart + spans.pictures[1]) : Promise.resolve();
      return pictures;
    },
  });
}

/**
 * Byte spans of the GLB's own buffer (index 0): {geometry: [start, end], pictures: [start, end] | null},
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
  const geometry = [Infinity, -Infinity];
  const picture = [Infinity, -Infinity];
  (json.bufferViews || []).forEach((bufferView, index) => {
    const packed = bufferView.extensions && bufferView.extensions.EXT_meshopt_compression;
    const source = packed || bufferView;
    if (source.buffer !== 0 || json.buffers[0].uri !== undefined) return;
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

function concat(a, b) {
  const joined = new Uint8Array(a.byteLength + b.byteLength);
  joined.set(a, 0);
  joined.set(b, a.byteLength);
  return joined;
}
