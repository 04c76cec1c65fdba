// Streams a hall's chunks (one glb per room) in the manifest's order: the
// spawn chunk alone first so the first frame comes early, the rest two at a
// time.  Chunks can be swapped in place when a rebuild changes them.
import {
  ClampToEdgeWrapping, LinearFilter, LinearMipmapLinearFilter, LinearMipmapNearestFilter, MirroredRepeatWrapping,
  NearestFilter, NearestMipmapLinearFilter, NearestMipmapNearestFilter, RepeatWrapping, Texture,
} from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { MeshoptDecoder } from 'three/addons/libs/meshopt_decoder.module.js';
import { decodePicture, fetchGlb } from './glb.js';

const PARALLEL = 2;
const FILTERS = {
  9728: NearestFilter, 9729: LinearFilter, 9984: NearestMipmapNearestFilter, 9985: LinearMipmapNearestFilter,
  9986: NearestMipmapLinearFilter, 9987: LinearMipmapLinearFilter,
};
const WRAPS = { 33071: ClampToEdgeWrapping, 33648: MirroredRepeatWrapping, 10497: RepeatWrapping };
const MAPS = ['map', 'emissiveMap', 'normalMap', 'roughnessMap', 'metalnessMap', 'aoMap', 'alphaMap'];
const waiting = new WeakMap(); // texture Source -> [{material, key, texture}] held back until its image arrives

/**
 * A GLTFLoader plugin that does not make a chunk wait for its pictures: a
 * texture starts without an image and gets it once decoded (the loader may
 * clone textures, but clones share the Source, which is what we fill).
 * Geometry, what a first frame needs, is ready sooner; text panels show as
 * white boards for a moment.
 */
class DeferredTextures {
  constructor(parser, parts, pending) {
    this.name = 'halls_deferred_textures';
    this.parser = parser;
    this.parts = parts;
    this.pending = pending;
  }

  loadTexture(index) {
    const parser = this.parser;
    const json = parser.json;
    const def = json.textures[index];
    if (def.source === undefined || (def.extensions && Object.keys(def.extensions).length)) return null;
    const sampler = (json.samplers || [])[def.sampler] || {};
    const texture = new Texture();
    texture.flipY = false;
    texture.magFilter = FILTERS[sampler.magFilter] || LinearFilter;
    texture.minFilter = FILTERS[sampler.minFilter] || LinearMipmapLinearFilter;
    texture.wrapS = WRAPS[sampler.wrapS] || RepeatWrapping;
    texture.wrapT = WRAPS[sampler.wrapT] || RepeatWrapping;
    texture.generateMipmaps = texture.minFilter !== NearestFilter && texture.minFilter !== LinearFilter;
    const source = texture.source;
    waiting.set(source, []);
    const parts = this.parts;
    const image = json.images[def.source];
    const decoded = parts.partial
      ? parts.whenPictures.then(() => decodePicture(parts, json.bufferViews[image.bufferView], image.mimeType, parser.textureLoader))
      : parser.loadImageSource(def.source, parser.textureLoader).then((t) => t.image);
    this.pending.push(decoded.then((picture) => {
      source.data = picture;
      source.needsUpdate = true;
      const waiters = waiting.get(source) || [];
      waiting.delete(source);
      for (const { material, key, texture: used } of waiters) {
        used.needsUpdate = true;
        material[key] = used;
        material.needsUpdate = true;
      }
    }).catch(() => waiting.delete(source)));
    return Promise.resolve(texture);
  }
}

/** Take textures without their image yet off the materials; they come back when it arrives. */
function holdMaps(root) {
  root.traverse((node) => {
    if (!node.isMesh) return;
    for (const material of [].concat(node.material)) {
      for (const key of MAPS) {
        const texture = material[key];
        if (!texture || !waiting.has(texture.source)) continue;
        waiting.get(texture.source).push({ material, key, texture });
        material[key] = null;
        material.needsUpdate = true;
      }
    }
  });
}

export class ChunkStreamer {
  constructor(scene, { onProgress = () => {}, onChunk = () => {} } = {}) {
    this.scene = scene;
    this.onProgress = onProgress;
    this.onChunk = onChunk;
    this.pictures = [];
    this.drawn = new Promise((resolve) => { this.framed = resolve; }); // the viewer calls framed() after its first frame
    this.chunks = new Map(); // id -> {root, sha, bytes, meshes}
    this.files = new Map(); // object url -> () => Promise of the whole file (js/offline.js stores it after a visit)
    this.bytesLoaded = 0;
    this.bytesTotal = 0;
    this.done = 0;
    this.total = 0;
  }

  /** Load every chunk of `manifest` in streaming order; `first` may promise the first chunk's parts already fetched. */
  async loadAll(manifest, first = null) {
    const chunks = manifest.chunks.filter((chunk) => chunk.model);
    this.total = chunks.length;
    this.bytesTotal = chunks.reduce((sum, chunk) => sum + (chunk.model.size || 0), 0);
    this.report();
    if (!chunks.length) return;
    const early = first && await first;
    const usable = early && early.id === chunks[0].id && early.sha256 === chunks[0].model.sha256;
    await this.add(chunks[0], true, usable ? early : null);
    const queue = chunks.slice(1);
    const worker = async () => {
      while (queue.length) await this.add(queue.shift());
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    await Promise.all(this.pictures);
  }

  /** Fetch, parse and add one chunk; `fresh` false when it replaces a loaded one (live reload). */
  async add(chunk, fresh = true, early = null) {
    const count = (bytes) => { this.bytesLoaded += bytes; this.report(); };
    const parts = await fetchGlb(chunk.model.url, { early, onBytes: count });
    count(parts.earlyBytes);
    performance.mark(`halls:fetched:${chunk.id}`);
    const loader = new GLTFLoader();
    loader.setMeshoptDecoder(MeshoptDecoder);
    loader.register((parser) => new DeferredTextures(parser, parts, this.pictures));
    const gltf = await loader.parseAsync(parts.glb, '');
    performance.mark(`halls:parsed:${chunk.id}`);
    const root = gltf.scene;
    holdMaps(root);
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
    this.chunks.set(chunk.id, { root, sha: chunk.model.sha256, size: chunk.model.size, meshes });
    if (fresh) this.done += 1;
    this.report();
    this.onChunk(chunk, root);
    const pictures = this.drawn.then(() => parts.fetchPictures()); // pictures once a frame with the geometry is on screen
    this.files.set(new URL(chunk.model.url, location.href).href, () => pictures.then(() => parts.whole()));
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

  report() {
    this.onProgress({ done: this.done, total: this.total, bytes: this.bytesLoaded, bytesTotal: this.bytesTotal });
  }

  /** Meshes drawing a picture (text panels, images) now. */
  get texturedCount() {
    let count = 0;
    for (const entry of this.chunks.values()) {
      for (const mesh of entry.meshes) if ([].concat(mesh.material).some((m) => m.map && m.map.image)) count += 1;
    }
    return count;
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
