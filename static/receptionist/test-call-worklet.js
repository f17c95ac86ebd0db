"use strict";
// The microphone as a phone line hears it: 8 kHz mu-law, 160 samples (20 ms) a frame.

const LINE_RATE = 8000;
const FRAME_SAMPLES = 160;
const BIAS = 0x84;
const CLIP = 32635;

function ulaw(sample) {
  let s = Math.max(-1, Math.min(1, sample)) * 32767 | 0;
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  s = Math.min(s, CLIP) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

class PhoneLine extends AudioWorkletProcessor {
  constructor() {
    super();
    // The context runs at the sound card's rate (often 48 kHz): averaging each line sample's share of
    // input samples is the low-pass that keeps speech intelligible at 8 kHz.
    this.step = sampleRate / LINE_RATE;
    this.position = 0;
    this.sum = 0;
    this.count = 0;
    this.frame = new Uint8Array(FRAME_SAMPLES);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      this.sum += channel[i];
      this.count++;
      this.position++;
      if (this.position >= this.step) {
        this.position -= this.step;
        this.frame[this.filled++] = ulaw(this.sum / this.count);
        this.sum = 0;
        this.count = 0;
        if (this.filled === FRAME_SAMPLES) {
          this.port.postMessage(this.frame.slice());
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("phone-line", PhoneLine);
