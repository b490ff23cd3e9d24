// Where checkpoint bytes come from. The checkpoint reader only sees these two interfaces, so it runs the
// same over a Node file handle (sources/node-file.ts), an HTTP range reader or a browser File.

/** Random access to one file's bytes. */
export interface ByteSource {
  /** Shown in errors: a path, URL or file name. */
  readonly name: string;
  /** Total bytes, known up front (safetensors validation checks offsets against it). */
  readonly size: number;
  /**
   * Exactly `length` bytes starting at `offset`, in a fresh array the caller may keep. Throws CheckpointError
   * when the range is outside `size` or the underlying file turns out shorter (truncated).
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

/** A checkpoint folder: the index, config and shards, addressed by file name relative to the folder. */
export interface FolderSource {
  /** Shown in errors: the folder path or base URL. */
  readonly name: string;
  open(fileName: string): Promise<ByteSource>;
  readText(fileName: string): Promise<string>;
  exists(fileName: string): Promise<boolean>;
}
