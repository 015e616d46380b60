// placeholder until vncsynth's layout is known
export const STAMP = { x: 0, y: 0, width: 64, height: 16 };
export function decodeStamp(data) { return data[0] + data[1] * 256; }
