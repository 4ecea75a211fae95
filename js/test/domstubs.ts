// jsdom has no layout: give the log scroller a 400 px viewport, rows 20 px, and a working
// scrollTop clamped to the spacer height.
const tops = new WeakMap<Element, number>();

function spacerHeight(el: Element): number {
  const sp = el.querySelector(".raynb-log-spacer") as HTMLElement | null;
  return sp ? parseFloat(sp.style.height) || 0 : 0;
}

export function installLayoutStubs(): void {
  const proto = HTMLElement.prototype as any;
  Object.defineProperty(proto, "clientHeight", {
    configurable: true,
    get() {
      return this.classList.contains("raynb-log") ? 400 : 0;
    },
  });
  Object.defineProperty(proto, "scrollHeight", {
    configurable: true,
    get() {
      return this.classList.contains("raynb-log") ? Math.max(400, spacerHeight(this)) : 0;
    },
  });
  Object.defineProperty(proto, "scrollTop", {
    configurable: true,
    get() {
      return tops.get(this) ?? 0;
    },
    set(v: number) {
      const max = Math.max(0, (this as HTMLElement).scrollHeight - (this as HTMLElement).clientHeight);
      tops.set(this, Math.max(0, Math.min(v, max)));
    },
  });
  proto.getBoundingClientRect = function () {
    const h = this.classList.contains("raynb-log-line") ? 20 : 0;
    return { x: 0, y: 0, top: 0, left: 0, right: 0, bottom: h, width: 0, height: h, toJSON() {} };
  };
}

/** Scrolls like a user: sets scrollTop and fires the scroll event. */
export function userScroll(el: HTMLElement, top: number): void {
  el.scrollTop = top;
  el.dispatchEvent(new Event("scroll"));
}
