// A bubble's text: links and simple formatting (lib/markup.js, DOM nodes only).
import { renderMarkup } from '../lib/markup.js';

export function fillBody(body, text) {
  body.replaceChildren(renderMarkup(text));
}
