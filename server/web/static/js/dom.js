// DOM helpers. Text always goes in through textContent / text nodes: hall
// content comes from YAML and member names from other people, never HTML.

/** Create an element: el('button', {class: 'x', text: '…', onclick}, child, 'text', …). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'checked' || key === 'value' || key === 'disabled' || key === 'selected') node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

/** Append children (nodes or strings, nested arrays allowed; null skipped). */
export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Replace all children of `node`. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/** Paragraphs for a text with blank-line or newline breaks. */
export function paragraphs(text) {
  return String(text || '').split(/\n+/).filter((line) => line.trim()).map((line) => el('p', { text: line }));
}

/** True when keyboard focus is in a field that takes typed text. */
export function typingInField(event) {
  const target = event.target;
  if (!(target instanceof Element)) return false;
  return target.closest('input, textarea, select, [contenteditable="true"]') !== null;
}

/** Kind of a media file from its name: image, audio, video or null. */
export function mediaKind(name) {
  const ext = String(name || '').toLowerCase().split('.').pop();
  if (['png', 'jpg', 'jpeg', 'webp', 'gif'].includes(ext)) return 'image';
  if (['ogg', 'mp3', 'wav', 'm4a'].includes(ext)) return 'audio';
  if (['mp4', 'webm'].includes(ext)) return 'video';
  return null;
}
