// Other members as simple figures with a name label, eased toward their latest pose.
import {
  CanvasTexture, CylinderGeometry, Group, Mesh, MeshLambertMaterial, SphereGeometry, Sprite, SpriteMaterial,
  SRGBColorSpace, BoxGeometry, Euler,
} from 'three';
import { quaternionToThree, toThree } from './coords.js';

const BODY = new CylinderGeometry(0.2, 0.24, 1.3, 12).translate(0, -0.95, 0);
const HEAD = new SphereGeometry(0.16, 16, 12);
const VISOR = new BoxGeometry(0.2, 0.06, 0.06).translate(0, 0.02, -0.14);
const COLOURS = ['#c0392b', '#2e86c1', '#27ae60', '#8e44ad', '#d35400', '#16a085', '#7f8c8d', '#2c3e50'];
const TRAINER = '#d4a017';
const materials = new Map();
const euler = new Euler(0, 0, 0, 'YXZ');

function material(colour) {
  if (!materials.has(colour)) materials.set(colour, new MeshLambertMaterial({ color: colour }));
  return materials.get(colour);
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
    const trainer = info.role === 'trainer' || (flags & 1);
    const colour = trainer ? TRAINER : COLOURS[info.id % COLOURS.length];
    const group = new Group();
    group.name = `avatar:${info.id}`;
    const body = new Mesh(BODY, material(colour));
    const head = new Mesh(HEAD, material('#f1d3b3'));
    const visor = new Mesh(VISOR, material('#222'));
    group.add(body, head, visor, label(info.name));
    return group;
  }

  /** Ease every avatar toward its target. */
  update(dt) {
    const k = 1 - Math.exp(-dt * 10);
    for (const entry of this.members.values()) {
      if (!entry.group || !entry.target) continue;
      entry.group.position.lerp(entry.target, k);
      let delta = entry.targetYaw - entry.yaw;
      delta = Math.atan2(Math.sin(delta), Math.cos(delta));
      entry.yaw += delta * k;
      entry.group.rotation.y = entry.yaw;
    }
  }

  list() {
    return [...this.members.values()].map((entry) => ({
      id: entry.info.id, name: entry.info.name, role: entry.info.role,
      position: entry.group ? [entry.group.position.x, -entry.group.position.z, entry.group.position.y] : null,
    }));
  }
}

