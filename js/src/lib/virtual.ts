// Fixed-row-height virtual scrolling math.
//
// Browsers cap an element's height (about 17.9 M px in Firefox, 33.5 M px in Chrome), so a
// list taller than MAX_SCROLL_PX gets a spacer of MAX_SCROLL_PX and scroll positions are
// scaled: 1 px of scrollbar moves `ratio` px of content.

export const MAX_SCROLL_PX = 8_000_000;

export interface Layout {
  /** Spacer height (px). */
  total: number;
  /** Content px per scrollbar px (1 unless the list is taller than MAX_SCROLL_PX). */
  ratio: number;
  /** Rows to render: [first, last). */
  first: number;
  last: number;
  /** Top (px, within the spacer) of row i, for i in [first, last). */
  top(i: number): number;
  /** Content offset of the viewport's top edge (px). */
  contentTop: number;
}

export function computeLayout(
  count: number,
  rowHeight: number,
  viewHeight: number,
  scrollTop: number,
  overscan = 6,
  maxPx = MAX_SCROLL_PX,
): Layout {
  const content = count * rowHeight;
  const total = Math.min(content, maxPx);
  const ratio = content > total && total > viewHeight ? (content - viewHeight) / (total - viewHeight) : 1;
  const st = Math.max(0, Math.min(scrollTop, Math.max(0, total - viewHeight)));
  const contentTop = st * ratio;
  const first = Math.max(0, Math.floor(contentTop / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((contentTop + viewHeight) / rowHeight) + overscan);
  return { total, ratio, first, last, contentTop, top: (i) => i * rowHeight - contentTop + st };
}

/** scrollTop that puts content offset `contentTop` at the viewport's top edge. */
export function scrollTopFor(
  contentTop: number,
  count: number,
  rowHeight: number,
  viewHeight: number,
  maxPx = MAX_SCROLL_PX,
): number {
  const { total, ratio } = computeLayout(count, rowHeight, viewHeight, 0, 0, maxPx);
  return Math.max(0, Math.min(contentTop / ratio, Math.max(0, total - viewHeight)));
}
