// The one place where hall coordinates become three.js coordinates.
// Manifests are Z-up metres (x east, y north); three.js is Y-up with north
// along -Z, so (x, y, z) -> (x, z, -y).  Headings are counter-clockwise about
// the up axis in both frames (0 = facing north), so they map to rotation.y as is.
import { Quaternion, Vector3 } from 'three';

export function toThree(point, out = new Vector3()) {
  return out.set(point[0], point[2] ?? 0, -point[1]);
}

export function toHall(vector) {
  return [vector.x, -vector.z, vector.y];
}

export const headingToYaw = (degrees) => (degrees * Math.PI) / 180;

export function yawToHeading(yaw) {
  const degrees = (yaw * 180) / Math.PI;
  return ((degrees % 360) + 360) % 360;
}

/** Yaw (rotation.y) that faces from hall point `from` toward hall point `to`. */
export function yawToward(from, to) {
  return Math.atan2(-(to[0] - from[0]), to[1] - from[1]);
}

// Frame change for orientations: three = C * hall, C a -90 degree turn about X.
const C = new Quaternion().setFromAxisAngle(new Vector3(1, 0, 0), -Math.PI / 2);
const C_INV = C.clone().invert();

/** A three.js world quaternion as [x, y, z, w] in the hall frame. */
export function quaternionToHall(q) {
  const h = C_INV.clone().multiply(q).multiply(C);
  return [h.x, h.y, h.z, h.w];
}

/** A hall-frame [x, y, z, w] as a three.js quaternion. */
export function quaternionToThree(q, out = new Quaternion()) {
  return out.copy(C).multiply(new Quaternion(q[0], q[1], q[2], q[3])).multiply(C_INV);
}
