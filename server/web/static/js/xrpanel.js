// A panel for VR: text and buttons drawn on a canvas texture (DOM overlays
// are not visible in a headset).  A laser hit's UV picks the button.
import { CanvasTexture, Mesh, MeshBasicMaterial, PlaneGeometry, SRGBColorSpace } from 'three';

const W = 1024;
const H = 768;
const FONT = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';

export class XRPanel {
  constructor() {
    this.canvas = document.createElement('canvas');
    this.canvas.width = W;
    this.canvas.height = H;
    this.ctx = this.canvas.getContext('2d');
    this.texture = new CanvasTexture(this.canvas);
    this.texture.colorSpace = SRGBColorSpace;
    this.mesh = new Mesh(new PlaneGeometry(1.2, 0.9),
      new MeshBasicMaterial({ map: this.texture, transparent: true, depthTest: false }));
    this.mesh.renderOrder = 100; // over the scenery: a UI layer
    this.mesh.name = 'xr-panel';
    this.mesh.visible = false;
    this.buttons = [];
    this.labels = [];
  }

  /** content: {title, text, buttons: [{label, action, selected}]} */
  show(content) {
    const ctx = this.ctx;
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = 'rgba(250, 246, 238, 0.96)';
    ctx.fillRect(0, 0, W, H);
    ctx.fillStyle = '#b22222';
    ctx.fillRect(0, 0, W, 12);
    ctx.fillStyle = '#222';
    ctx.font = `bold 44px ${FONT}`;
    let y = this.wrap(content.title || '', 40, 76, W - 80, 52, 2);
    ctx.font = `30px ${FONT}`;
    const buttonRows = (content.buttons || []).length;
    const textBottom = H - 40 - buttonRows * 70;
    y = this.wrap(content.text || '', 40, y + 20, W - 80, 40, Math.max(1, Math.floor((textBottom - y) / 40)));
    this.buttons = [];
    this.labels = (content.buttons || []).map((button) => button.label);
    this.title = content.title || '';
    let by = H - 30 - buttonRows * 70;
    for (const button of content.buttons || []) {
      ctx.fillStyle = button.selected ? '#b22222' : '#e8e0d0';
      ctx.fillRect(40, by, W - 80, 58);
      ctx.fillStyle = button.selected ? '#fff' : '#222';
      ctx.font = `30px ${FONT}`;
      ctx.fillText(button.label, 60, by + 40);
      this.buttons.push({ y0: by, y1: by + 58, action: button.action });
      by += 70;
    }
    this.texture.needsUpdate = true;
    this.mesh.visible = true;
  }

  hide() {
    this.mesh.visible = false;
    this.buttons = [];
    this.labels = [];
  }

  /** The button under a hit's uv, or null. */
  hit(uv) {
    const y = (1 - uv.y) * H;
    const x = uv.x * W;
    if (x < 40 || x > W - 40) return null;
    const button = this.buttons.find((b) => y >= b.y0 && y <= b.y1);
    return button ? button.action : null;
  }

  // Wrap text character by character (CJK has no spaces); returns the next baseline.
  wrap(text, x, y, width, lineHeight, maxLines) {
    const ctx = this.ctx;
    let line = '';
    let lines = 0;
    for (const char of String(text)) {
      if (char === '\n' || ctx.measureText(line + char).width > width) {
        ctx.fillText(line, x, y);
        y += lineHeight;
        lines += 1;
        line = char === '\n' ? '' : char;
        if (lines >= maxLines) return y;
      } else {
        line += char;
      }
    }
    if (line) { ctx.fillText(line, x, y); y += lineHeight; }
    return y;
  }
}
