// jsfive ships no types; the part seq-tag uses (src/model/keras/hdf5.ts).
declare module 'jsfive' {
  export class File {
    constructor(buffer: ArrayBuffer, filename: string);
    get(path: string): unknown;
    readonly keys: string[];
    readonly attrs: Record<string, unknown>;
  }
}
