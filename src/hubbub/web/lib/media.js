// What an attachment is, as the page treats it (pure functions of the server's attachment
// objects, docs/protocol.md: {media_id, content_type, size, filename?, width?, height?}).
// Inline kinds match the server's (core/media.py INLINE): raster images show as a
// thumbnail, audio and video play in the page, everything else is a download.
import { fmtSize } from './format.js';

export const MAX_ATTACHMENTS = 10; // per message (the server's limit)
const IMAGES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

export function mediaKind(att) {
  const t = String((att && att.content_type) || '').toLowerCase();
  if (IMAGES.has(t)) return 'image';
  if (t.startsWith('video/')) return 'video';
  if (t.startsWith('audio/')) return 'audio';
  return 'file';
}

// width x height scaled down (never up) to fit inside maxW x maxH, aspect ratio kept.
export function fitBox(width, height, maxW, maxH) {
  if (!(width > 0) || !(height > 0)) return null;
  const scale = Math.min(1, maxW / width, maxH / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

export const fileName = (att) => (att && att.filename) || 'file';
export const fileLabel = (att) => `${fileName(att)} · ${fmtSize(att.size)}`;

const ICONS = { image: '📷', video: '🎥', audio: '🎵', file: '📎' };
const NOUNS = { image: ['Photo', 'photos'], video: ['Video', 'videos'], audio: ['Audio', 'audio files'] };

// The conversation list's (and a notification's) words for a message's attachments:
// "📷 Photo", "📷 3 photos", "🎵 Audio", "📎 report.pdf", "📎 4 files"; '' for none.
export function attachmentsLabel(atts) {
  if (!atts || !atts.length) return '';
  const kinds = atts.map(mediaKind);
  const kind = kinds.every((k) => k === kinds[0]) ? kinds[0] : 'file';
  const icon = ICONS[kind];
  if (atts.length === 1) return `${icon} ${kind === 'file' ? fileName(atts[0]) : NOUNS[kind][0]}`;
  return `${icon} ${atts.length} ${kind === 'file' ? 'files' : NOUNS[kind][1]}`;
}
