// Other members as simple figures with a name label, eased toward their latest pose.
import {
  BoxGeometry, CanvasTexture, Color, CylinderGeometry, Euler, Float32BufferAttribute, Group, Mesh,
  MeshLambertMaterial, SphereGeometry, Sprite, SpriteMaterial, SRGBColorSpace, Vector3,
} from 'three';
import { mergeGeometries } from 'three/addons/utils/BufferGeometryUtils.js';
import { FLAG_TRAINER } from './contract.js';
import { quaternionToThree, toThree } from './coords.js';

const COLOURS = ['#c0392b', '#2e86c1', '#27ae60', '#8e44ad', '#d35400', '#16a085', '#7f8c8d', '#2c3e50'];
const TRAINER = '#d4a017';
const LABEL_DISTANCE = 12; // metres: farther names are not drawn
const MAX_LABELS = 16; // nearest names drawn at once (each is a draw call)
const MATERIAL = new MeshLambertMaterial({ vertexColors: true });
const figures = new Map(); // colour -> one merged geometry (body, head, visor): one draw call per avatar
const euler = new Euler(0, 0, 0, 'YXZ');
const eye = new Vector3();

function painted(geometry, colour) {
  const c = new Color(colour);
  const count = geometry.attributes.position.count;
  geometry.setAttribute('color', new Float32BufferAttribute(new Array(count).fill([c.r, c.g, c.b]).flat(), 3));
  return geometry;
}

function figure(colour) {
  if (!figures.has(colour)) {
    figures.set(colour, mergeGeometries([
      painted(new CylinderGeometry(0.2, 0.24, 1.3, 12).translate(0, -0.95, 0), colour),
      painted(new SphereGeometry(0.16, 16, 12), '#f1d3b3'),
      painted(new BoxGeometry(0.2, 0.06, 0.06).translate(0, 0.02, -0.14), '#222222'),
    ]));
  }
  return figures.get(colour);
}

function label(text) {
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d');
  const font = '28px "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
  ctx.font = font;
  const width = Math.min(512, Math.ceil(ctx.measureText(text).width) + 24);
  canvas.width = width;
  canvas.height = 44;
  ctx.font = font;
  ctx.fillStyle = 'rgba(20, 20, 20, 0.7)';
  ctx.fillRect(0, 0, width, 44);
  ctx.fillStyle = '#fff';
  ctx.textBaseline = 'middle';
  ctx.fillText(text, 12, 23); // drawn, never parsed
  const texture = new CanvasTexture(canvas);
  texture.colorSpace = SRGBColorSpace;
  const sprite = new Sprite(new SpriteMaterial({ map: texture, depthWrite: false }));
  sprite.scale.set(width / 160, 44 / 160, 1);
  sprite.position.y = 0.42;
  sprite.renderOrder = 10;
  return sprite;
}

export class Avatars {
  constructor(scene) {
    this.scene = scene;
    this.members = new Map(); // id -> {info, group, target, yaw, seen}
  }

  setInfo(info) {
    const entry = this.members.get(info.id);
    if (entry) {
      entry.info = info;
      return;
    }
    this.members.set(info.id, { info, group: null, target: null, yaw: 0, targetYaw: 0 });
  }

  remove(id) {
    const entry = this.members.get(id);
    if (!entry) return;
    if (entry.group) {
      this.scene.remove(entry.group);
      entry.group.traverse((node) => {
        if (node.isSprite) { node.material.map.dispose(); node.material.dispose(); }
      });
    }
    this.members.delete(id);
  }

  clear() {
    for (const id of [...this.members.keys()]) this.remove(id);
  }

  /** A pose from the hub: head position in hall metres, hall-frame quaternion, flags. */
  pose(id, position, quaternion, flags) {
    let entry = this.members.get(id);
    if (!entry) {
      entry = { info: { id, name: `#${id}`, role: 'member' }, group: null };
      this.members.set(id, entry);
    }
    const target = toThree(position);
    euler.setFromQuaternion(quaternionToThree(quaternion), 'YXZ');
    entry.targetYaw = euler.y;
    entry.flags = flags;
    if (!entry.group) {
      entry.group = this.build(entry.info, flags);
      entry.group.position.copy(target);
      entry.yaw = entry.targetYaw;
      this.scene.add(entry.group);
    }
    entry.target = target;
  }

  build(info, flags) {
    const trainer = info.role === 'trainer' || (flags & FLAG_TRAINER);
    const colour = trainer ? TRAINER : COLOURS[info.id % COLOURS.length];
    const group = new Group();
    group.name = `avatar:${info.id}`;
    group.add(new Mesh(figure(colour), MATERIAL), label(info.name));
    return group;
  }

  /** Ease every avatar toward its target; draw only the nearest names. */
  update(dt, camera) {
    const k = 1 - Math.exp(-dt * 10);
    const shown = [];
    if (camera) camera.getWorldPosition(eye);
    for (const entry of this.members.values()) {
      if (!entry.group || !entry.target) continue;
      entry.group.position.lerp(entry.target, k);
      let delta = entry.targetYaw - entry.yaw;
      delta = Math.atan2(Math.sin(delta), Math.cos(delta));
      entry.yaw += delta * k;
      entry.group.rotation.y = entry.yaw;
      const sprite = entry.group.children[1];
      const distance = camera ? entry.group.position.distanceTo(eye) : 0;
      sprite.visible = false;
      if (distance <= LABEL_DISTANCE) shown.push([distance, sprite]);
    }
    shown.sort((a, b) => a[0] - b[0]);
    for (const [, sprite] of shown.slice(0, MAX_LABELS)) sprite.visible = true;
  }

  list() {
    return [...this.members.values()].map((entry) => ({
      id: entry.info.id, name: entry.info.name, role: entry.info.role,
      position: entry.group ? [entry.group.position.x, -entry.group.position.z, entry.group.position.y] : null,
    }));
  }
}

