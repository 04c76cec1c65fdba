// Walls for walking, derived from the manifest: each room's rectangle minus
// its doorway openings.  Walls stand 0.2 m inside the room bounds (rooms
// sharing a boundary stand back to back), so a doorway is a short passage
// with jambs on both sides.  All in hall coordinates (x east, y north).
import { BODY_RADIUS } from './contract.js';

export const WALL = 0.2;
const ON_EDGE = 0.05;

/** {segments, portals, rooms} for a manifest. */
export function buildWalls(manifest) {
  const segments = [];
  const portals = [];
  const doorways = manifest.doorways || [];
  for (const room of manifest.rooms || []) {
    const [x0, y0] = room.bounds.min;
    const [x1, y1] = room.bounds.max;
    // side: boundary line, inner face, span along it, and which coordinate runs along it
    const sides = [
      { axis: 'y', line: y1, inner: y1 - WALL, from: x0 + WALL, to: x1 - WALL, lo: x0, hi: x1, out: 1 },
      { axis: 'y', line: y0, inner: y0 + WALL, from: x0 + WALL, to: x1 - WALL, lo: x0, hi: x1, out: -1 },
      { axis: 'x', line: x1, inner: x1 - WALL, from: y0 + WALL, to: y1 - WALL, lo: y0, hi: y1, out: 1 },
      { axis: 'x', line: x0, inner: x0 + WALL, from: y0 + WALL, to: y1 - WALL, lo: y0, hi: y1, out: -1 },
    ];
    for (const side of sides) {
      const openings = [];
      for (const door of doorways) {
        const across = side.axis === 'y' ? door.position[1] : door.position[0];
        const along = side.axis === 'y' ? door.position[0] : door.position[1];
        if (Math.abs(across - side.line) > ON_EDGE || along < side.lo - ON_EDGE || along > side.hi + ON_EDGE) continue;
        const half = door.width / 2;
        openings.push([along - half, along + half]);
        for (const edge of [along - half, along + half]) segments.push(segment(side, edge, side.inner, edge, side.line));
        if (door.to_hall && door.room === room.id) {
          portals.push({ hall: door.to_hall, room: room.id, axis: side.axis, line: side.line, out: side.out,
            from: along - half, to: along + half, position: door.position });
        }
      }
      openings.sort((a, b) => a[0] - b[0]);
      let start = side.from;
      for (const [a, b] of openings) {
        if (a > start) segments.push(segment(side, start, side.inner, a, side.inner));
        start = Math.max(start, b);
      }
      if (side.to > start) segments.push(segment(side, start, side.inner, side.to, side.inner));
    }
  }
  return { segments, portals, rooms: manifest.rooms || [] };
}

// (along, across) pairs on a side -> a segment in x/y.
function segment(side, a1, c1, a2, c2) {
  return side.axis === 'y' ? [a1, c1, a2, c2] : [c1, a1, c2, a2];
}

/** The room containing hall point (x, y), or null. */
export function roomAt(rooms, x, y) {
  for (const room of rooms) {
    const [x0, y0] = room.bounds.min;
    const [x1, y1] = room.bounds.max;
    if (x >= x0 && x <= x1 && y >= y0 && y <= y1) return room;
  }
  return null;
}

/** Where a walker of `radius` at `from` ends up trying to go to `to`: slides along walls, never through. */
export function collide(walls, from, to, radius = BODY_RADIUS) {
  let x = from[0];
  let y = from[1];
  const dx = to[0] - x;
  const dy = to[1] - y;
  const steps = Math.max(1, Math.ceil(Math.hypot(dx, dy) / (radius * 0.5)));
  for (let i = 0; i < steps; i++) {
    let nx = x + dx / steps;
    let ny = y + dy / steps;
    for (let pass = 0; pass < 3; pass++) {
      for (const s of walls.segments) {
        const [qx, qy] = closestPoint(s, nx, ny);
        const ex = nx - qx;
        const ey = ny - qy;
        const d = Math.hypot(ex, ey);
        if (d >= radius) continue;
        if (d > 1e-6) {
          nx = qx + (ex / d) * radius;
          ny = qy + (ey / d) * radius;
        } else {
          nx = x;
          ny = y;
        }
      }
    }
    if (walls.segments.some((s) => crosses(s, x, y, nx, ny))) break;
    x = nx;
    y = ny;
  }
  return [x, y];
}

/** The portal (doorway to another hall) that the move from -> to walks out through, or null. */
export function portalCrossed(walls, from, to) {
  for (const portal of walls.portals) {
    const i = portal.axis === 'y' ? 1 : 0;
    const j = 1 - i;
    const before = (from[i] - portal.line) * portal.out;
    const after = (to[i] - portal.line) * portal.out;
    if (before <= 0 && after > 0 && to[j] >= portal.from && to[j] <= portal.to) return portal;
  }
  return null;
}

function closestPoint([ax, ay, bx, by], px, py) {
  const vx = bx - ax;
  const vy = by - ay;
  const length = vx * vx + vy * vy;
  const t = length > 0 ? Math.min(1, Math.max(0, ((px - ax) * vx + (py - ay) * vy) / length)) : 0;
  return [ax + t * vx, ay + t * vy];
}

function crosses([ax, ay, bx, by], px, py, qx, qy) {
  const d1 = orient(ax, ay, bx, by, px, py);
  const d2 = orient(ax, ay, bx, by, qx, qy);
  const d3 = orient(px, py, qx, qy, ax, ay);
  const d4 = orient(px, py, qx, qy, bx, by);
  return d1 * d2 < 0 && d3 * d4 < 0;
}

function orient(ax, ay, bx, by, cx, cy) {
  return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
}
