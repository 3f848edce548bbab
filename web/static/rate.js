// Speed and time left of a transfer, for progress lines ("12.0 MiB of
// 200.0 MiB · 48.2 MiB/s · 4 s left"). No DOM.

import { formatSize } from './format.js';

/** window is how far back the speed looks (ms): recent enough to follow a change. */
export const rateWindow = 3000;

/**
 * Rate estimates a transfer's speed from (bytes so far, time) samples over
 * the last rateWindow ms. now is injectable for tests.
 */
export class Rate {
  constructor(now = () => Date.now()) {
    this.now = now;
    this.samples = []; // [t, bytes], oldest first
  }

  /** add records that bytes (the total so far) had arrived at now(). */
  add(bytes) {
    const t = this.now();
    this.samples.push([t, bytes]);
    while (this.samples.length > 2 && t - this.samples[0][0] > rateWindow) this.samples.shift();
  }

  /** speed is bytes per second, or 0 until two samples are 200 ms apart. */
  speed() {
    const s = this.samples;
    if (s.length < 2) return 0;
    const [t0, b0] = s[0];
    const [t1, b1] = s[s.length - 1];
    if (t1 - t0 < 200) return 0;
    return Math.max(0, ((b1 - b0) * 1000) / (t1 - t0));
  }

  /** left is the seconds left to reach size, or null when not known. */
  left(size) {
    const v = this.speed();
    const s = this.samples;
    if (!v || !(size > 0) || s.length === 0) return null;
    return Math.max(0, (size - s[s.length - 1][1]) / v);
  }
}

/** formatLeft renders seconds left: "4 s", "2 min 5 s", "1 h 3 min". */
export function formatLeft(sec) {
  if (sec === null || !Number.isFinite(sec)) return '';
  const s = Math.ceil(sec);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/**
 * progressText says where a transfer is: "12.0 MiB of 200.0 MiB (6%) ·
 * 48.2 MiB/s · 4 s left"; the speed and time once known.
 */
export function progressText(received, size, rate) {
  const parts = [];
  if (size > 0) parts.push(`${formatSize(received)} of ${formatSize(size)} (${Math.min(100, Math.floor((received / size) * 100))}%)`);
  else parts.push(formatSize(received));
  const v = rate?.speed() || 0;
  if (v > 0) {
    parts.push(`${formatSize(v)}/s`);
    const left = rate.left(size);
    if (left !== null && received < size) parts.push(`${formatLeft(left)} left`);
  }
  return parts.join(' · ');
}
