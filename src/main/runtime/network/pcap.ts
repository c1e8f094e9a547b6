// Frames from a `vde_plug` on a hub (its stdout: each frame as a 2-byte big-endian length, then the
// frame) and the classic pcap format they are written in (readable by Wireshark, tcpdump, tshark).

/** Largest Ethernet frame a VDE switch carries (with room for VLAN tags). */
const MAX_FRAME = 65_535;

export const PCAP_SNAPLEN = 262_144;
const LINKTYPE_ETHERNET = 1;

/** Splits the vde_plug stream into frames, tolerating chunks that cut a frame or its length. */
export function vdeFrameReader(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let offset = 0;
    while (pending.length - offset >= 2) {
      const length = pending.readUInt16BE(offset);
      if (length > MAX_FRAME) break;
      if (pending.length - offset - 2 < length) break;
      onFrame(pending.subarray(offset + 2, offset + 2 + length));
      offset += 2 + length;
    }
    pending = pending.subarray(offset);
  };
}

/** The 24-byte pcap global header (microsecond timestamps, Ethernet). */
export function pcapHeader(): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeInt32LE(0, 8); // thiszone
  b.writeUInt32LE(0, 12); // sigfigs
  b.writeUInt32LE(PCAP_SNAPLEN, 16);
  b.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  return b;
}

/** One pcap record: 16-byte header + the frame. `timeUs` is microseconds since the epoch. */
export function pcapRecord(frame: Buffer, timeUs: number): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32LE(Math.floor(timeUs / 1e6), 0);
  header.writeUInt32LE(Math.floor(timeUs % 1e6), 4);
  header.writeUInt32LE(frame.length, 8);
  header.writeUInt32LE(frame.length, 12);
  return Buffer.concat([header, frame]);
}
