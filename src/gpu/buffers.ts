// GPU buffer creation, upload and read-back. Storage buffers are always COPY_SRC | COPY_DST so any of
// them can be uploaded to, read back or copied; sizes are rounded up to 4 bytes (WebGPU's copy granule).

// Read at call time, not import time: in Node the GPUBufferUsage global exists only once src/gpu/node-webgpu.ts ran.
export const storageUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** The size createStorage gives a buffer asked for `bytes` (what the memory plan counts). */
export function storageBytes(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

export function createStorage(device: GPUDevice, bytes: number, label: string): GPUBuffer {
  return device.createBuffer({ label, size: storageBytes(bytes), usage: storageUsage() });
}

/** A new storage buffer holding `data` (padded with zeros to a multiple of 4 bytes). */
export function uploadStorage(device: GPUDevice, data: ArrayBufferView, label: string): GPUBuffer {
  const buffer = createStorage(device, data.byteLength, label);
  writeStorage(device, buffer, 0, data);
  return buffer;
}

/** queue.writeBuffer for any typed array, padding a tail that is not a multiple of 4 bytes. */
export function writeStorage(device: GPUDevice, buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
  let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.byteLength % 4) {
    const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
    padded.set(bytes);
    bytes = padded;
  }
  device.queue.writeBuffer(buffer, offset, bytes as Uint8Array<ArrayBuffer>);
}

/** Copies `size` bytes at `offset` of a storage buffer into a fresh ArrayBuffer (waits for the GPU). */
export async function readStorage(device: GPUDevice, src: GPUBuffer, offset = 0, size = src.size - offset): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ label: 'read-back', size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(src, offset, staging, 0, size);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    return staging.getMappedRange().slice(0);
  } finally {
    staging.destroy();
  }
}
