/**
 * Splits a program's streamed output into records without holding more than one record: lines
 * (plain output), or JSON objects (JSON output). JSON output may be ma1sd's bulk answer
 * `{"lookup": [item, …]}` (one document, as long as the directory), a bare array `[item, …]`,
 * or JSON lines (one item object per line): the items are the objects found at the top level or
 * directly inside an array that is at the top level or a value of the top-level object.
 */
import { ExecError } from './command.js';

/** Lines without their line break (LF or CRLF); empty lines are skipped. */
export async function* lines(chunks: AsyncIterable<string>, maxLineBytes: number): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of chunks) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    if (rest.length > maxLineBytes) throw new ExecError(`a line of output is longer than ${maxLineBytes} bytes`);
    for (const line of parts) {
      const text = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (text.trim()) yield text;
    }
  }
  if (rest.trim()) yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
}

/** The item objects of a JSON output, parsed one at a time (see the file comment). */
export async function* jsonItems(chunks: AsyncIterable<string>, maxItemBytes: number): AsyncGenerator<unknown> {
  /** Open containers: '{' or '['. */
  const stack: string[] = [];
  let inString = false;
  let escaped = false;
  /** The item being read: its text so far, and the depth its closing brace returns to. */
  let item: string[] | null = null;
  let itemSize = 0;
  let itemDepth = -1;
  /** Whether the item being read is a top-level object, which may turn out to be a wrapper. */
  let topLevel = false;
  for await (const chunk of chunks) {
    let from = item ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '{') {
        const parent = stack.length === 0 ? null : stack[stack.length - 1];
        const inListing = parent === '[' && (stack.length === 1 || (stack.length === 2 && stack[0] === '{'));
        if (!item && (parent === null || inListing)) {
          item = [];
          itemSize = 0;
          from = i;
          itemDepth = stack.length;
          topLevel = parent === null;
        }
        stack.push(c);
      } else if (c === '[') {
        // An array directly in a top-level object: that object is a wrapper, its items are inside.
        if (item && topLevel && stack.length === 1) {
          item = null;
          from = -1;
        }
        stack.push(c);
      } else if (c === '}' || c === ']') {
        if (stack.pop() === undefined) throw new ExecError('the output is not JSON (unbalanced brackets)');
        if (item && c === '}' && stack.length === itemDepth) {
          item.push(chunk.slice(from, i + 1));
          const text = item.join('');
          item = null;
          from = -1;
          let value: unknown;
          try {
            value = JSON.parse(text);
          } catch {
            throw new ExecError('the output is not JSON (an item does not parse)');
          }
          yield value;
        }
      }
    }
    if (item && from >= 0) {
      const part = chunk.slice(from);
      itemSize += part.length;
      if (itemSize > maxItemBytes) throw new ExecError(`an item of output is longer than ${maxItemBytes} bytes`);
      item.push(part);
    }
  }
  if (stack.length > 0 || inString) throw new ExecError('the output is not JSON (it ends inside a value)');
}
