// R2 reads for the Go engine (cmd/edge/r2_js.go).
//
// syscall/js keeps every JS object Go has touched alive until Go's GC
// finalizes the Go value, and Go's own heap here barely grows, so its GC
// seldom runs. A range body that Go fetched itself (an ArrayBuffer per get,
// up to 16 MiB) would therefore stay in the isolate, which on Cloudflare
// has 128 MB. Fetched here instead, a body goes into the buffer of a
// "slot" that Go holds; Go only ever sees the slot, numbers and small
// views, and the slot's buffer is reused from one get to the next.

const r2io = {
  // newSlot makes an empty slot: a holder for one reused read buffer.
  newSlot() {
    return { buf: new ArrayBuffer(0) };
  },

  // fetchInto reads length bytes of key at offset into the start of the
  // slot's buffer (grown when too small) and resolves to the number of
  // bytes read, or -1 when there is no such object. The body is read with
  // a BYOB reader straight into the buffer: each read moves the buffer's
  // memory into a new ArrayBuffer and empties the old one, so a view Go
  // kept from an earlier fetch holds no memory.
  async fetchInto(bucket, key, offset, length, slot) {
    const obj = await bucket.get(key, { range: { offset, length } });
    if (obj === null) return -1;
    let buf = slot.buf.byteLength >= length ? slot.buf : new ArrayBuffer(length);
    slot.buf = new ArrayBuffer(0); // in case a read fails after taking buf
    const reader = obj.body.getReader({ mode: "byob" });
    let got = 0;
    let done = false;
    while (got < length) {
      const r = await reader.read(new Uint8Array(buf, got, length - got));
      // A closed stream may hand back no view at all: start a new buffer.
      buf = r.value ? r.value.buffer : new ArrayBuffer(length);
      if (r.done) {
        done = true;
        break;
      }
      got += r.value.byteLength;
    }
    if (!done) reader.cancel().catch(() => {}); // the range is all read
    slot.buf = buf;
    return got;
  },

  // view is a Uint8Array over n bytes of the slot's buffer from from.
  view(slot, from, n) {
    return new Uint8Array(slot.buf, from, n);
  },

  // copyOut copies n bytes of the slot's buffer from from into target (a
  // Uint8Array) at at.
  copyOut(slot, from, n, target, at) {
    target.set(new Uint8Array(slot.buf, from, n), at);
  },
};

globalThis.ckptpackR2 = r2io;
