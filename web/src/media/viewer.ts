// The browser's viewer identity: a random id kept in local storage so control survives a
// reconnect or a reload, and a display name others see ("who holds control").

export interface Me {
  id: string;
  name: string;
}

function stored(key: string, make: () => string): string {
  try {
    const v = localStorage.getItem(key);
    if (v) return v;
    const n = make();
    localStorage.setItem(key, n);
    return n;
  } catch {
    return make();
  }
}

export function loadMe(): Me {
  const id = stored("loco.viewer", () => `v-${crypto.randomUUID().slice(0, 8)}`);
  const fromURL = new URLSearchParams(location.search).get("name");
  const name = fromURL || stored("loco.name", () => `Player ${id.slice(2, 6)}`);
  return { id, name };
}

export function saveName(name: string): void {
  try {
    localStorage.setItem("loco.name", name);
  } catch {
    // private mode: the name lasts for this page only
  }
}
