// Streams a hall's chunks (one glb per room) in the manifest's order: the
// spawn chunk alone first so the first frame comes early, the rest two at a
// time.  Chunks can be swapped in place when a rebuild changes them.
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { MeshoptDecoder } from 'three/addons/libs/meshopt_decoder.module.js';

const PARALLEL = 2;

export class ChunkStreamer {
  constructor(scene, { onProgress = () => {}, onChunk = () => {} } = {}) {
    this.scene = scene;
    this.onProgress = onProgress;
    this.onChunk = onChunk;
    this.loader = new GLTFLoader();
    this.loader.setMeshoptDecoder(MeshoptDecoder);
    this.chunks = new Map(); // id -> {root, sha, bytes, meshes}
    this.bytesLoaded = 0;
    this.bytesTotal = 0;
    this.done = 0;
    this.total = 0;
  }

  /** Load every chunk of `manifest` in streaming order; resolves when all are in. */
  async loadAll(manifest) {
    const chunks = manifest.chunks.filter((chunk) => chunk.model);
    this.total = chunks.length;
    this.bytesTotal = chunks.reduce((sum, chunk) => sum + (chunk.model.size || 0), 0);
    this.report();
    if (!chunks.length) return;
    await this.add(chunks[0]);
    const queue = chunks.slice(1);
    const worker = async () => {
      while (queue.length) await this.add(queue.shift());
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
  }

  /** Fetch, parse and add one chunk; `fresh` false when it replaces a loaded one (live reload). */
  async add(chunk, fresh = true) {
    const buffer = await this.fetchBytes(chunk.model.url, chunk.model.size);
    const gltf = await this.loader.parseAsync(buffer, '');
    const root = gltf.scene;
    root.name = `chunk:${chunk.id}`;
    const meshes = [];
    root.traverse((node) => {
      node.userData.chunk = chunk.id;
      if (node.isMesh) meshes.push(node);
    });
    root.updateMatrixWorld(true);
    root.traverse((node) => { node.matrixAutoUpdate = false; }); // static scenery
    this.remove(chunk.id, false);
    this.scene.add(root);
    this.chunks.set(chunk.id, { root, sha: chunk.model.sha256, bytes: buffer.byteLength, meshes });
    if (fresh) this.done += 1;
    this.report();
    this.onChunk(chunk, root);
    return root;
  }

  /** Take a chunk out of the scene and free its GPU memory. */
  remove(id, report = true) {
    const entry = this.chunks.get(id);
    if (!entry) return;
    this.scene.remove(entry.root);
    entry.root.traverse((node) => {
      if (!node.isMesh) return;
      node.geometry.dispose();
      for (const material of [].concat(node.material)) {
        for (const value of Object.values(material)) if (value && value.isTexture) value.dispose();
        material.dispose();
      }
    });
    this.chunks.delete(id);
    if (report) this.report();
  }

  async fetchBytes(url, expected = 0) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    if (!response.body || !response.body.getReader) {
      const buffer = await response.arrayBuffer();
      this.bytesLoaded += buffer.byteLength;
      this.report();
      return buffer;
    }
    const reader = response.body.getReader();
    const parts = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.byteLength;
      this.bytesLoaded += value.byteLength;
      this.report();
    }
    const bytes = new Uint8Array(size || expected);
    let offset = 0;
    for (const part of parts) { bytes.set(part, offset); offset += part.byteLength; }
    return bytes.buffer;
  }

  report() {
    this.onProgress({ done: this.done, total: this.total, bytes: this.bytesLoaded, bytesTotal: this.bytesTotal });
  }

  get meshCount() {
    let count = 0;
    for (const entry of this.chunks.values()) count += entry.meshes.length;
    return count;
  }

  /** Chunk roots (for raycasts). */
  roots() {
    return [...this.chunks.values()].map((entry) => entry.root);
  }
}
